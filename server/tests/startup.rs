//! The `server` binary as an operator meets it: clear one-line errors for bad configuration,
//! migrations on demand, and a clean exit on SIGTERM.

mod common;

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Command, Output, Stdio},
};

fn server(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATA_DIR", data_dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    command
}

fn fails_with_one_line_naming(output: Output, variable: &str) {
    assert!(!output.status.success(), "the server started");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(
        lines[0].contains(variable),
        "{variable} not named in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_database_url_of_an_unknown_kind_stops_startup_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = server(dir.path())
        .env("DATABASE_URL", "mysql://localhost/slimage")
        .output()
        .unwrap();
    fails_with_one_line_naming(output, "DATABASE_URL");
}

#[test]
fn an_unreachable_database_stops_startup_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago: nothing answers there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = server(dir.path())
        .env(
            "DATABASE_URL",
            format!("postgres://nobody@127.0.0.1:{port}/slimage"),
        )
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    fails_with_one_line_naming(output, "DATABASE_URL");
}

#[test]
fn a_malformed_site_address_stops_startup_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = server(dir.path())
        .env("LEPTOS_SITE_ADDR", "localhost:port")
        .output()
        .unwrap();
    fails_with_one_line_naming(output, "LEPTOS_SITE_ADDR");
}

#[test]
fn a_site_address_in_use_stops_startup_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let output = server(dir.path())
        .env("LEPTOS_SITE_ADDR", taken.local_addr().unwrap().to_string())
        .output()
        .unwrap();
    fails_with_one_line_naming(output, "LEPTOS_SITE_ADDR");
}

#[test]
fn migrate_creates_the_default_sqlite_database_under_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let output = server(dir.path()).arg("migrate").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("slimage.db").exists());
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = server(dir.path())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it says it is listening, then ask it to stop.
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("Slimage is listening"));
    assert!(listening, "the server never reported listening");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}; output: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("shut down cleanly")),
        "{rest:?}"
    );
}

#[test]
fn a_missing_postgres_database_is_created_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let admin = common::postgres_admin_url();
    let name = format!("slimage_test_{}", uuid::Uuid::new_v4().simple());
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    let output = server(dir.path())
        .env("DATABASE_URL", url.as_str())
        .arg("migrate")
        .output()
        .unwrap();
    // Drop it again whatever happened, through the helper that drops test databases.
    let database = common::PostgresDatabase::adopt(&admin, &name);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let exists = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(&database.url).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM _sqlx_migrations")
            .fetch_one(&mut connection)
            .await
            .is_ok()
    });
    assert!(exists, "the migrations table is missing");
}

fn admin(data_dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = server(data_dir)
        .arg("admin")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn operators_create_admins_and_change_roles_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let created = admin(
        dir.path(),
        &["create-user", "Root@Example.com", "--admin"],
        Some("an operator password\n"),
    );
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        stdout.contains("created root@example.com (admin)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("password:"),
        "a piped password was echoed: {stdout}"
    );

    let generated = admin(dir.path(), &["create-user", "ops@example.com"], Some(""));
    let stdout = String::from_utf8_lossy(&generated.stdout);
    assert!(generated.status.success());
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password is printed once");
    assert_eq!(password.len(), 20);

    let demoted = admin(dir.path(), &["set-role", "root@example.com", "user"], None);
    assert!(demoted.status.success());
    assert!(String::from_utf8_lossy(&demoted.stdout).contains("root@example.com is now user"));

    let duplicate = admin(
        dir.path(),
        &["create-user", "root@example.com"],
        Some("an operator password\n"),
    );
    fails_with_one_line_naming(duplicate, "already exists");
    let unknown = admin(
        dir.path(),
        &["set-role", "nobody@example.com", "admin"],
        None,
    );
    fails_with_one_line_naming(unknown, "no account has this email");
    let weak = admin(
        dir.path(),
        &["create-user", "weak@example.com"],
        Some("short\n"),
    );
    fails_with_one_line_naming(weak, "at least 10");
}

#[test]
fn half_the_stripe_settings_stop_startup_naming_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let output = server(dir.path())
        .env("STRIPE_SECRET_KEY", "sk_test_123")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_123")
        .output()
        .unwrap();
    fails_with_one_line_naming(output, "STRIPE_PRICE_PREMIUM, STRIPE_PRICE_PRO missing");
}

#[test]
fn operators_list_and_edit_plans_and_assign_them_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let listed = admin(dir.path(), &["plans", "list"], None);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success());
    for row in ["free ", "premium ", "pro "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "{row:?} missing: {stdout}"
        );
    }
    assert!(
        stdout.contains("$9.00") && stdout.contains("10000") && stdout.contains("7 days"),
        "{stdout}"
    );

    let edited = admin(
        dir.path(),
        &["plans", "set", "free", "monthly_allowance", "1000"],
        None,
    );
    assert!(edited.status.success());
    assert!(String::from_utf8_lossy(&edited.stdout).contains(" 1000 "));
    let listed = admin(dir.path(), &["plans", "list"], None);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(" 1000 "));

    fails_with_one_line_naming(
        admin(
            dir.path(),
            &["plans", "set", "free", "colour", "blue"],
            None,
        ),
        "not a plan field",
    );
    fails_with_one_line_naming(
        admin(
            dir.path(),
            &["plans", "set", "gold", "monthly_allowance", "1"],
            None,
        ),
        "no plan \"gold\"",
    );
    fails_with_one_line_naming(
        admin(
            dir.path(),
            &["plans", "set", "pro", "bulk_zip", "maybe"],
            None,
        ),
        "true or false",
    );

    admin(
        dir.path(),
        &["create-user", "ada@example.com"],
        Some("an operator password\n"),
    );
    let assigned = admin(dir.path(), &["set-plan", "Ada@example.com", "pro"], None);
    assert!(
        assigned.status.success(),
        "{}",
        String::from_utf8_lossy(&assigned.stderr)
    );
    assert!(String::from_utf8_lossy(&assigned.stdout)
        .contains("ada@example.com is now on the pro plan"));
    fails_with_one_line_naming(
        admin(dir.path(), &["set-plan", "ada@example.com", "gold"], None),
        "not a plan; one of: free, premium, pro",
    );
    fails_with_one_line_naming(
        admin(dir.path(), &["set-plan", "nobody@example.com", "pro"], None),
        "no account has this email",
    );
}
