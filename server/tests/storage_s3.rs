//! Files on S3-compatible storage (`STORAGE_URL=s3://…`), against a real S3 server: moto's, from
//! PyPI (installed by `scripts/bootstrap.sh`), started on a free port for each test. Uploads
//! stream into the bucket in parts, workers read and write it, downloads and clean-up use it.

mod common;

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use app::{
    compress::{ItemStatus, JobView, UploadAnswer},
    ssr::{billing, db::now, retention},
};
use common::{
    browser::{Browser, PASSWORD},
    images::png,
    Backend, TestApp,
};
use reqwest::StatusCode;
use server::worker;

/// A moto S3 server on its own port with one bucket, stopped when dropped.
struct S3Server {
    child: Child,
    port: u16,
}

impl S3Server {
    async fn start(bucket: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "moto_server runs (pip install 'moto[s3,server]', done by scripts/bootstrap.sh)",
            );
        let server = Self { child, port };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client
                .put(format!("{}/{bucket}", server.url()))
                .send()
                .await
            {
                assert!(
                    response.status().is_success(),
                    "bucket created: {}",
                    response.status()
                );
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start within a minute"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn files_live_in_the_bucket(backend: Backend) {
    let s3 = S3Server::start("slimage-files").await;
    let app = TestApp::spawn_with(
        backend,
        &[
            (
                "STORAGE_URL",
                format!("s3://slimage-files?endpoint={}", s3.url()),
            ),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ],
    )
    .await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let mut ada = Browser::new(&app);
    assert!(ada
        .sign_up("ada@example.com", PASSWORD)
        .await
        .status()
        .is_success());
    billing::set_account_plan(&app.state.db, "ada@example.com", "premium")
        .await
        .unwrap();

    // A 12 MB file goes up in several parts; it comes back byte for byte.
    let small = png(0);
    let mut large = png(0);
    large.resize(12_000_000, 7);
    let response = ada
        .upload(
            None,
            &[("small.png", small.clone()), ("large.png", large.clone())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let job = response.json::<UploadAnswer>().await.unwrap().job;
    let keys: Vec<String> = app
        .state
        .storage
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let original = ada
        .get(&format!(
            "/api/jobs/{}/items/{}/original",
            job.id, job.items[1].id
        ))
        .await;
    assert_eq!(original.bytes().await.unwrap().len(), large.len());

    while worker::work_once(&app.state, "s3-worker").await.unwrap() {}
    let view: JobView = ada
        .get(&format!("/api/jobs/{}", job.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view.items[0].status, ItemStatus::Done, "{view:?}");
    let result = ada
        .get(&format!(
            "/api/jobs/{}/items/{}/result",
            job.id, view.items[0].id
        ))
        .await;
    assert_eq!(result.status(), StatusCode::OK);
    assert!(result.bytes().await.unwrap().len() < small.len());

    // Retention passes: the bucket is emptied of the job's files.
    app::on_pool!(&app.state.db, pool => sqlx::query("UPDATE jobs SET expires_at = 0").execute(pool).await.map(|_| ())).unwrap();
    let report = retention::clean_files(&app.state, now()).await.unwrap();
    assert_eq!(report.expired_jobs, 1);
    assert!(app.state.storage.list("").await.unwrap().is_empty());
}

backend_tests!(files_live_in_the_bucket);
