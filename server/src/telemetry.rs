//! Logging and request ids: every log line written while a request is handled carries its id.

use std::time::Instant;

use app::ssr::request_id;
use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The header that carries the request id, both ways.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global tracing subscriber (human-readable or JSON lines, on stdout).
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|error| {
        eprintln!("slimage: RUST_LOG {filter:?} is not a valid filter ({error}); using \"info\"");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // `try_init` so that a second call (several apps in one test process) is harmless.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Middleware: takes the client's `x-request-id` when it is plain and short, or makes one;
/// handles the request inside a span carrying it; echoes it on the response; logs the outcome.
pub async fn request_context(mut request: Request, next: Next) -> Response {
    let supplied = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok());
    let id = request_id::accept_or_generate(supplied);
    let header = HeaderValue::from_str(&id).expect("accepted request ids are visible ASCII");
    request.headers_mut().insert(X_REQUEST_ID, header.clone());

    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = request_id::scope(id, next.run(request))
        .instrument(span.clone())
        .await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        let latency_ms = started.elapsed().as_millis() as u64;
        if status >= 500 {
            tracing::error!(status, latency_ms, "request failed");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
    });
    response.headers_mut().insert(X_REQUEST_ID, header);
    response
}
