//! Outgoing email: SMTP through lettre when `SMTP_URL` is set; otherwise each message is written
//! to `DATA_DIR/outbox/` as an `.eml` file (and logged without its body), so that a one-machine
//! operator, and the tests, can read it.

use std::path::PathBuf;

use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use crate::error::AppError;

/// Where messages go.
#[derive(Clone)]
pub enum Mailer {
    /// A real SMTP server.
    Smtp {
        /// The transport, built from `SMTP_URL`.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The sender.
        from: Mailbox,
    },
    /// Files in a directory.
    Outbox {
        /// The directory, created on first use.
        dir: PathBuf,
        /// The sender.
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp { from, .. } => write!(f, "Mailer::Smtp(from {from})"),
            Self::Outbox { dir, .. } => write!(f, "Mailer::Outbox({})", dir.display()),
        }
    }
}

/// Why a mailer could not be configured.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailConfigError(pub String);

impl Mailer {
    /// An SMTP mailer for a URL such as `smtps://user:pass@smtp.example.com` or
    /// `smtp://localhost:1025`.
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailConfigError(format!("not a usable SMTP URL: {e}")))?
            .build();
        Ok(Self::Smtp {
            transport,
            from: parse_from(from)?,
        })
    }

    /// A mailer that writes messages into `dir`.
    pub fn outbox(dir: PathBuf, from: &str) -> Result<Self, MailConfigError> {
        Ok(Self::Outbox {
            dir,
            from: parse_from(from)?,
        })
    }

    /// Sends a plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), AppError> {
        let to: Mailbox = to.parse().map_err(|error| {
            tracing::error!(%error, "a recipient address does not parse");
            AppError::Internal
        })?;
        let from = match self {
            Self::Smtp { from, .. } | Self::Outbox { from, .. } => from.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(to.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|error| {
                tracing::error!(%error, "an email could not be built");
                AppError::Internal
            })?;
        match self {
            Self::Smtp { transport, .. } => {
                transport.send(message).await.map_err(|error| {
                    tracing::error!(%error, "the SMTP server did not accept an email");
                    AppError::Unavailable
                })?;
                tracing::info!(to = %to.email, subject, "email sent");
            }
            Self::Outbox { dir, .. } => {
                // Named by UTC time to the nanosecond: the newest email sorts last.
                let stamp = time::OffsetDateTime::now_utc()
                    .format(time::macros::format_description!(
                        "[year][month][day]T[hour][minute][second].[subsecond digits:9]Z"
                    ))
                    .unwrap_or_default();
                let path = dir.join(format!(
                    "{stamp}-{}.eml",
                    super::tokens::random_alphanumeric(6)
                ));
                let bytes = message.formatted();
                let write = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(&path, bytes).await
                };
                write.await.map_err(|error| {
                    tracing::error!(%error, dir = %dir.display(), "cannot write to the outbox");
                    AppError::Internal
                })?;
                tracing::info!(
                    to = %to.email,
                    subject,
                    path = %path.display(),
                    "email written to the outbox (set SMTP_URL to send it)"
                );
            }
        }
        Ok(())
    }
}

fn parse_from(from: &str) -> Result<Mailbox, MailConfigError> {
    from.parse()
        .map_err(|e| MailConfigError(format!("{from:?} is not a sender address ({e})")))
}
