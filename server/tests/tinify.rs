//! The Tinify-compatible API on both backends: `POST /shrink` with an API key compresses the body
//! and answers like TinyPNG (201, `Location`, `Compression-Count`, the JSON body); `GET /output/…`
//! returns the smaller image; errors come in Tinify's shape with Tinify's statuses.

mod common;

use app::ssr::{accounts, api_keys, billing, db::now, usage};
use common::{browser::PASSWORD, images::jpeg, Backend, TestApp};
use reqwest::{header, StatusCode};
use serde_json::Value;

/// An app with one in-process worker (a shrink waits for it) and a user with an API key.
async fn app_with_key(backend: Backend) -> (TestApp, String, i64) {
    let app = TestApp::spawn_with(backend, &[("WORKERS", "1".into())]).await;
    let user = accounts::create_user(&app.state.db, "dev@example.com", PASSWORD.into(), "user")
        .await
        .unwrap();
    let (_, key) = api_keys::create(&app.state.db, user.id, "ci")
        .await
        .unwrap();
    (app, key, user.id)
}

async fn shrink(app: &TestApp, key: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/shrink"))
        .basic_auth("api", Some(key))
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn shrink_answers_like_tinypng_and_the_output_is_smaller(backend: Backend) {
    let (app, key, _) = app_with_key(backend).await;
    let input = jpeg();
    let response = shrink(&app, &key, input.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["compression-count"], "1");
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.starts_with(&app.url("/output/")), "{location}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["input"]["size"], input.len());
    assert_eq!(body["input"]["type"], "image/jpeg");
    assert_eq!(body["output"]["type"], "image/jpeg");
    assert_eq!(body["output"]["width"], 400);
    assert_eq!(body["output"]["height"], 300);
    assert_eq!(body["output"]["url"], location.as_str());
    let size = body["output"]["size"].as_u64().unwrap();
    assert!(size < input.len() as u64);
    let ratio = body["output"]["ratio"].as_f64().unwrap();
    assert!(
        (ratio - size as f64 / input.len() as f64).abs() < 1e-3,
        "{ratio}"
    );

    // The output, with the key (count shown) or by its unguessable URL alone.
    let output = app
        .client
        .get(&location)
        .basic_auth("api", Some(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(output.status(), StatusCode::OK);
    assert_eq!(output.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(output.headers()["image-width"], "400");
    assert_eq!(output.headers()["compression-count"], "1");
    assert_eq!(output.bytes().await.unwrap().len() as u64, size);
    let anonymous = app.client.get(&location).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::OK);
    let unknown = app
        .client
        .get(app.url("/output/nosuchoutput"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

async fn errors_come_in_tinifys_shape(backend: Backend) {
    let (app, key, user_id) = app_with_key(backend).await;
    let error_of = |response: reqwest::Response| async move {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        (
            status,
            body["error"].as_str().unwrap().to_string(),
            body["message"].as_str().unwrap().to_string(),
        )
    };
    let (status, code, _) = error_of(shrink(&app, "wrong-key", jpeg()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "Unauthorized")
    );
    let no_key = app
        .client
        .post(app.url("/shrink"))
        .body(jpeg())
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_key.status(),
        StatusCode::UNAUTHORIZED,
        "no key is 401, not a CSRF refusal"
    );
    let (status, code, _) = error_of(shrink(&app, &key, Vec::new()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "InputMissing")
    );
    let (status, code, message) =
        error_of(shrink(&app, &key, b"%PDF-1.7 not an image".to_vec()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedFile"),
        "{message}"
    );
    let mut huge = jpeg();
    huge.resize(5_000_001, 0);
    let (status, code, _) = error_of(shrink(&app, &key, huge).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge")
    );
    usage::record(&app.state.db, user_id, 500, now())
        .await
        .unwrap();
    let spent = shrink(&app, &key, jpeg()).await;
    assert!(spent.headers().contains_key(header::RETRY_AFTER));
    let (status, code, _) = error_of(spent).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests")
    );
}

/// TinyPNG's own Python client (PyPI `tinify`, installed by `scripts/bootstrap.sh`), unmodified
/// but for its endpoint, compresses through Slimage and raises its own error classes. The server's
/// `PUBLIC_URL` is the https front the script puts before it (Tinify's clients require https output
/// URLs).
async fn the_official_python_client_works_unchanged(backend: Backend) {
    let front_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(
        backend,
        &[
            ("WORKERS", "1".into()),
            ("PUBLIC_URL", format!("https://127.0.0.1:{front_port}")),
        ],
    )
    .await;
    let user = accounts::create_user(&app.state.db, "dev@example.com", PASSWORD.into(), "user")
        .await
        .unwrap();
    let (_, key) = api_keys::create(&app.state.db, user.id, "ci")
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tinify_client/run.py");
    let image = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/fixtures/photo.jpg");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .env("SLIMAGE_BACKEND", app.url(""))
        .env("FRONT_PORT", front_port.to_string())
        .env("SLIMAGE_KEY", &key)
        .env("IMAGE", image)
        .output()
        .await
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the client script failed (pip install tinify, done by scripts/bootstrap.sh):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["output_bytes"].as_u64().unwrap() < report["input_bytes"].as_u64().unwrap(),
        "{report}"
    );
    assert_eq!(report["output_starts_jpeg"], true, "{report}");
    assert_eq!(report["compression_count"], 1, "{report}");
    assert_eq!(
        report["resized"],
        serde_json::json!([100, 75, "image/jpeg"]),
        "{report}"
    );
    assert_eq!(
        report["converted"],
        serde_json::json!(["image/webp", true]),
        "{report}"
    );
    assert_eq!(report["unsupported"], "ClientError", "{report}");
    assert_eq!(report["unsupported_status"], 415, "{report}");
    assert_eq!(report["bad_key"], "AccountError", "{report}");
    assert_eq!(report["bad_key_status"], 401, "{report}");
}

async fn each_key_is_rate_limited_by_its_plan(backend: Backend) {
    let (app, key, _) = app_with_key(backend).await;
    app::ssr::plans::set_field(&app.state.db, "free", "api_requests_per_minute", "2")
        .await
        .unwrap();
    let account = || {
        app.client
            .get(app.url("/api/v1/account"))
            .basic_auth("api", Some(&key))
            .send()
    };
    let response = account().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["ratelimit-limit"], "2");
    assert_eq!(response.headers()["compression-count"], "0");
    let reset: i64 = response.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&reset), "{reset}");
    // The window itself, on a fixed clock: two requests, then refused until the next minute.
    let (key_id,): (i64,) = app::on_pool!(&app.state.db, pool => sqlx::query_as(
        "SELECT id FROM api_keys WHERE user_id = (SELECT id FROM users WHERE email = 'dev@example.com')",
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    let minute = 1_800_000_000;
    let states: Vec<_> = [minute + 1, minute + 30, minute + 59, minute + 60]
        .into_iter()
        .map(|t| app::ssr::rate_limit::hit(&app.state.db, key_id, 2, t))
        .collect();
    let mut seen = Vec::new();
    for state in states {
        let state = state.await.unwrap();
        seen.push((state.allowed, state.remaining, state.reset_secs));
    }
    assert_eq!(
        seen,
        [(true, 1, 59), (true, 0, 30), (false, 0, 1), (true, 1, 60)]
    );
    // A plan that allows none: refused over HTTP with the headers and Tinify's error.
    app::ssr::plans::set_field(&app.state.db, "free", "api_requests_per_minute", "0")
        .await
        .unwrap();
    let refused = account().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "TooManyRequests");
    // Another account's key on a paid plan is not affected.
    let other = accounts::create_user(&app.state.db, "b@example.com", PASSWORD.into(), "user")
        .await
        .unwrap();
    billing::set_account_plan(&app.state.db, "b@example.com", "premium")
        .await
        .unwrap();
    let (_, other_key) = api_keys::create(&app.state.db, other.id, "b")
        .await
        .unwrap();
    let response = app
        .client
        .get(app.url("/api/v1/account"))
        .basic_auth("api", Some(&other_key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["ratelimit-limit"], "120");
}

async fn outputs_are_resized_and_converted_on_request(backend: Backend) {
    let (app, key, user_id) = app_with_key(backend).await;
    let created = shrink(&app, &key, jpeg()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let post = |json: &'static str| {
        app.client
            .post(&location)
            .basic_auth("api", Some(&key))
            .header(header::CONTENT_TYPE, "application/json")
            .body(json)
            .send()
    };
    let fit = post(r#"{"resize":{"method":"fit","width":100,"height":100}}"#)
        .await
        .unwrap();
    assert_eq!(fit.status(), StatusCode::OK);
    assert_eq!(fit.headers()["image-width"], "100");
    assert_eq!(fit.headers()["image-height"], "75");
    assert_eq!(fit.headers()[header::CONTENT_TYPE], "image/jpeg");
    let cover = post(r#"{"resize":{"method":"cover","width":50,"height":50}}"#)
        .await
        .unwrap();
    assert_eq!(
        (
            cover.headers()["image-width"].to_str().unwrap(),
            cover.headers()["image-height"].to_str().unwrap()
        ),
        ("50", "50")
    );
    let webp = post(r#"{"convert":{"type":"image/webp"}}"#).await.unwrap();
    assert_eq!(webp.headers()[header::CONTENT_TYPE], "image/webp");
    assert_eq!(&webp.bytes().await.unwrap()[8..12], b"WEBP");
    let avif = post(r#"{"convert":{"type":"image/avif"}}"#).await.unwrap();
    assert_eq!(avif.status(), StatusCode::OK);
    assert_eq!(avif.headers()[header::CONTENT_TYPE], "image/avif");
    assert_eq!(&avif.bytes().await.unwrap()[4..12], b"ftypavif");
    // Each transformation counts as one compression, as Tinify counts them.
    assert_eq!(usage::used(&app.state.db, user_id, now()).await.unwrap(), 5);
    for (json, status) in [
        (
            r#"{"resize":{"method":"scale","width":10,"height":10}}"#,
            StatusCode::BAD_REQUEST,
        ),
        (r#"{"rotate":90}"#, StatusCode::BAD_REQUEST),
        ("not json", StatusCode::BAD_REQUEST),
    ] {
        let response = post(json).await.unwrap();
        assert_eq!(response.status(), status, "{json}");
    }
    // Another account's key cannot transform this output.
    let other = accounts::create_user(&app.state.db, "b@example.com", PASSWORD.into(), "user")
        .await
        .unwrap();
    let (_, other_key) = api_keys::create(&app.state.db, other.id, "b")
        .await
        .unwrap();
    let stranger = app
        .client
        .post(&location)
        .basic_auth("api", Some(&other_key))
        .body(r#"{"convert":{"type":"image/png"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);
}

backend_tests!(
    outputs_are_resized_and_converted_on_request,
    each_key_is_rate_limited_by_its_plan,
    shrink_answers_like_tinypng_and_the_output_is_smaller,
    errors_come_in_tinifys_shape,
    the_official_python_client_works_unchanged,
);
