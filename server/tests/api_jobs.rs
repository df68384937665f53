//! The batch API (`/api/v1/jobs`) on both backends: create with multipart → 202, poll, results,
//! ZIP, delete; owner-only (404 for another key); `Idempotency-Key` (same key → same job, one
//! charge, also when two requests race); callbacks signed with the account's secret, retried with
//! backoff and refused for private addresses; and the OpenAPI document, validated and exercised
//! by schemathesis.

mod common;

use std::{
    io::{Cursor, Read},
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use app::ssr::{accounts, api_jobs, api_keys, billing, db::now, usage};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode as AxumStatus},
    routing::post,
    Router,
};
use common::{
    browser::PASSWORD,
    images::{jpeg, png},
    Backend, TestApp,
};
use hmac::{Hmac, Mac};
use reqwest::{header, StatusCode};
use serde_json::Value;
use server::{callbacks, worker};
use sha2::Sha256;

/// A user on `plan` with an API key.
async fn user_with_key(app: &TestApp, email: &str, plan: &str) -> (String, i64) {
    let user = accounts::create_user(&app.state.db, email, PASSWORD.into(), "user")
        .await
        .unwrap();
    if plan != "free" {
        billing::set_account_plan(&app.state.db, email, plan)
            .await
            .unwrap();
    }
    let (_, key) = api_keys::create(&app.state.db, user.id, "ci")
        .await
        .unwrap();
    (key, user.id)
}

fn form(
    options: Option<&str>,
    callback: Option<&str>,
    files: &[(&str, Vec<u8>)],
) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new().percent_encode_noop();
    if let Some(options) = options {
        form = form.text("options", options.to_string());
    }
    if let Some(callback) = callback {
        form = form.text("callback_url", callback.to_string());
    }
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    form
}

async fn create_job(
    app: &TestApp,
    key: &str,
    idempotency: Option<&str>,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/jobs"))
        .basic_auth("api", Some(key))
        .multipart(form);
    if let Some(idempotency) = idempotency {
        request = request.header("Idempotency-Key", idempotency);
    }
    request.send().await.unwrap()
}

async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .basic_auth("api", Some(key))
        .send()
        .await
        .unwrap()
}

async fn work(app: &TestApp) {
    while worker::work_once(&app.state, "test-worker").await.unwrap() {}
}

async fn job_rows(app: &TestApp, user_id: i64) -> i64 {
    app::on_pool!(&app.state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM jobs WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await)
    .unwrap()
}

/// Files stored under the data directory's storage folder.
fn stored_files(app: &TestApp) -> usize {
    fn walk(path: &std::path::Path) -> usize {
        std::fs::read_dir(path).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p)
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    walk(&app.files_dir())
}

