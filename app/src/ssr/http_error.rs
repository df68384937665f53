//! [`AppError`] as an HTTP response: `{ "error": CODE, "message": TEXT, "request_id": ID }`.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

use super::request_id;
use crate::error::AppError;

/// The JSON body of every API error.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `NotFound`.
    pub error: String,
    /// What went wrong, for a human.
    pub message: String,
    /// The request id, also sent as `x-request-id`, to quote to support.
    pub request_id: Option<String>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: self.code().to_string(),
            message: self.to_string(),
            request_id: request_id::current(),
        };
        let mut response = (status, Json(body)).into_response();
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(error = %error, "database error");
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => AppError::Unavailable,
            _ => AppError::Internal,
        }
    }
}

impl From<object_store::Error> for AppError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => AppError::NotFound,
            other => {
                tracing::error!(error = %other, "storage error");
                AppError::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: AppError) -> (StatusCode, Option<String>, ErrorBody) {
        let response = request_id::scope("rid-7".into(), async { error.into_response() }).await;
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn an_error_becomes_json_with_code_message_and_request_id() {
        let (status, _, body) = body_of(AppError::NotFound).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body.error, "NotFound");
        assert_eq!(body.message, "Not found.");
        assert_eq!(body.request_id.as_deref(), Some("rid-7"));
    }

    #[tokio::test]
    async fn too_many_requests_says_when_to_retry() {
        let error = AppError::TooManyRequests {
            message: "Slow down.".into(),
            retry_after_secs: 42,
        };
        let (status, retry, body) = body_of(error).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("42"));
        assert_eq!(body.message, "Slow down.");
    }

    #[tokio::test]
    async fn a_database_failure_reaches_the_client_without_its_cause() {
        let error: AppError = sqlx::Error::Protocol("secret table users_pw exploded".into()).into();
        let (status, _, body) = body_of(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.message.contains("users_pw"));
    }
}
