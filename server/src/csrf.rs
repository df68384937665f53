//! Cross-site request forgery: every state-changing request from a browser must come from our
//! own pages. Its `Origin` (or, when a browser sends none, its `Referer`) must be `PUBLIC_URL`'s
//! origin, or the request is refused with 403 before any handler runs.
//!
//! Requests that carry an `Authorization` header are exempt: they authenticate by API key, which
//! a browser never attaches on its own, so a forged request cannot borrow it. So are webhook
//! deliveries (`/webhooks/…`): they carry no cookie and authenticate by signature; and the
//! Tinify-compatible `/shrink` and `/output/…` and the developer API under `/api/v1/`, which
//! authenticate by API key and ignore cookies.

use app::{error::AppError, ssr::state::AppState};
use axum::{
    extract::{Request, State},
    http::{header, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use url::Url;

/// Refuses unsafe requests whose origin is not ours.
pub async fn require_same_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_allowed(&state.settings.public_url, &request) {
        next.run(request).await
    } else {
        tracing::warn!(
            event = "csrf_refused",
            method = %request.method(),
            path = request.uri().path(),
            origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()),
            "refused a cross-site request"
        );
        AppError::Forbidden(
            "This request did not come from Slimage's own pages, so it was refused. \
             Reload the page and try again."
                .into(),
        )
        .into_response()
    }
}

fn is_allowed(public_url: &Url, request: &Request) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return true;
    }
    let headers = request.headers();
    let path = request.uri().path();
    // Webhooks authenticate by signature; the Tinify-compatible routes by API key alone (they
    // never read a cookie), so a forged cross-site request gains nothing there.
    if path.starts_with("/webhooks/")
        || path == "/shrink"
        || path.starts_with("/output/")
        || path.starts_with("/api/v1/")
    {
        return true;
    }
    if headers.contains_key(header::AUTHORIZATION) && !headers.contains_key(header::COOKIE) {
        return true;
    }
    let ours = public_url.origin();
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Url::parse(v).ok());
    claimed.is_some_and(|url| url.origin() == ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(method).uri("/api/login");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn only_our_origin_may_change_state() {
        let ours = Url::parse("https://slimage.example").unwrap();
        let allowed =
            |method, headers: &[(&str, &str)]| is_allowed(&ours, &request(method, headers));
        assert!(allowed(Method::GET, &[]));
        assert!(allowed(
            Method::POST,
            &[("origin", "https://slimage.example")]
        ));
        assert!(allowed(
            Method::POST,
            &[("referer", "https://slimage.example/login?x=1")]
        ));
        assert!(allowed(
            Method::POST,
            &[("authorization", "Basic YXBpOmtleQ==")]
        ));
        assert!(!allowed(Method::POST, &[]));
        assert!(!allowed(
            Method::POST,
            &[("origin", "https://evil.example")]
        ));
        assert!(!allowed(
            Method::POST,
            &[("origin", "http://slimage.example")]
        ));
        assert!(!allowed(
            Method::POST,
            &[("origin", "https://slimage.example.evil.example")]
        ));
        assert!(!allowed(Method::DELETE, &[("origin", "null")]));
        assert!(!allowed(
            Method::POST,
            &[
                ("origin", "https://evil.example"),
                ("referer", "https://slimage.example/")
            ]
        ));
        // A cookie-carrying request cannot use the API-key exemption.
        assert!(!allowed(
            Method::POST,
            &[
                ("authorization", "Bearer x"),
                ("cookie", "slimage_session=abc")
            ]
        ));
    }
}
