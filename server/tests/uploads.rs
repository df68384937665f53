//! The compress journey over HTTP on both backends: upload → job → workers → results for the
//! owner only; every limit refused before any work with its status and message and nothing left
//! behind; the ZIP's entries and names; retention, quota and orphan clean-up; and a worker process
//! killed in the middle of a batch.

mod common;

use std::io::{Cursor, Read};

use app::{
    compress::{ItemStatus, JobView, UploadAnswer},
    ssr::{
        billing,
        db::{now, Db},
        plans, retention, usage,
    },
};
use common::{
    browser::{Browser, PASSWORD},
    images::{jpeg, png},
    Backend, TestApp,
};
use reqwest::{header, Method, StatusCode};
use server::worker;

async fn signed_up<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    let mut browser = Browser::new(app);
    assert!(browser.sign_up(email, PASSWORD).await.status().is_success());
    browser
}

async fn uploaded(
    browser: &mut Browser<'_>,
    options: Option<&str>,
    files: &[(&str, Vec<u8>)],
) -> JobView {
    let response = browser.upload(options, files).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<UploadAnswer>().await.unwrap().job
}

/// Runs the queue in this process until it is empty.
async fn drain(app: &TestApp) {
    while worker::work_once(&app.state, "test-worker").await.unwrap() {}
}

