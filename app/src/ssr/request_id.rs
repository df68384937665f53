//! The id of the request being handled, for log lines and error bodies.
//!
//! The server's request-id middleware runs each request inside [`scope`]; code anywhere below it
//! reads the id with [`current`] without threading it through every signature.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The longest client-supplied request id that is accepted as is.
pub const MAX_LEN: usize = 64;

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request id, or `None` outside a request.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Accepts a client-supplied id only when it is short and plain (letters, digits, `-`, `_`, `.`),
/// so that hostile values never reach logs or headers; otherwise a fresh id is made.
pub fn accept_or_generate(supplied: Option<&str>) -> String {
    match supplied {
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            id.to_string()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_plain_client_id_and_replaces_a_hostile_one() {
        assert_eq!(accept_or_generate(Some("abc-123_x.y")), "abc-123_x.y");
        for hostile in [
            "",
            "a b",
            "line\nbreak",
            "<script>",
            &"x".repeat(MAX_LEN + 1),
        ] {
            let id = accept_or_generate(Some(hostile));
            assert_ne!(id, hostile);
            assert!(uuid::Uuid::parse_str(&id).is_ok());
        }
        assert!(uuid::Uuid::parse_str(&accept_or_generate(None)).is_ok());
    }

    #[tokio::test]
    async fn current_is_the_scoped_id_inside_and_none_outside() {
        assert_eq!(current(), None);
        let inside = scope("req-1".into(), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("req-1"));
    }
}