async fn a_batch_runs_to_results_a_zip_and_deletion_for_its_owner_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user_id) = user_with_key(&app, "dev@example.com", "premium").await;
    let files = [("shots/a.png", png(3)), ("b.jpg", jpeg())];
    let response = create_job(
        &app,
        &key,
        None,
        form(Some(r#"{"mode":"balanced","format":"same"}"#), None, &files),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["compression-count"], "0");
    assert!(response.headers().contains_key("ratelimit-remaining"));
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(job["status"], "queued");
    assert_eq!(job["progress"]["total"], 2);
    assert_eq!(job["progress"]["queued"], 2);
    assert_eq!(job["items"][0]["name"], "shots/a.png");
    assert_eq!(job["items"][1]["input_bytes"], files[1].1.len());
    assert!(job["items"][0]["output"].is_null());
    assert!(job["callback"].is_null());
    let archive_url = job["archive_url"].as_str().unwrap().to_string();
    assert_eq!(
        archive_url,
        app.url(&format!("/api/v1/jobs/{id}/archive.zip"))
    );

    work(&app).await;
    let response = get(&app, &key, &format!("/api/v1/jobs/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["compression-count"], "2");
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["status"], "finished");
    assert_eq!(job["progress"]["done"], 2);
    for (item, (_, input)) in job["items"].as_array().unwrap().iter().zip(&files) {
        assert_eq!(item["status"], "done");
        let output = &item["output"];
        let size = output["size"].as_u64().unwrap();
        assert!(size < input.len() as u64, "{item}");
        assert!(output["score"].as_f64().is_some());
        // Each result downloads from its URL without the key (the id is the credential).
        let url = output["url"].as_str().unwrap();
        let bytes = app
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(bytes.len() as u64, size);
    }
    assert_eq!(job["items"][0]["output"]["type"], "image/png");
    assert_eq!(job["items"][1]["output"]["type"], "image/jpeg");

    let zip = get(&app, &key, &format!("/api/v1/jobs/{id}/archive.zip")).await;
    assert_eq!(zip.status(), StatusCode::OK);
    assert_eq!(zip.headers()[header::CONTENT_TYPE], "application/zip");
    let bytes = zip.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<String> = archive.file_names().map(str::to_string).collect();
    names.sort();
    assert_eq!(names, ["b.jpg", "shots/a.png"]);
    let mut entry = Vec::new();
    archive
        .by_name("b.jpg")
        .unwrap()
        .read_to_end(&mut entry)
        .unwrap();
    assert_eq!(&entry[..2], &[0xff, 0xd8]);

    // Another account's key sees nothing, deletes nothing; no key is 401.
    let (other_key, _) = user_with_key(&app, "other@example.com", "premium").await;
    for path in [
        format!("/api/v1/jobs/{id}"),
        format!("/api/v1/jobs/{id}/archive.zip"),
    ] {
        assert_eq!(
            get(&app, &other_key, &path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
        let anonymous = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let stranger = app
        .client
        .delete(app.url(&format!("/api/v1/jobs/{id}")))
        .basic_auth("api", Some(&other_key))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);

    // Deleting removes the files; the job stays with its sizes.
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/jobs/{id}")))
        .basic_auth("api", Some(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(stored_files(&app), 0);
    let job: Value = get(&app, &key, &format!("/api/v1/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["files_deleted"], true);
    assert!(job["archive_url"].is_null());
    assert_eq!(
        get(&app, &key, &format!("/api/v1/jobs/{id}/archive.zip"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(usage::used(&app.state.db, user_id, now()).await.unwrap(), 2);
}

async fn bad_batches_are_refused_and_leave_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user_id) = user_with_key(&app, "dev@example.com", "free").await;
    let cases: Vec<(reqwest::multipart::Form, StatusCode, &str)> = vec![
        (
            form(Some("{}"), None, &[]),
            StatusCode::BAD_REQUEST,
            "No files",
        ),
        (
            form(Some(r#"{"mode":"extreme"}"#), None, &[("a.png", png(1))]),
            StatusCode::BAD_REQUEST,
            "options",
        ),
        (
            form(
                None,
                None,
                &[
                    ("a.png", png(1)),
                    ("notes.txt", b"hello there, not an image".to_vec()),
                ],
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "notes.txt",
        ),
        (
            form(
                None,
                None,
                &[("big.png", {
                    let mut big = png(1);
                    big.resize(5_000_001, 0);
                    big
                })],
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "big.png",
        ),
    ];
    for (form, status, says) in cases {
        let response = create_job(&app, &key, None, form).await;
        assert_eq!(response.status(), status, "{says}");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");
    }
    // Not multipart at all: a JSON error like every other, not a plain-text rejection.
    let json = app
        .client
        .post(app.url("/api/v1/jobs"))
        .basic_auth("api", Some(&key))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    let body: Value = json.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("multipart/form-data"),
        "{body}"
    );
    // A free plan's job has no ZIP.
    let job: Value = create_job(&app, &key, None, form(None, None, &[("a.png", png(1))]))
        .await
        .json()
        .await
        .unwrap();
    assert!(job["archive_url"].is_null());
    work(&app).await;
    let zip = get(
        &app,
        &key,
        &format!("/api/v1/jobs/{}/archive.zip", job["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(zip.status(), StatusCode::FORBIDDEN);
    assert_eq!(job_rows(&app, user_id).await, 1);
    assert_eq!(
        stored_files(&app),
        2,
        "the one job's original and result only"
    );
}

async fn an_idempotency_key_names_one_job_and_one_charge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user_id) = user_with_key(&app, "dev@example.com", "pro").await;
    // One job at a time: a retry must still be answered while its own job keeps the plan busy.
    app::ssr::plans::set_field(&app.state.db, "pro", "concurrent_jobs", "1")
        .await
        .unwrap();
    let files = || vec![("a.png", png(5)), ("b.png", png(6))];
    let first = create_job(&app, &key, Some("order-1"), form(None, None, &files())).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first: Value = first.json().await.unwrap();
    let again = create_job(&app, &key, Some("order-1"), form(None, None, &files())).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(job_rows(&app, user_id).await, 1);
    assert_eq!(stored_files(&app), 2, "the retry stored nothing");
    // The same key with other files or options is a mistake, not a retry.
    for form in [
        form(None, None, &[("a.png", png(5)), ("b.png", png(7))]),
        form(Some(r#"{"mode":"small"}"#), None, &files()),
    ] {
        let reused = create_job(&app, &key, Some("order-1"), form).await;
        assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = reused.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("different request"),
            "{body}"
        );
    }
    assert_eq!(job_rows(&app, user_id).await, 1);
    assert_eq!(stored_files(&app), 2);
    // Reading the job is never refused for limits; a new key is, while the plan is busy.
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        get(&app, &key, &format!("/api/v1/jobs/{id}"))
            .await
            .status(),
        StatusCode::OK
    );
    let busy = create_job(&app, &key, Some("order-9"), form(None, None, &files())).await;
    assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
    work(&app).await;

    // Two requests with a new key at the same moment: one job, the loser's files deleted.
    let (a, b) = tokio::join!(
        create_job(&app, &key, Some("order-2"), form(None, None, &files())),
        create_job(&app, &key, Some("order-2"), form(None, None, &files())),
    );
    assert_eq!(
        (a.status(), b.status()),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["id"], b["id"]);
    assert_ne!(a["id"], first["id"]);
    assert_eq!(job_rows(&app, user_id).await, 2);
    assert_eq!(
        stored_files(&app),
        6,
        "the first job's originals and results, the second's originals: the loser's are gone"
    );

    work(&app).await;
    assert_eq!(
        usage::used(&app.state.db, user_id, now()).await.unwrap(),
        4,
        "two jobs of two files, each charged once"
    );

    // The same key from another account is another job; after 24 hours a key is free again.
    let (other_key, other_id) = user_with_key(&app, "other@example.com", "pro").await;
    let theirs: Value = create_job(
        &app,
        &other_key,
        Some("order-1"),
        form(None, None, &files()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(job_rows(&app, other_id).await, 1);
    app::on_pool!(&app.state.db, pool => sqlx::query(
        "UPDATE idempotency_keys SET created_at = created_at - 86400 WHERE user_id = $1",
    )
    .bind(user_id)
    .execute(pool)
    .await
    .map(|_| ()))
    .unwrap();
    let later: Value = create_job(&app, &key, Some("order-1"), form(None, None, &files()))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(later["id"], first["id"]);

    // A key that is not 1 to 255 visible characters is refused before anything is read.
    let long = "k".repeat(256);
    let refused = create_job(&app, &key, Some(&long), form(None, None, &files())).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(job_rows(&app, user_id).await, 3);
}

async fn simultaneous_batches_cannot_both_pass_the_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user_id) = user_with_key(&app, "dev@example.com", "pro").await;
    // Two batches of two images sent at once; their statuses, sorted.
    let two_at_once = || async {
        let files = [("a.png", png(7)), ("b.png", png(8))];
        let (a, b) = tokio::join!(
            create_job(&app, &key, None, form(None, None, &files)),
            create_job(&app, &key, None, form(None, None, &files)),
        );
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        statuses
    };
    // One job at a time: of two batches sent at once, one runs and one is refused.
    app::ssr::plans::set_field(&app.state.db, "pro", "concurrent_jobs", "1")
        .await
        .unwrap();
    assert_eq!(
        two_at_once().await,
        [StatusCode::ACCEPTED, StatusCode::TOO_MANY_REQUESTS]
    );
    assert_eq!(job_rows(&app, user_id).await, 1);
    assert_eq!(stored_files(&app), 2, "the refused batch's files are gone");
    work(&app).await;
    // Three images left this month: two batches of two cannot both be queued.
    app::ssr::plans::set_field(&app.state.db, "pro", "concurrent_jobs", "5")
        .await
        .unwrap();
    app::ssr::plans::set_field(&app.state.db, "pro", "monthly_allowance", "5")
        .await
        .unwrap();
    assert_eq!(
        two_at_once().await,
        [StatusCode::ACCEPTED, StatusCode::TOO_MANY_REQUESTS]
    );
    work(&app).await;
    assert_eq!(usage::used(&app.state.db, user_id, now()).await.unwrap(), 4);
}

/// Sends `head` and half of `body` for `path` with `key`, then nothing; returns the server's
/// answer (it must come on its own).
async fn stall(
    app: &TestApp,
    key: &str,
    path: &str,
    content_type: &str,
    head: &str,
    body: &[u8],
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("api:{key}"),
    );
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{head}",
        app.addr,
        head.len() + body.len() + 100,
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    stream.flush().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(90),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answered a stalled upload");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A client that sends half a file and then nothing is cut off after 30 s with 408, and nothing of
/// its upload is kept: a batch job's multipart body, and `/shrink`'s raw one.
async fn a_stalled_upload_is_stopped_and_leaves_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user_id) = user_with_key(&app, "dev@example.com", "pro").await;
    let image = png(9);
    let head = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\
                Content-Type: image/png\r\n\r\n";
    let (batch, shrink) = tokio::join!(
        stall(
            &app,
            &key,
            "/api/v1/jobs",
            "multipart/form-data; boundary=XyZ",
            head,
            &image
        ),
        stall(&app, &key, "/shrink", "image/png", "", &image),
    );
    for answer in [batch, shrink] {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("stalled"), "{answer}");
    }
    assert_eq!(job_rows(&app, user_id).await, 0);
    assert_eq!(stored_files(&app), 0);
}

/// A callback receiver: records each delivery and answers the next status of `plan` (then 200).
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    plan: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn start(plan: Vec<u16>) -> (Self, SocketAddr) {
        let receiver = Self {
            seen: Arc::default(),
            plan: Arc::new(Mutex::new(plan)),
        };
        let router = Router::new()
            .route(
                "/hook",
                post(
                    |State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes| async move {
                        receiver.seen.lock().unwrap().push((headers, body));
                        let mut plan = receiver.plan.lock().unwrap();
                        let status = if plan.is_empty() { 200 } else { plan.remove(0) };
                        AxumStatus::from_u16(status).unwrap()
                    },
                ),
            )
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        common::server_runtime().spawn(async move { axum::serve(listener, router).await });
        (receiver, addr)
    }

    fn deliveries(&self) -> Vec<(HeaderMap, Bytes)> {
        self.seen.lock().unwrap().clone()
    }
}

/// Waits (up to 20 s) until `done` holds.
async fn eventually(mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the condition did not hold within 20 s");
}

/// `job_id`'s callback once `done` holds for it (waiting up to 20 s).
async fn callback_when(
    app: &TestApp,
    job_id: &str,
    done: impl Fn(&api_jobs::CallbackState) -> bool,
) -> api_jobs::CallbackState {
    for _ in 0..400 {
        let state = api_jobs::callback_state(&app.state.db, job_id)
            .await
            .unwrap()
            .expect("the job has a callback");
        if done(&state) {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the callback did not reach the expected state within 20 s");
}

/// Checks `Slimage-Signature` the way docs/API.md tells users to; returns its timestamp.
fn verify(secret: &str, signature: &str, body: &[u8]) -> Result<i64, hmac::digest::MacError> {
    let (t, v1) = signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .expect("t=…,v1=…");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&hex::decode(v1).unwrap())?;
    Ok(t.parse().unwrap())
}

async fn callbacks_are_signed_retried_and_given_up(backend: Backend) {
    let (receiver, addr) = Receiver::start(vec![500]).await;
    let app = TestApp::spawn_with(
        backend,
        &[("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32".into())],
    )
    .await;
    let (key, user_id) = user_with_key(&app, "dev@example.com", "premium").await;
    let hook = format!("http://{addr}/hook");
    let job: Value = create_job(
        &app,
        &key,
        None,
        form(None, Some(&hook), &[("a.png", png(2))]),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(job["callback"]["url"], hook.as_str());
    assert_eq!(job["callback"]["status"], "pending");
    // Nothing is sent while the job runs.
    assert!(!callbacks::deliver_due(&app.state, now() + 60)
        .await
        .unwrap());
    assert!(receiver.deliveries().is_empty());

    work(&app).await;
    // The server's own loop sends it within a second or so; the receiver answers 500.
    eventually(|| !receiver.deliveries().is_empty()).await;
    let state = callback_when(&app, &id, |state| state.last_status.is_some()).await;
    assert_eq!((state.attempts, state.last_status), (1, Some(500)));
    assert!(state.delivered_at.is_none() && state.failed_at.is_none());
    let (headers, body) = receiver.deliveries()[0].clone();
    let secret = api_jobs::callback_secret(&app.state.db, user_id, now())
        .await
        .unwrap();
    let signature = headers["slimage-signature"].to_str().unwrap();
    let signed_at = verify(&secret, signature, &body).expect("signed with the account's secret");
    assert!((now() - signed_at).abs() < 30);
    assert_eq!(
        state.next_attempt_at - signed_at,
        10,
        "the second attempt waits 10 s"
    );
    assert_eq!(headers["content-type"], "application/json");
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["event"], "job.finished");
    assert_eq!(payload["job"]["id"], id.as_str());
    assert_eq!(payload["job"]["status"], "finished");
    assert!(payload["job"]["items"][0]["output"]["url"].is_string());
    // A tampered body or another secret does not verify.
    let mut tampered = body.to_vec();
    tampered[0] = b' ';
    assert!(verify(&secret, signature, &tampered).is_err());
    assert!(verify("whsec_wrong", signature, &body).is_err());

    // Once the backoff has passed, the retry is delivered (by this call or by the server's loop).
    for _ in 0..400 {
        if receiver.deliveries().len() >= 2 {
            break;
        }
        callbacks::deliver_due(&app.state, now() + 11)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (headers, body) = receiver.deliveries()[1].clone();
    verify(
        &secret,
        headers["slimage-signature"].to_str().unwrap(),
        &body,
    )
    .expect("the retry is signed too");
    assert_eq!(headers["slimage-delivery-attempt"], "2");
    callback_when(&app, &id, |state| state.delivered_at.is_some()).await;
    let job: Value = get(&app, &key, &format!("/api/v1/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["callback"]["status"], "delivered");
    assert_eq!(job["callback"]["attempts"], 2);
    assert_eq!(job["callback"]["last_status"], 200);

    // A receiver that never succeeds is given up after the eighth attempt.
    *receiver.plan.lock().unwrap() = vec![503; 20];
    let job: Value = create_job(
        &app,
        &key,
        None,
        form(None, Some(&hook), &[("b.png", png(4))]),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    app::on_pool!(&app.state.db, pool => sqlx::query(
        "UPDATE job_callbacks SET attempts = 7, next_attempt_at = $1 WHERE job_id = $2",
    )
    .bind(now() + 3600)
    .bind(&id)
    .execute(pool)
    .await
    .map(|_| ()))
    .unwrap();
    work(&app).await;
    assert!(callbacks::deliver_due(&app.state, now() + 3601)
        .await
        .unwrap());
    let job: Value = get(&app, &key, &format!("/api/v1/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["callback"]["status"], "failed");
    assert_eq!(job["callback"]["attempts"], 8);
    assert_eq!(job["callback"]["last_status"], 503);
    assert!(!callbacks::deliver_due(&app.state, now() + 86_400)
        .await
        .unwrap());

    // Rolling the secret signs later callbacks with the new one only.
    let rolled = api_jobs::roll_callback_secret(&app.state.db, user_id, now())
        .await
        .unwrap();
    assert_ne!(rolled, secret);
    assert_eq!(
        api_jobs::callback_secret(&app.state.db, user_id, now())
            .await
            .unwrap(),
        rolled
    );
}

async fn callbacks_to_private_addresses_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user_id) = user_with_key(&app, "dev@example.com", "premium").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "ftp://example.com/hook",
        "not a url",
    ] {
        let response = create_job(
            &app,
            &key,
            None,
            form(None, Some(url), &[("a.png", png(1))]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{url}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains("callback_url"),
            "{body}"
        );
    }
    assert_eq!(job_rows(&app, user_id).await, 0);
    assert_eq!(stored_files(&app), 0);
}

/// The OpenAPI document at `/api/openapi.json` passes `openapi-spec-validator` (PyPI) and describes
/// every API route; Swagger UI at `/api/docs` loads its assets from Slimage; schemathesis (PyPI),
/// for a bounded time, finds no 5xx and no answer that contradicts the document.
async fn the_openapi_document_validates_and_the_api_keeps_to_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("WORKERS", "1".into())]).await;
    let (key, _) = user_with_key(&app, "dev@example.com", "pro").await;
    // Thousands of requests in the run: a rate limit would leave the routes' logic untested.
    app::ssr::plans::set_field(&app.state.db, "pro", "api_requests_per_minute", "1000000")
        .await
        .unwrap();
    let doc = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), StatusCode::OK);
    let doc: Value = doc.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/shrink",
        "/output/{id}",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/{id}/archive.zip",
        "/api/v1/account",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let validated = tokio::process::Command::new("openapi-spec-validator")
        .arg(&file)
        .output()
        .await
        .expect("openapi-spec-validator runs (installed by scripts/bootstrap.sh)");
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    // Swagger UI, served from the binary.
    let docs = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.unwrap();
    assert!(!html.contains("https://"), "no asset from a CDN");
    let bundle = app
        .client
        .get(app.url("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    let initializer = app
        .client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/api/openapi.json"), "{initializer}");

    let report = dir.path().join("report");
    let run = tokio::process::Command::new("schemathesis")
        .args(["run", &app.url("/api/openapi.json")])
        .args(["--url", &app.url("")])
        .args(["--auth", &format!("api:{key}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--max-time", "40", "--max-examples", "30", "--seed", "7", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .arg("--report-dir")
        .arg(&report)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("schemathesis runs (installed by scripts/bootstrap.sh)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("/api/v1/jobs"), "{stdout}");
}

backend_tests!(
    a_batch_runs_to_results_a_zip_and_deletion_for_its_owner_only,
    bad_batches_are_refused_and_leave_nothing,
    an_idempotency_key_names_one_job_and_one_charge,
    simultaneous_batches_cannot_both_pass_the_limits,
    a_stalled_upload_is_stopped_and_leaves_nothing,
    callbacks_are_signed_retried_and_given_up,
    callbacks_to_private_addresses_are_refused,
    the_openapi_document_validates_and_the_api_keeps_to_it,
);