async fn job_of(browser: &mut Browser<'_>, id: &str) -> JobView {
    let response = browser.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn user_id(db: &Db, email: &str) -> i64 {
    app::ssr::accounts::find_by_email(db, email)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn stored_objects(app: &TestApp) -> Vec<String> {
    app.state
        .storage
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

async fn job_rows(db: &Db) -> i64 {
    app::on_pool!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs").fetch_one(pool).await).unwrap()
}

async fn uploads_are_compressed_and_only_their_owner_sees_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ada = signed_up(&app, "ada@example.com").await;
    let (png_bytes, jpeg_bytes) = (png(0), jpeg());
    let job = uploaded(
        &mut ada,
        Some(r#"{"mode":"balanced"}"#),
        &[
            ("holiday/beach.png", png_bytes.clone()),
            ("portrait.jpg", jpeg_bytes.clone()),
        ],
    )
    .await;
    assert_eq!(job.items.len(), 2);
    assert_eq!(job.items[0].name, "holiday/beach.png");
    assert!(job.items.iter().all(|i| i.status == ItemStatus::Queued));
    assert!(!job.bulk_zip, "the Free plan has no bulk ZIP");

    drain(&app).await;
    let done = job_of(&mut ada, &job.id).await;
    assert!(done.is_finished());
    for (item, input) in done.items.iter().zip([&png_bytes, &jpeg_bytes]) {
        assert_eq!(item.status, ItemStatus::Done, "{item:?}");
        assert_eq!(item.input_bytes, input.len() as i64);
        assert!(item.output_bytes.unwrap() < item.input_bytes, "{item:?}");
        assert!(item.score.unwrap() >= 70.0, "{item:?}");
    }

    // The owner downloads the result under the original's name, and sees the original inline.
    let item = &done.items[0];
    let download = ada
        .get(&format!(
            "/api/jobs/{}/items/{}/result?download=1",
            job.id, item.id
        ))
        .await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()[header::CONTENT_TYPE], "image/png");
    assert!(download.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"beach.png\""));
    assert_eq!(
        download.bytes().await.unwrap().len() as i64,
        item.output_bytes.unwrap()
    );
    let original = ada
        .get(&format!("/api/jobs/{}/items/{}/original", job.id, item.id))
        .await;
    assert_eq!(original.status(), StatusCode::OK);
    assert_eq!(original.bytes().await.unwrap().to_vec(), png_bytes);

    // Anyone else — another account, or nobody — finds nothing there.
    let mut bob = signed_up(&app, "bob@example.com").await;
    let mut nobody = Browser::new(&app);
    for stranger in [&mut bob, &mut nobody] {
        for path in [
            format!("/api/jobs/{}", job.id),
            format!("/api/jobs/{}/items/{}/result", job.id, item.id),
            format!("/api/jobs/{}/items/{}/original", job.id, item.id),
            format!("/api/jobs/{}/archive.zip", job.id),
        ] {
            assert_eq!(
                stranger.get(&path).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        let delete = stranger
            .send(Method::DELETE, &format!("/api/jobs/{}", job.id))
            .await;
        assert_eq!(delete.status(), StatusCode::NOT_FOUND);
    }
    // An item id of another job does not open through this one.
    let other = uploaded(&mut bob, None, &[("b.png", png(9))]).await;
    let crossed = ada
        .get(&format!(
            "/api/jobs/{}/items/{}/original",
            job.id, other.items[0].id
        ))
        .await;
    assert_eq!(crossed.status(), StatusCode::NOT_FOUND);

    // Two finished files count two images, once.
    let ada_id = user_id(&app.state.db, "ada@example.com").await;
    assert_eq!(usage::used(&app.state.db, ada_id, now()).await.unwrap(), 2);

    // Deleting the job deletes its files; the history keeps it with its sizes.
    let delete = ada
        .send(Method::DELETE, &format!("/api/jobs/{}", job.id))
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    let gone = ada
        .get(&format!("/api/jobs/{}/items/{}/result", job.id, item.id))
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert!(job_of(&mut ada, &job.id).await.files_deleted);
    assert!(stored_objects(&app)
        .await
        .iter()
        .all(|key| !key.contains(&job.id)));
    let history = app::ssr::job_files::history(&app.state.db, ada_id, 1)
        .await
        .unwrap();
    assert_eq!(history.jobs.len(), 1);
    assert!(history.jobs[0].files_deleted && history.jobs[0].output_bytes > 0);
}

/// Asserts a refused upload: status, a message containing `says`, no job row, no stored object.
async fn assert_refused(
    app: &TestApp,
    browser: &mut Browser<'_>,
    files: &[(&str, Vec<u8>)],
    status: StatusCode,
    says: &str,
) {
    let response = browser.upload(None, files).await;
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let (got, _, _, message) = error_of_json(response).await;
    assert_eq!(got, status, "{message}");
    assert!(message.contains(says), "{message:?} should say {says:?}");
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert!(retry_after.is_some(), "429 says when to retry");
    }
    assert_eq!(
        job_rows(&app.state.db).await,
        0,
        "no job row for a refused upload"
    );
    assert_eq!(
        stored_objects(app).await,
        Vec::<String>::new(),
        "no object for a refused upload"
    );
}

/// (status, code, -, message) of a JSON error body from a plain route.
async fn error_of_json(
    response: reqwest::Response,
) -> (StatusCode, String, Option<String>, String) {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
        None,
        body["message"].as_str().unwrap_or_default().to_string(),
    )
}

async fn limits_are_refused_before_any_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = app.state.db.clone();
    let mut ada = signed_up(&app, "ada@example.com").await;

    // Larger than the Free plan's 5 MB: refused while streaming, even after a good file.
    let mut huge = png(1);
    huge.resize(5_000_001, 0);
    assert_refused(
        &app,
        &mut ada,
        &[("ok.png", png(0)), ("huge.png", huge)],
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than 5 MB",
    )
    .await;
    // Not an image by its bytes, whatever its name says.
    assert_refused(
        &app,
        &mut ada,
        &[
            ("ok.png", png(0)),
            ("notes.png", b"just some text, honestly".to_vec()),
        ],
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "is not an image",
    )
    .await;
    assert_refused(
        &app,
        &mut ada,
        &[("empty.png", Vec::new())],
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "is empty",
    )
    .await;
    // More files than the plan takes in one drop.
    plans::set_field(&db, "free", "max_files_per_batch", "2")
        .await
        .unwrap();
    assert_refused(
        &app,
        &mut ada,
        &[("1.png", png(1)), ("2.png", png(2)), ("3.png", png(3))],
        StatusCode::PAYLOAD_TOO_LARGE,
        "more than 2 files",
    )
    .await;
    // Nothing sent, or options that make no sense.
    let empty = ada.upload(None, &[]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let bad = ada
        .upload(Some(r#"{"mode":"extreme"}"#), &[("1.png", png(1))])
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(job_rows(&db).await, 0);
    // More than the month's allowance has left (files still queued count too).
    let ada_id = user_id(&db, "ada@example.com").await;
    usage::record(&db, ada_id, 499, now()).await.unwrap();
    assert_refused(
        &app,
        &mut ada,
        &[("1.png", png(1)), ("2.png", png(2))],
        StatusCode::TOO_MANY_REQUESTS,
        "1 image left",
    )
    .await;
    usage::record(&db, ada_id, 1, now()).await.unwrap();
    assert_refused(
        &app,
        &mut ada,
        &[("1.png", png(1))],
        StatusCode::TOO_MANY_REQUESTS,
        "used this month's images",
    )
    .await;
    // A request from another site is refused before anything is read.
    ada.origin = "https://evil.example".into();
    assert_eq!(
        ada.upload(None, &[("1.png", png(1))]).await.status(),
        StatusCode::FORBIDDEN
    );
}

async fn the_zip_holds_every_result_under_safe_unique_names(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ada = signed_up(&app, "ada@example.com").await;
    let files = [
        ("trip/x.png", png(1)),
        ("other/x.png", png(2)),
        ("trip/X.png", png(3)),
        ("../../escape.jpg", jpeg()),
    ];
    let job = uploaded(&mut ada, None, &files).await;
    drain(&app).await;
    // Free: no ZIP, with the reason.
    let refused = ada.get(&format!("/api/jobs/{}/archive.zip", job.id)).await;
    let (status, _, _, message) = error_of_json(refused).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("Premium feature"), "{message}");

    billing::set_account_plan(&app.state.db, "ada@example.com", "premium")
        .await
        .unwrap();
    let response = ada.get(&format!("/api/jobs/{}/archive.zip", job.id)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().to_string())
        .collect();
    assert_eq!(
        names,
        ["trip/x.png", "other/x.png", "trip/X (2).png", "escape.jpg"]
    );
    let view = job_of(&mut ada, &job.id).await;
    for (i, item) in view.items.iter().enumerate() {
        let mut entry = zip.by_index(i).unwrap();
        assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        let result = ada
            .get(&format!("/api/jobs/{}/items/{}/result", job.id, item.id))
            .await;
        assert_eq!(
            content,
            result.bytes().await.unwrap().to_vec(),
            "{}",
            item.name
        );
        assert!((content.len() as i64) < item.input_bytes);
    }
}

async fn files_go_when_retention_passes_and_orphans_are_swept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = app.state.db.clone();
    let mut ada = signed_up(&app, "ada@example.com").await;
    let old = uploaded(&mut ada, None, &[("old.png", png(1))]).await;
    // The Free plan runs one job at a time: a second drop waits for the first to finish.
    let busy = ada.upload(None, &[("fresh.png", png(2))]).await;
    let (status, _, _, message) = error_of_json(busy).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(message.contains("runs 1 at a time"), "{message}");
    drain(&app).await;
    let fresh = uploaded(&mut ada, None, &[("fresh.png", png(2))]).await;
    drain(&app).await;
    app::on_pool!(&db, pool => sqlx::query("UPDATE jobs SET expires_at = $1 WHERE id = $2")
        .bind(now() - 1)
        .bind(&old.id)
        .execute(pool)
        .await
        .map(|_| ()))
    .unwrap();
    // An object no job knows, written two hours ago (an upload whose rows never landed).
    app.state
        .storage
        .put("u999/strayjob/in/stray", png(3))
        .await
        .unwrap();
    let stray = app.files_dir().join("u999/strayjob/in/stray");
    std::fs::File::options()
        .write(true)
        .open(&stray)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();

    // Only one process cleans at a time.
    assert!(
        retention::try_lock(&db, retention::CLEANUP_LOCK, "a", 600, now())
            .await
            .unwrap()
    );
    assert!(
        !retention::try_lock(&db, retention::CLEANUP_LOCK, "b", 600, now())
            .await
            .unwrap()
    );
    retention::unlock(&db, retention::CLEANUP_LOCK, "a")
        .await
        .unwrap();
    assert!(
        retention::try_lock(&db, retention::CLEANUP_LOCK, "b", 600, now())
            .await
            .unwrap()
    );

    let report = retention::clean_files(&app.state, now()).await.unwrap();
    assert_eq!(
        (report.expired_jobs, report.orphaned_objects),
        (1, 1),
        "{report:?}"
    );
    let left = stored_objects(&app).await;
    assert!(
        left.iter()
            .all(|k| !k.contains(&old.id) && !k.contains("stray")),
        "{left:?}"
    );
    assert_eq!(
        left.iter().filter(|k| k.contains(&fresh.id)).count(),
        2,
        "{left:?}"
    );
    let old_view = job_of(&mut ada, &old.id).await;
    assert!(old_view.files_deleted);
    let gone = ada
        .get(&format!(
            "/api/jobs/{}/items/{}/result",
            old.id, old_view.items[0].id
        ))
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // A downgrade below what is stored: the oldest finished jobs go until it fits.
    plans::set_field(&db, "free", "storage_quota_bytes", "1")
        .await
        .unwrap();
    let report = retention::clean_files(&app.state, now()).await.unwrap();
    assert_eq!(report.over_quota_jobs, 1, "{report:?}");
    assert!(job_of(&mut ada, &fresh.id).await.files_deleted);
    assert_eq!(stored_objects(&app).await, Vec::<String>::new());
}

async fn a_worker_process_killed_mid_batch_loses_nothing_and_counts_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = app.state.db.clone();
    let mut ada = signed_up(&app, "ada@example.com").await;
    let files: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("batch/{i}.png"), png(i * 20)))
        .collect();
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let job = uploaded(&mut ada, None, &files).await;

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("worker")
        .env("DATABASE_URL", app.database_url())
        .env("DATA_DIR", app.data_dir.path())
        .env("WORKERS", "1")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("the worker process starts");
    // Wait (polling the database, up to a minute) until it has claimed work, then kill it hard.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let started: i64 = app::on_pool!(&db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM job_items WHERE attempts > 0",
        )
        .fetch_one(pool)
        .await)
        .unwrap();
        if started > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker process never claimed an item"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Its lease would run out in two minutes; let it run out now.
    app::on_pool!(&db, pool => sqlx::query(
        "UPDATE job_items SET lease_expires_at = $1 WHERE status = 'running'",
    )
    .bind(now() - 1)
    .execute(pool)
    .await
    .map(|_| ()))
    .unwrap();

    drain(&app).await;
    let view = job_of(&mut ada, &job.id).await;
    assert!(
        view.items.iter().all(|i| i.status == ItemStatus::Done),
        "{view:?}"
    );
    let ada_id = user_id(&db, "ada@example.com").await;
    assert_eq!(
        usage::used(&db, ada_id, now()).await.unwrap(),
        6,
        "each image counted once"
    );
    for item in &view.items {
        let result = ada
            .get(&format!("/api/jobs/{}/items/{}/result", job.id, item.id))
            .await;
        assert_eq!(result.status(), StatusCode::OK);
    }
}

