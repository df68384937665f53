//! Building the application from its configuration, and running it until shutdown.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use app::{
    error::AppError,
    shell,
    ssr::{
        billing::Billing,
        db::{Db, DbError},
        mail::{MailConfigError, Mailer},
        sessions,
        state::{AppState, Settings},
        storage::{Storage, StorageError},
    },
    App,
};
use axum::{middleware, response::IntoResponse, routing::get, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tokio::{net::TcpListener, task::JoinHandle};
use tower_http::catch_panic::CatchPanicLayer;

use crate::{
    api, api_jobs, api_limits, callbacks, config::Config, csrf, files, health, maintenance,
    openapi, telemetry, tinify, uploads, webhooks, worker,
};

/// Why the server could not start; each names the variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error("DATABASE_URL: {0}")]
    Database(#[from] DbError),
    /// The storage cannot be used.
    #[error("STORAGE_URL/DATA_DIR: {0}")]
    Storage(#[from] StorageError),
    /// The mail settings are unusable.
    #[error("SMTP_URL/MAIL_FROM: {0}")]
    Mail(#[from] MailConfigError),
    /// The Stripe settings are unusable.
    #[error("STRIPE_SECRET_KEY/STRIPE_API_BASE: {0}")]
    Billing(String),
    /// The listening address cannot be bound.
    #[error("LEPTOS_SITE_ADDR: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why the operating system refused.
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

/// Opens the configured database and applies pending migrations.
pub async fn open_database(config: &Config) -> Result<Db, StartupError> {
    let db = Db::connect(config.database_url.expose()).await?;
    db.migrate().await?;
    Ok(db)
}

/// The shared state for `config`: database opened and migrated, storage, mail and billing ready.
/// `local_addr` is where the site is served (the public URL follows it when not configured).
pub async fn build_state(
    config: &Config,
    local_addr: SocketAddr,
) -> Result<AppState, StartupError> {
    let db = open_database(config).await?;
    let storage = Storage::open(&config.storage)?;
    let mailer = match &config.smtp_url {
        Some(url) => Mailer::smtp(url.expose(), &config.mail_from)?,
        None => Mailer::outbox(config.outbox_dir(), &config.mail_from)?,
    };
    let billing = match &config.stripe {
        Some(stripe) => Some(Arc::new(
            Billing::new(stripe).map_err(StartupError::Billing)?,
        )),
        None => {
            tracing::info!(
                "billing is not configured: plans are assigned with `server admin set-plan`"
            );
            None
        }
    };
    let mut public_url = config.public_url.clone();
    if config.public_url_defaulted {
        // Listening on port 0: the site's own origin is the port actually bound.
        let _ = public_url.set_port(Some(local_addr.port()));
    }
    let state = AppState {
        leptos_options: config.leptos_options(local_addr),
        db,
        storage,
        mailer,
        settings: Arc::new(Settings {
            public_url,
            trust_forwarded_for: config.trust_forwarded_for,
            billing_grace_secs: i64::from(config.billing_grace_days) * 86_400,
            outbound_allowed: config.outbound_allowed.clone(),
            max_pixels: u64::from(config.max_megapixels) * 1_000_000,
        }),
        billing,
    };
    Ok(state)
}

/// A built application: listening socket bound, database migrated, router ready.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    workers: usize,
}

impl Application {
    /// Binds the address, opens the database and storage, and builds the router.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(config.site_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.site_addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(StartupError::Serve)?;
        let state = build_state(config, local_addr).await?;
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
            workers: config.workers,
        })
    }

    /// The address actually listened on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state the router was built with.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let maintenance = tokio::spawn(maintenance::run(self.state.clone()));
        let callbacks = tokio::spawn(callbacks::run(self.state.clone()));
        let workers = worker::spawn(&self.state, self.workers);
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        maintenance.abort();
        callbacks.abort();
        // An item a worker was compressing goes back to the queue when its lease runs out.
        workers.iter().for_each(JoinHandle::abort);
        served.map_err(StartupError::Serve)?;
        self.state.db.close().await;
        tracing::info!("shut down cleanly");
        Ok(())
    }
}

/// The application's routes, generated once per process. Generating them sets a process-wide flag
/// in leptos (`SuppressResourceLoad`) under which any resource first polled meanwhile stays pending
/// forever (leptos-rs/leptos#4773): building a second router while another serves pages — as the
/// tests do, many apps in one process — hung a page render now and then. The list is a constant of
/// the application, so computing it once changes nothing else.
fn routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole router: plain routes, then the Leptos pages and server functions, then static files.
pub fn router(state: AppState) -> Router {
    let leptos_options = state.leptos_options.clone();
    let routes = routes();
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    // Routes that authenticate by API key: rate-limited per key, `Compression-Count` on answers.
    let api_routes = Router::new()
        .route("/api/v1/account", get(api::account))
        .route(
            "/shrink",
            axum::routing::post(tinify::shrink).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/output/{id}", get(tinify::output).post(tinify::transform))
        .route(
            "/output/",
            axum::routing::any(|| async { AppError::NotFound }),
        )
        .route(
            "/api/v1/jobs",
            axum::routing::post(api_jobs::create).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/jobs/{id}",
            get(api_jobs::get_job).delete(api_jobs::delete),
        )
        .route("/api/v1/jobs/{id}/archive.zip", get(api_jobs::archive))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            api_limits::enforce,
        ));
    Router::new()
        .merge(api_routes)
        .merge(openapi::routes())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/webhooks/stripe", axum::routing::post(webhooks::stripe))
        // Uploads are limited per file and per batch by the plan while they stream, not by a
        // fixed body size.
        .route(
            "/api/uploads",
            axum::routing::post(uploads::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/api/jobs/{job}", get(files::job).delete(files::delete))
        .route("/api/jobs/{job}/archive.zip", get(files::archive))
        .route("/api/jobs/{job}/items/{item}/{which}", get(files::file))
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { AppError::NotFound }),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(sessions::layer(
            state.db.clone(),
            state.settings.secure_cookies(),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::require_same_origin,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            AppError::Internal.into_response()
        }))
        .layer(middleware::from_fn(telemetry::request_context))
        .with_state(state)
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal sent right after "listening" is logged is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (terminate, interrupt) {
                (Ok(mut terminate), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {},
                        _ = interrupt.recv() => {},
                    }
                }
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%error, "cannot listen for signals; only Ctrl-C stops the server");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::info!("shutdown requested; finishing in-flight requests");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    }
}
