//! The state shared by every request handler and server function.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::{use_context, LeptosOptions};

use super::{billing::Billing, db::Db, mail::Mailer, storage::Storage};
use crate::error::AppError;

/// Settings the application logic needs at run time (the process configuration stays in `server`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address users reach Slimage at, e.g. `https://slimage.example`; links and origins
    /// are checked against it.
    pub public_url: url::Url,
    /// Take the client's address from the last `X-Forwarded-For` entry (set when a reverse proxy
    /// in front of Slimage adds it); otherwise the TCP peer address is the client.
    pub trust_forwarded_for: bool,
    /// How long a paid plan stays after a failed payment before it falls back (seconds).
    pub billing_grace_secs: i64,
    /// Networks that URL fetches and job callbacks may reach although they are not public
    /// (`OUTBOUND_ALLOWED_NETWORKS`; empty by default).
    pub outbound_allowed: Vec<ipnet::IpNet>,
    /// The largest image the workers compress, in pixels (`MAX_MEGAPIXELS`).
    pub max_pixels: u64,
}

impl Settings {
    /// Whether cookies must be `Secure` (the site is served over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// Everything a handler can reach: built once at startup by the server.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    /// Leptos' rendering options (site root, output name, address).
    pub leptos_options: LeptosOptions,
    /// The database.
    pub db: Db,
    /// File storage.
    pub storage: Storage,
    /// Outgoing email.
    pub mailer: Mailer,
    /// Application settings.
    pub settings: Arc<Settings>,
    /// Stripe, when configured; without it plans are assigned by an operator.
    pub billing: Option<Arc<Billing>>,
}

/// The [`AppState`] inside a server function (provided as context by the server's router).
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        AppError::Internal
    })
}
