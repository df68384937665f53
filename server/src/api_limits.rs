//! Around every API-key route (`/shrink`, `/output/…`, `/api/v1/…`): the key's rate limit per
//! minute by plan, answered with `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (and
//! `Retry-After` with a Tinify-shaped 429 when exceeded), and `Compression-Count` on every
//! authenticated answer. The key is checked once, here: the routes receive the [`ApiCaller`] in the
//! request's extensions. Requests without a valid key pass through to the route, which answers 401
//! (or, for `/output/…`, serves the unguessable URL).

use app::{
    error::AppError,
    ssr::{
        accounts,
        api_keys::{self, ApiCaller},
        billing,
        db::now,
        rate_limit,
        state::AppState,
        usage,
    },
};
use axum::{
    extract::{Request, State},
    http::{header, HeaderName, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// `Compression-Count`: this month's compressions, on every authenticated answer.
pub const COMPRESSION_COUNT: HeaderName = HeaderName::from_static("compression-count");
const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The middleware.
pub async fn enforce(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let key = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(api_keys::key_from_authorization);
    let Some(key) = key else {
        return next.run(request).await;
    };
    let caller = match limits_for(&state, &key).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return next.run(request).await,
        Err(error) => return error.into_response(),
    };
    let (caller, rate) = caller;
    let mut response = if rate.allowed {
        request.extensions_mut().insert(caller);
        next.run(request).await
    } else {
        AppError::TooManyRequests {
            message: format!(
                "Too many requests: this key may send {} per minute on its plan. Retry in {} s.",
                rate.limit, rate.reset_secs
            ),
            retry_after_secs: u64::try_from(rate.reset_secs).unwrap_or(1),
        }
        .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(rate.limit));
    headers.insert(REMAINING, HeaderValue::from(rate.remaining));
    headers.insert(RESET, HeaderValue::from(rate.reset_secs));
    if !headers.contains_key(COMPRESSION_COUNT) {
        if let Ok(count) = usage::used(&state.db, caller.user_id, now()).await {
            headers.insert(COMPRESSION_COUNT, HeaderValue::from(count));
        }
    }
    response
}

/// The key's caller and this request's place in the rate window; `None` for an unknown key.
async fn limits_for(
    state: &AppState,
    key: &str,
) -> Result<Option<(ApiCaller, rate_limit::RateState)>, AppError> {
    let Some(caller) = api_keys::authenticate(&state.db, key).await? else {
        return Ok(None);
    };
    let Some(user) = accounts::find_by_id(&state.db, caller.user_id).await? else {
        return Ok(None);
    };
    let plan = billing::plan_state(state, &user).await?.plan;
    let rate = rate_limit::hit(
        &state.db,
        caller.key_id,
        plan.api_requests_per_minute,
        now(),
    )
    .await?;
    Ok(Some((caller, rate)))
}
