//! What a server function knows about its request: the client's address, the session, the
//! signed-in user, and how an error becomes the response's status.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use http::{header, request::Parts, HeaderValue, StatusCode};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use tower_sessions::Session;

use super::{
    accounts::{self, UserRow},
    sessions::AuthSession,
    state::AppState,
};
use crate::error::AppError;

fn parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| {
        tracing::error!("request parts missing from the server function context");
        AppError::Internal
    })
}

/// The client's address: the TCP peer, or the last `X-Forwarded-For` hop when the operator
/// said a proxy adds it (the last hop is the one the proxy saw; earlier ones are client-made).
pub fn client_ip_of(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The calling client's address.
pub fn client_ip(state: &AppState) -> Result<IpAddr, AppError> {
    Ok(client_ip_of(&parts()?, state.settings.trust_forwarded_for))
}

/// The request's session.
pub fn auth_session() -> Result<AuthSession, AppError> {
    let parts = parts()?;
    let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
        tracing::error!("the session layer is missing");
        AppError::Internal
    })?;
    Ok(AuthSession::new(session))
}

/// The signed-in user, if any. A session whose user no longer exists counts as signed out.
pub async fn current_user(state: &AppState) -> Result<Option<UserRow>, AppError> {
    let Some(user_id) = auth_session()?.user_id().await? else {
        return Ok(None);
    };
    accounts::find_by_id(&state.db, user_id).await
}

/// The signed-in user, or `Unauthorized`.
pub async fn require_user(state: &AppState) -> Result<UserRow, AppError> {
    current_user(state).await?.ok_or(AppError::Unauthorized)
}

/// Gives a server function's error its HTTP status and `Retry-After`. A plain HTML form post
/// keeps the redirect back to its page (the error travels in the URL), so only the header is set.
pub fn respond_with(error: AppError) -> AppError {
    let Some(response) = use_context::<ResponseOptions>() else {
        return error;
    };
    if let AppError::TooManyRequests {
        retry_after_secs, ..
    } = &error
    {
        response.insert_header(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    let is_form_post = parts().ok().is_some_and(|p| {
        p.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if !is_form_post {
        if let Ok(status) = StatusCode::from_u16(error.status_code()) {
            response.set_status(status);
        }
    }
    error
}

/// The client's address in a plain axum handler (see [`client_ip_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip_of(
            parts,
            state.settings.trust_forwarded_for,
        )))
    }
}
