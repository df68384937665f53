//! The durable work queue on both backends: exclusive claims under concurrency, priority, leases
//! that expire and pass to another worker, retries with backoff, permanent failures, and exactly
//! one usage unit per finished item however often it was retried.

mod common;

use app::ssr::{
    accounts,
    db::{now, Db},
    jobs::{self as queue, Failure, Fate, ItemResult, NewItem, NewJob, MAX_ATTEMPTS},
    usage,
};
use common::{browser::PASSWORD, Backend, TestApp};
use server::worker;

async fn user(db: &Db, email: &str) -> i64 {
    accounts::create_user(db, email, PASSWORD.into(), "user")
        .await
        .unwrap()
        .id
}

fn job(user_id: Option<i64>, priority: i64) -> NewJob {
    NewJob {
        id: queue::new_id(),
        user_id,
        visitor_ip: None,
        visitor_token: None,
        source: "web",
        options: "{}".into(),
        priority,
        expires_at: now() + 3600,
    }
}

fn items(n: usize) -> Vec<NewItem> {
    (0..n)
        .map(|i| NewItem {
            id: queue::new_id(),
            name: format!("folder/photo-{i}.png"),
            input_key: format!("in/{i}"),
            input_bytes: 1000,
        })
        .collect()
}

fn result() -> ItemResult {
    ItemResult {
        output_key: "out/1".into(),
        output_bytes: 400,
        output_format: "png".into(),
        width: 10,
        height: 10,
        score: Some(80.0),
        kept_original: false,
    }
}

async fn concurrent_workers_claim_every_item_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = app.state.db.clone();
    let owner = user(&db, "ada@example.com").await;
    let t = now();
    let (job_id, ids) = queue::create_job(&db, &job(Some(owner), 0), &items(30), t)
        .await
        .unwrap();
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut claimed = Vec::new();
                while let Some(item) = queue::claim_next(&db, &format!("w{w}"), 60, t)
                    .await
                    .unwrap()
                {
                    claimed.push(item.id);
                }
                claimed
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(all, expected, "every item claimed once, none twice");
    let progress = queue::progress(&db, &job_id).await.unwrap();
    assert_eq!((progress.queued, progress.running), (0, 30));
}

async fn higher_priority_jobs_are_served_first_then_oldest_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = &app.state.db;
    let t = now();
    let (free_job, free_items) = queue::create_job(db, &job(None, 0), &items(2), t - 10)
        .await
        .unwrap();
    let (pro_job, pro_items) = queue::create_job(db, &job(None, 2), &items(2), t)
        .await
        .unwrap();
    let mut order = Vec::new();
    while let Some(item) = queue::claim_next(db, "w", 60, t).await.unwrap() {
        order.push((item.job_id, item.id));
    }
    assert_eq!(
        order,
        vec![
            (pro_job.clone(), pro_items[0].clone()),
            (pro_job, pro_items[1].clone()),
            (free_job.clone(), free_items[0].clone()),
            (free_job, free_items[1].clone()),
        ]
    );
}

async fn an_expired_lease_passes_the_item_to_another_worker_and_it_counts_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = &app.state.db;
    let owner = user(db, "ada@example.com").await;
    let t = now();
    let (job_id, _) = queue::create_job(db, &job(Some(owner), 0), &items(1), t)
        .await
        .unwrap();
    let first = queue::claim_next(db, "crashed", 30, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.attempts, 1);
    // Within the lease nobody else gets it; after it, another worker does.
    assert_eq!(
        queue::claim_next(db, "other", 30, t + 29).await.unwrap(),
        None
    );
    let second = queue::claim_next(db, "other", 30, t + 31)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (second.id.as_str(), second.attempts),
        (first.id.as_str(), 2)
    );
    // The first worker comes back too late: its result is refused, nothing counted.
    assert!(
        !queue::complete(db, &first.id, "crashed", &result(), t + 32)
            .await
            .unwrap()
    );
    assert!(!queue::extend_lease(db, &first.id, "crashed", 30, t + 32)
        .await
        .unwrap());
    assert!(queue::extend_lease(db, &second.id, "other", 30, t + 32)
        .await
        .unwrap());
    assert!(queue::complete(db, &second.id, "other", &result(), t + 33)
        .await
        .unwrap());
    // A duplicate completion changes nothing.
    assert!(!queue::complete(db, &second.id, "other", &result(), t + 34)
        .await
        .unwrap());
    assert_eq!(usage::used(db, owner, t).await.unwrap(), 1);
    assert_eq!(queue::progress(db, &job_id).await.unwrap().done, 1);
}

