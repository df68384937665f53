//! The one error type that crosses the wire.
//!
//! Every failure a client can see is an [`AppError`]. Infrastructure failures (database, storage,
//! I/O) are logged with their cause where they happen and reach the client only as the opaque
//! [`AppError::Internal`] or [`AppError::Unavailable`], so no detail of the server leaks out.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// An error as a client sees it: a stable code, a human message, an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a value is invalid; the message says which.
    #[error("{0}")]
    BadRequest(String),
    /// One form field's value is not acceptable; the form shows `message` next to `field`.
    #[error("{message}")]
    Invalid {
        /// The form field's name, e.g. `email`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// No valid credentials were presented.
    #[error("Sign in to continue.")]
    Unauthorized,
    /// The caller may not do this (including a cross-site request).
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist, or it is not the caller's.
    #[error("Not found.")]
    NotFound,
    /// The body is larger than allowed; the message says the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The file is not a supported image.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The client stopped sending the request's body.
    #[error("{0}")]
    RequestTimeout(String),
    /// A limit was reached; retry after the given number of seconds.
    #[error("{message}")]
    TooManyRequests {
        /// What was exhausted and when it comes back.
        message: String,
        /// Seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// A dependency (database, storage) cannot be reached right now.
    #[error("The service is temporarily unavailable. Please try again shortly.")]
    Unavailable,
    /// Something failed on our side; the cause is in the server log, not here.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl AppError {
    /// The stable machine-readable code sent as `error` in JSON bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "BadRequest",
            Self::Invalid { .. } => "Invalid",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::NotFound => "NotFound",
            Self::PayloadTooLarge(_) => "PayloadTooLarge",
            Self::UnsupportedMediaType(_) => "UnsupportedFile",
            Self::RequestTimeout(_) => "RequestTimeout",
            Self::TooManyRequests { .. } => "TooManyRequests",
            Self::Unavailable => "ServiceUnavailable",
            Self::Internal => "InternalServerError",
        }
    }

    /// The HTTP status code this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Invalid { .. } => 422,
            Self::Unauthorized => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound => 404,
            Self::PayloadTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::RequestTimeout(_) => 408,
            Self::TooManyRequests { .. } => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

impl AppError {
    /// An [`AppError::Invalid`] for `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The message to show next to form field `field`, when this error is about it.
    pub fn field_message(&self, field: &str) -> Option<String> {
        match self {
            Self::Invalid { field: f, message } if f == field => Some(message.clone()),
            _ => None,
        }
    }
}

// Server functions return `Result<T, AppError>`: transport failures (network, a response that
// does not decode) become errors a form can show like any other.
impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) => Self::BadRequest(
                "Slimage could not be reached. Check your connection and try again.".into(),
            ),
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                Self::BadRequest("The form was incomplete. Please fill it in again.".into())
            }
            _ => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_carry_detail_to_the_client() {
        let text = AppError::Internal.to_string();
        assert!(!text.to_lowercase().contains("sql"));
        assert_eq!(AppError::Internal.status_code(), 500);
    }

    #[test]
    fn each_error_has_a_distinct_code_and_a_client_or_server_status() {
        let all = [
            AppError::BadRequest("x".into()),
            AppError::invalid("f", "x"),
            AppError::Unauthorized,
            AppError::Forbidden("x".into()),
            AppError::NotFound,
            AppError::PayloadTooLarge("x".into()),
            AppError::UnsupportedMediaType("x".into()),
            AppError::RequestTimeout("x".into()),
            AppError::TooManyRequests {
                message: "x".into(),
                retry_after_secs: 1,
            },
            AppError::Unavailable,
            AppError::Internal,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(AppError::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(all.iter().all(|e| (400..600).contains(&e.status_code())));
    }
}
