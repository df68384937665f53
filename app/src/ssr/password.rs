//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), always on a
//! blocking thread so that a burst of log-ins cannot stall the async executor.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use tracing::Instrument;

use crate::error::AppError;

/// A PHC-format argon2id hash. Deliberately neither `Serialize` nor `Display`: it never leaves
/// the server, and its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(String);

impl PasswordHashString {
    /// Wraps a hash read from the database.
    pub fn from_stored(hash: String) -> Self {
        Self(hash)
    }

    /// The PHC string, for storing.
    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashString(<redacted>)")
    }
}

// A hash of a random password nobody knows, with the same parameters: log-in with an unknown
// email verifies against it, so that answering takes as long as for a real account.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2xpbWFnZWR1bW15c2FsdA$K0sT4g2oQ5Q2iSA0PbH5sJ4s3Ll0m0Ty8yKc0n1Yd6A";

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a fresh random salt.
pub async fn hash(password: String) -> Result<PasswordHashString, AppError> {
    blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| PasswordHashString(hash.to_string()))
            .map_err(|error| {
                tracing::error!(%error, "password hashing failed");
                AppError::Internal
            })
    })
    .await?
}

/// Whether `password` matches `stored`; with `None` (unknown account) it spends one verify
/// anyway and answers `false`.
pub async fn verify(
    password: String,
    stored: Option<PasswordHashString>,
) -> Result<bool, AppError> {
    blocking(move || {
        let known = stored.is_some();
        let hash_text = stored.map_or_else(|| DUMMY_HASH.to_string(), |h| h.0);
        let parsed = match PasswordHash::new(&hash_text) {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::error!(%error, "a stored password hash does not parse");
                return Err(AppError::Internal);
            }
        };
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await?
}

/// Runs CPU-heavy `work` on the blocking pool, inside the caller's tracing span.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .in_current_span()
        .await
        .map_err(|error| {
            tracing::error!(%error, "a blocking task failed");
            AppError::Internal
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = super::hash("correct horse battery".into()).await.unwrap();
        assert!(hash
            .as_stored()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify("correct horse batterY".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!format!("{hash:?}").contains("argon2"));
    }

    #[tokio::test]
    async fn an_unknown_account_spends_a_verify_and_never_matches() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn the_same_password_gets_a_different_salt_each_time() {
        let a = super::hash("correct horse battery".into()).await.unwrap();
        let b = super::hash("correct horse battery".into()).await.unwrap();
        assert_ne!(a, b);
    }
}