async fn transient_failures_retry_with_backoff_and_bad_inputs_fail_for_good(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = &app.state.db;
    let owner = user(db, "ada@example.com").await;
    let t = now();
    let (job_id, _) = queue::create_job(db, &job(Some(owner), 0), &items(2), t)
        .await
        .unwrap();

    // Item 1: storage hiccup, retried after 5 s, then done; counted once.
    let item = queue::claim_next(db, "w", 60, t).await.unwrap().unwrap();
    let fate = queue::fail(
        db,
        &item.id,
        "w",
        &Failure::Transient("storage timed out".into()),
        t,
    )
    .await
    .unwrap();
    assert_eq!(fate, Fate::Retry { at: t + 5 });
    // Item 2 is next meanwhile; it is not an image: failed with the message.
    let bad = queue::claim_next(db, "w", 60, t + 1)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(bad.id, item.id);
    let message = "not a supported image: expected PNG, JPEG, WebP, GIF, BMP or TIFF";
    let fate = queue::fail(db, &bad.id, "w", &Failure::Permanent(message.into()), t + 1)
        .await
        .unwrap();
    assert_eq!(fate, Fate::Failed);
    assert_eq!(
        queue::claim_next(db, "w", 60, t + 4).await.unwrap(),
        None,
        "still backing off"
    );
    let again = queue::claim_next(db, "w", 60, t + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id.as_str(), again.attempts), (item.id.as_str(), 2));
    assert!(queue::complete(db, &again.id, "w", &result(), t + 6)
        .await
        .unwrap());
    let progress = queue::progress(db, &job_id).await.unwrap();
    assert_eq!((progress.done, progress.failed, progress.queued), (1, 1, 0));
    assert_eq!(usage::used(db, owner, t).await.unwrap(), 1);
    let stored: Option<String> = app::on_pool!(db, pool => sqlx::query_scalar(
        "SELECT error FROM job_items WHERE id = $1"
    ).bind(&bad.id).fetch_one(pool).await)
    .unwrap();
    assert_eq!(stored.as_deref(), Some(message));
}

async fn an_item_that_keeps_failing_or_crashing_its_worker_ends_failed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = &app.state.db;
    let t = now();
    // A file whose every attempt fails transiently: failed after MAX_ATTEMPTS.
    let (flaky_job, _) = queue::create_job(db, &job(None, 0), &items(1), t)
        .await
        .unwrap();
    let mut clock = t;
    let mut fates = Vec::new();
    for attempt in 1..=MAX_ATTEMPTS {
        let item = queue::claim_next(db, "w", 60, clock)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(item.attempts, attempt);
        fates.push(
            queue::fail(
                db,
                &item.id,
                "w",
                &Failure::Transient("flaky".into()),
                clock,
            )
            .await
            .unwrap(),
        );
        clock += 700;
    }
    assert_eq!(fates.last(), Some(&Fate::Failed));
    assert!(fates[..fates.len() - 1]
        .iter()
        .all(|f| matches!(f, Fate::Retry { .. })));
    assert_eq!(queue::claim_next(db, "w", 60, clock).await.unwrap(), None);
    assert_eq!(queue::progress(db, &flaky_job).await.unwrap().failed, 1);

    // A file that kills its worker every time (the lease just expires): failed too, not looping.
    let (crash_job, _) = queue::create_job(db, &job(None, 0), &items(1), clock)
        .await
        .unwrap();
    for attempt in 1..=MAX_ATTEMPTS {
        let item = queue::claim_next(db, "w", 60, clock)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(item.attempts, attempt);
        clock += 61;
    }
    assert_eq!(queue::claim_next(db, "w", 60, clock).await.unwrap(), None);
    let progress = queue::progress(db, &crash_job).await.unwrap();
    assert_eq!(
        (progress.failed, progress.running, progress.queued),
        (1, 0, 0)
    );
}

fn fixture_jpeg() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../engine/tests/fixtures/cmyk.jpg"
    ))
    .unwrap()
}

/// The error recorded for item `id` (`None` while it has none).
async fn item_error(app: &TestApp, id: &str) -> Option<String> {
    app::on_pool!(&app.state.db, pool => sqlx::query_scalar(
        "SELECT error FROM job_items WHERE id = $1"
    ).bind(id).fetch_one(pool).await)
    .unwrap()
}

/// Stores `files` and queues them as one job of `owner` with `options`.
async fn queued(
    app: &TestApp,
    owner: i64,
    options: &str,
    files: &[(&str, Vec<u8>)],
) -> (String, Vec<String>) {
    let mut new_items = Vec::new();
    for (i, (name, bytes)) in files.iter().enumerate() {
        let key = format!("uploads/{owner}/{i}");
        app.state.storage.put(&key, bytes.clone()).await.unwrap();
        new_items.push(NewItem {
            id: queue::new_id(),
            name: name.to_string(),
            input_key: key,
            input_bytes: bytes.len() as i64,
        });
    }
    let mut new_job = job(Some(owner), 0);
    new_job.options = options.into();
    queue::create_job(&app.state.db, &new_job, &new_items, now())
        .await
        .unwrap()
}

