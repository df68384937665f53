//! The database: one [`Db`] handle over SQLite or PostgreSQL, chosen by the URL's scheme.
//!
//! Queries that read the same in both dialects are written once; where the dialects differ, the
//! function matches on [`Db`] and each backend gets its own SQL. Both backends run every test.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    migrate::{MigrateDatabase, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Connection, PgConnection, PgPool, Postgres, SqlitePool,
};

/// Runs the same code on whichever pool a [`Db`] holds: `on_pool!(db, pool => query.fetch_one(pool).await)`.
/// For SQL that reads the same in both dialects (`$1` placeholders work in both).
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::ssr::db::Db::Sqlite($pool) => $body,
            $crate::ssr::db::Db::Postgres($pool) => $body,
        }
    };
}

/// The current time as Unix seconds, the unit every timestamp column uses.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A single SQLite file: the one-machine setup.
    Sqlite,
    /// A PostgreSQL server: many web and worker processes.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, from its scheme.
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme)
            .unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(DbError::Url(
                "expected a URL starting with sqlite: or postgres:// (e.g. sqlite://data/slimage.db)"
                    .into(),
            )),
        }
    }
}

/// Why the database could not be opened or prepared.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is not one this service can use.
    #[error("{0}")]
    Url(String),
    /// The database did not answer or refused the connection.
    #[error("cannot connect: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed to apply.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A pooled connection to the configured database.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite (one file, WAL mode).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Db {
    /// Opens a pool for `url`, creating the SQLite file and its directory when missing.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        match Backend::from_url(url)? {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| DbError::Url(e.to_string()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                if let Some(dir) = options.get_filename().parent() {
                    create_dir(dir)?;
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(DbError::Connect)?;
                Ok(Self::Sqlite(pool))
            }
            Backend::Postgres => {
                let options =
                    PgConnectOptions::from_str(url).map_err(|e| DbError::Url(e.to_string()))?;
                // One direct attempt first: the pool retries until its timeout and then reports
                // only "timed out", hiding the cause (refused, unknown host, bad password).
                // A database that does not exist yet is created, as the SQLite file is.
                match PgConnection::connect_with(&options).await {
                    Ok(connection) => connection.close().await.map_err(DbError::Connect)?,
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
                        Postgres::create_database(url)
                            .await
                            .map_err(DbError::Connect)?;
                    }
                    Err(e) => return Err(DbError::Connect(e)),
                }
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(DbError::Connect)?;
                Ok(Self::Postgres(pool))
            }
        }
    }

    /// Applies every pending migration of this backend (idempotent).
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Answers when the database accepts a query.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }

    /// Closes every connection; used at shutdown.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

fn create_dir(dir: &Path) -> Result<(), DbError> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| DbError::Url(format!("cannot create directory {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_chooses_the_backend() {
        assert_eq!(
            Backend::from_url("sqlite://data/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("sqlite::memory:").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        for bad in ["mysql://h/db", "", "data/slimage.db", "http://x"] {
            assert!(Backend::from_url(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let names = |dir: &str| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../migrations")
                .join(dir);
            let mut names: Vec<String> = std::fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            names.sort();
            names
        };
        assert_eq!(names("sqlite"), names("postgres"));
        let sqlite: Vec<i64> = SQLITE_MIGRATIONS.iter().map(|m| m.version).collect();
        let postgres: Vec<i64> = POSTGRES_MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(sqlite, postgres);
    }

    #[tokio::test]
    async fn a_new_sqlite_database_is_created_with_its_directory_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/dir/slimage.db", dir.path().display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        db.migrate().await.unwrap();
        db.ping().await.unwrap();
        assert!(dir.path().join("nested/dir/slimage.db").exists());
        assert_eq!(db.backend(), Backend::Sqlite);
    }
}
