//! No password, password hash, session id, reset token, API key or Stripe secret ever reaches a
//! log line, at any level: the real binary runs a whole account flow with `RUST_LOG=trace` and JSON logs,
//! and every secret it handled is searched for in what it wrote.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{mpsc, Arc, Mutex},
};

use base64::Engine;
use reqwest::header;
use serde_json::Value;

struct Flow {
    client: reqwest::Client,
    base: String,
    cookie: Option<String>,
    cookies_seen: Vec<String>,
}

impl Flow {
    async fn call(&mut self, function: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/api/{function}", self.base))
            .header(header::ORIGIN, &self.base)
            .header(header::ACCEPT, "application/json")
            .form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(header::SET_COOKIE) {
            let pair = value
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_string();
            if let Some(id) = pair.strip_prefix("slimage_session=") {
                if !id.is_empty() {
                    self.cookies_seen.push(id.to_string());
                    self.cookie = Some(pair.clone());
                }
            }
        }
        response
    }
}

const STRIPE_KEY: &str = "sk_test_logsecret_4242424242";
const WEBHOOK_SECRET: &str = "whsec_logsecret_0123456789";

#[test]
fn a_full_account_flow_logs_no_secret_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATA_DIR", dir.path())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "trace")
        .env("LOG_FORMAT", "json")
        .env("STRIPE_SECRET_KEY", STRIPE_KEY)
        .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("STRIPE_PRICE_PREMIUM", "price_premium")
        .env("STRIPE_PRICE_PRO", "price_pro")
        // Nothing listens there: every Stripe call fails and is logged with its error.
        .env("STRIPE_API_BASE", "http://127.0.0.1:9/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (addr_tx, addr_rx) = mpsc::channel::<String>();
    let readers: Vec<_> = [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ]
    .into_iter()
    .map(|stream| {
        let (lines, addr_tx) = (lines.clone(), addr_tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(at) = line.find("Slimage is listening on http://") {
                    let addr: String = line[at + 31..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    let _ = addr_tx.send(addr);
                }
                lines.lock().unwrap().push(line);
            }
        })
    })
    .collect();
    drop(addr_tx);
    let addr = addr_rx.recv().expect("the server reported its address");

    let secrets = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run_flow(&addr, dir.path()));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }

    let lines = lines.lock().unwrap();
    assert!(
        lines.len() > 50,
        "too few log lines to mean anything: {}",
        lines.len()
    );
    assert!(lines
        .iter()
        .any(|l| l.contains("\"event\":\"login_failed\"")));
    for (what, secret) in &secrets {
        assert!(secret.len() >= 10, "{what} is too short to search for");
        if let Some(line) = lines.iter().find(|l| l.contains(secret.as_str())) {
            panic!("the {what} appears in a log line: {line}");
        }
    }
}

async fn run_flow(addr: &str, data_dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let mut flow = Flow {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: format!("http://{addr}"),
        cookie: None,
        cookies_seen: Vec::new(),
    };
    let (first, second, third) = ("first password 1", "second password 2", "third password 3");
    let email = "ada@example.com";
    assert_eq!(
        flow.call("signup", &[("email", email), ("password", first)])
            .await
            .status(),
        200
    );
    flow.call(
        "login",
        &[("email", email), ("password", "a wrong password")],
    )
    .await;
    assert_eq!(
        flow.call("login", &[("email", email), ("password", first)])
            .await
            .status(),
        200
    );
    let changed = flow
        .call(
            "change_password",
            &[("current_password", first), ("new_password", second)],
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(
        flow.call("create_api_key", &[("name", "ci")])
            .await
            .status(),
        200
    );
    let keys: Value = flow.call("api_keys", &[]).await.json().await.unwrap();
    let key = keys["new_secret"].as_str().unwrap().to_string();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"));
    for auth in [
        format!("Basic {basic}"),
        format!("Bearer {key}"),
        "Bearer not-a-real-key-at-all".into(),
    ] {
        flow.client
            .get(format!("{}/api/v1/account", flow.base))
            .header(header::AUTHORIZATION, auth)
            .send()
            .await
            .unwrap();
    }
    // Billing: a checkout that cannot reach Stripe, and a forged webhook delivery.
    let checkout = flow.call("checkout", &[("plan", "premium")]).await;
    assert_eq!(checkout.status(), 503);
    let forged = flow
        .client
        .post(format!("{}/webhooks/stripe", flow.base))
        .header("stripe-signature", "t=1,v1=0000")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    flow.call("logout", &[]).await;

    assert_eq!(
        flow.call("forgot_password", &[("email", email)])
            .await
            .status(),
        200
    );
    let outbox = data_dir.join("outbox");
    let mail = std::fs::read_dir(&outbox)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(mail)
        .unwrap()
        .replace("=\r\n", "")
        .replace("=3D", "=");
    let token = text
        .split("token=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect::<String>();
    let page = flow
        .client
        .get(format!("{}/reset-password?token={token}", flow.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let reset = flow
        .call(
            "reset_password",
            &[("token", &token), ("new_password", third)],
        )
        .await;
    assert_eq!(reset.status(), 200);

    let database = format!("sqlite://{}", data_dir.join("slimage.db").display());
    let pool = sqlx::SqlitePool::connect(&database).await.unwrap();
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;

    let mut secrets = vec![
        ("first password", first.to_string()),
        ("second password", second.to_string()),
        ("third password", third.to_string()),
        ("wrong password", "a wrong password".to_string()),
        (
            "password hash",
            hash.rsplit('$').next().unwrap().to_string(),
        ),
        ("reset token", token),
        ("API key", key),
        ("Basic credentials", basic),
        ("Stripe secret key", STRIPE_KEY.to_string()),
        ("Stripe webhook secret", WEBHOOK_SECRET.to_string()),
    ];
    assert!(flow.cookies_seen.len() >= 3);
    secrets.extend(flow.cookies_seen.into_iter().map(|c| ("session id", c)));
    secrets
}