async fn visitors_may_try_ten_images_a_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut visitor = Browser::new(&app);
    let job = uploaded(&mut visitor, None, &[("a.png", png(1))]).await;
    assert!(job.expires_at - job.created_at <= 3600, "kept one hour");
    drain(&app).await;
    assert_eq!(
        job_of(&mut visitor, &job.id).await.items[0].status,
        ItemStatus::Done
    );
    // Another visitor (another session) cannot see it.
    let mut other = Browser::new(&app);
    assert_eq!(
        other.get(&format!("/api/jobs/{}", job.id)).await.status(),
        StatusCode::NOT_FOUND
    );
    // Over 5 MB without an account.
    let mut big = png(1);
    big.resize(5_000_001, 0);
    let response = other.upload(None, &[("big.png", big)]).await;
    let (status, _, _, message) = error_of_json(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        message.contains("larger than 5 MB") && message.contains("Sign up"),
        "{message}"
    );
    // Nine more today from this address, then no more.
    let nine: Vec<(String, Vec<u8>)> = (0..9).map(|i| (format!("{i}.png"), png(i))).collect();
    let nine: Vec<(&str, Vec<u8>)> = nine.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    uploaded(&mut other, None, &nine).await;
    let response = other.upload(None, &[("11.png", png(11))]).await;
    let (status, _, _, message) = error_of_json(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(message.contains("Sign up"), "{message}");
}

backend_tests!(
    uploads_are_compressed_and_only_their_owner_sees_them,
    limits_are_refused_before_any_work,
    the_zip_holds_every_result_under_safe_unique_names,
    files_go_when_retention_passes_and_orphans_are_swept,
    a_worker_process_killed_mid_batch_loses_nothing_and_counts_once,
    visitors_may_try_ten_images_a_day,
);