async fn a_worker_compresses_images_and_fails_non_images_with_the_engines_message(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let owner = user(&app.state.db, "ada@example.com").await;
    let input = fixture_jpeg();
    let (job_id, ids) = queued(
        &app,
        owner,
        r#"{"mode":"balanced","format":"webp"}"#,
        &[
            ("photos/cmyk.jpg", input.clone()),
            ("notes.txt", b"just some text, not an image".to_vec()),
        ],
    )
    .await;
    assert!(worker::work_once(&app.state, "w1").await.unwrap());
    assert!(worker::work_once(&app.state, "w1").await.unwrap());
    assert!(
        !worker::work_once(&app.state, "w1").await.unwrap(),
        "nothing left"
    );

    let progress = queue::progress(&app.state.db, &job_id).await.unwrap();
    assert_eq!((progress.done, progress.failed), (1, 1));
    let (key, bytes, format, error): (Option<String>, Option<i64>, Option<String>, Option<String>) =
        app::on_pool!(&app.state.db, pool => sqlx::query_as(
            "SELECT output_key, output_bytes, output_format, error FROM job_items WHERE id = $1"
        ).bind(&ids[0]).fetch_one(pool).await)
        .unwrap();
    assert_eq!(format.as_deref(), Some("webp"));
    assert!(error.is_none());
    let stored = app.state.storage.get(&key.unwrap()).await.unwrap();
    assert_eq!(stored.len() as i64, bytes.unwrap());
    assert_eq!(&stored[8..12], b"WEBP");
    assert_eq!(
        item_error(&app, &ids[1]).await.as_deref(),
        Some("Not a supported image: expected PNG, JPEG, WebP, GIF, BMP or TIFF")
    );
    // Only the compressed image counts.
    assert_eq!(usage::used(&app.state.db, owner, now()).await.unwrap(), 1);
}

async fn an_image_over_the_operators_pixel_limit_fails_naming_the_limit(backend: Backend) {
    // MAX_MEGAPIXELS bounds a worker's memory: 1.2 MP is refused at 1, 0.12 MP still compresses.
    let app = TestApp::spawn_with(backend, &[("MAX_MEGAPIXELS", "1".into())]).await;
    let owner = user(&app.state.db, "ada@example.com").await;
    let large = image::RgbImage::from_fn(1200, 1000, |x, y| {
        image::Rgb([(x / 5) as u8, (y / 4) as u8, 90])
    });
    let mut large_png = Vec::new();
    large
        .write_to(
            &mut std::io::Cursor::new(&mut large_png),
            image::ImageFormat::Png,
        )
        .unwrap();
    let (job_id, ids) = queued(
        &app,
        owner,
        "{}",
        &[("poster.png", large_png), ("small.jpg", fixture_jpeg())],
    )
    .await;
    while worker::work_once(&app.state, "w1").await.unwrap() {}
    let progress = queue::progress(&app.state.db, &job_id).await.unwrap();
    assert_eq!((progress.done, progress.failed), (1, 1));
    assert_eq!(
        item_error(&app, &ids[0]).await.as_deref(),
        Some(
            "The image is 1200×1000 pixels (1.2 megapixels); the limit is 1 megapixel and 40000 \
             pixels a side"
        )
    );
    assert_eq!(usage::used(&app.state.db, owner, now()).await.unwrap(), 1);
}

async fn the_servers_own_workers_drain_the_queue(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("WORKERS", "2".into())]).await;
    let owner = user(&app.state.db, "ada@example.com").await;
    let files: Vec<(&str, Vec<u8>)> = (0..3).map(|_| ("cmyk.jpg", fixture_jpeg())).collect();
    let (job_id, _) = queued(&app, owner, "{}", &files).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let progress = queue::progress(&app.state.db, &job_id).await.unwrap();
        if progress.done == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the workers did not finish: {progress:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(usage::used(&app.state.db, owner, now()).await.unwrap(), 3);
}

backend_tests!(
    a_worker_compresses_images_and_fails_non_images_with_the_engines_message,
    the_servers_own_workers_drain_the_queue,
    an_image_over_the_operators_pixel_limit_fails_naming_the_limit,
    concurrent_workers_claim_every_item_exactly_once,
    higher_priority_jobs_are_served_first_then_oldest_in_order,
    an_expired_lease_passes_the_item_to_another_worker_and_it_counts_once,
    transient_failures_retry_with_backoff_and_bad_inputs_fail_for_good,
    an_item_that_keeps_failing_or_crashing_its_worker_ends_failed,
);
