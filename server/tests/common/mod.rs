//! Test helpers: the real application on port 0 with its own database and storage directory.
//!
//! `TestApp::spawn(Backend::Sqlite)` uses a temporary SQLite file; `Backend::Postgres` creates a
//! uniquely named database on the server named by `TEST_DATABASE_URL` (default: the local server
//! on 127.0.0.1:5432) and drops it when the test ends. Tests never share state, so they run in
//! parallel. `backend_tests!` runs each test body once per backend.
#![allow(dead_code)]

use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

pub use app::ssr::db::Backend;
use server::{config::Config, startup::Application};
use sqlx::{Connection, PgConnection};
use tokio::sync::oneshot;

pub mod browser;
pub mod fake_stripe;
pub mod images;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A running application and what it was started with.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    /// The storage directory and SQLite file live here.
    pub data_dir: tempfile::TempDir,
    /// The application state (database, storage) for direct assertions.
    pub state: app::ssr::state::AppState,
    shutdown: Option<oneshot::Sender<()>>,
    postgres: Option<PostgresDatabase>,
}

impl TestApp {
    /// Starts the application on a fresh database of the given backend.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Like [`TestApp::spawn`], with extra environment variables for the configuration.
    pub async fn spawn_with(backend: Backend, extra: &[(&'static str, String)]) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PostgresDatabase::create().await),
        };
        let mut vars: HashMap<&'static str, String> = HashMap::from([
            ("DATA_DIR", data_dir.path().display().to_string()),
            ("LEPTOS_SITE_ADDR", "127.0.0.1:0".to_string()),
            ("RUST_LOG", "warn".to_string()),
            // Tests drive the queue themselves (`worker::work_once`) unless they ask for workers.
            ("WORKERS", "0".to_string()),
        ]);
        if let Some(pg) = &postgres {
            vars.insert("DATABASE_URL", pg.url.clone());
        }
        vars.extend(extra.iter().cloned());
        let config = Config::from_lookup(|name| vars.get(name).cloned().map(Ok)).expect("config");
        let app = server_runtime()
            .spawn(async move { Application::build(&config).await })
            .await
            .expect("the build task finished")
            .expect("application starts");
        let addr = app.local_addr();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel();
        server_runtime().spawn(app.run_until(async {
            let _ = rx.await;
        }));
        // A request that hangs fails its test instead of stalling the whole run.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("http client");
        Self {
            addr,
            client,
            data_dir,
            state,
            shutdown: Some(tx),
            postgres,
        }
    }

    /// The absolute URL of `path` on this app.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The database URL the app uses.
    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.url.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.path().join("slimage.db").display()
            ),
        }
    }

    /// The directory the app stores files in.
    pub fn files_dir(&self) -> PathBuf {
        self.data_dir.path().join("files")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The database is dropped by `PostgresDatabase`'s own Drop, after this.
        let _ = self.postgres.take();
    }
}

/// The runtime every test server runs on, for the whole test process, as in the binary (one
/// runtime, four workers). Each test body has a runtime of its own that ends with the test;
/// servers rendered by Leptos on such short-lived runtimes occasionally never finished a page once
/// an earlier test's runtime was gone, which a real server never sees.
pub fn server_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .thread_name("test-server")
            .enable_all()
            .build()
            .expect("the test servers' runtime starts")
    })
}

/// The URL of a PostgreSQL database that can create and drop databases.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// A uniquely named PostgreSQL database, dropped (connections and all) when this is dropped.
pub struct PostgresDatabase {
    /// Connection URL of the new database.
    pub url: String,
    name: String,
    admin_url: String,
}

impl PostgresDatabase {
    /// Creates a new empty database on the test server.
    pub async fn create() -> Self {
        let admin_url = postgres_admin_url();
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed for the tests and could not be reached at {admin_url} ({e}). \
                 Run the tests with `make test` (it finds or starts a server), set TEST_DATABASE_URL \
                 to a server where this user may create databases, or install Debian's `postgresql`."
            )
        });
        let name = format!("slimage_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .await
            .expect("create test database");
        Self::adopt(&admin_url, &name)
    }

    /// Takes charge of dropping database `name` on the server of `admin_url`.
    pub fn adopt(admin_url: &str, name: &str) -> Self {
        let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(name);
        Self {
            url: url.to_string(),
            name: name.to_string(),
            admin_url: admin_url.to_string(),
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

/// Runs each listed `async fn(Backend)` test once on SQLite and once on PostgreSQL (the servers
/// themselves run on the shared `server_runtime`).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}
