//! Liveness, readiness, request ids and API error bodies, on both backends.

mod common;

use common::{Backend, TestApp};
use serde_json::Value;

async fn healthz_answers_while_the_process_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

async fn readyz_is_ready_when_database_and_storage_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "database": "ok", "storage": "ok"})
    );
}

async fn readyz_is_unavailable_when_storage_is_gone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    std::fs::remove_dir_all(app.files_dir()).unwrap();
    std::fs::write(app.files_dir(), b"a file where the directory was").unwrap();
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["storage"], "unavailable");
    assert_eq!(body["database"], "ok");
}

async fn readyz_is_unavailable_when_the_database_is_closed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.state.db.close().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "unavailable");
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");

    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    assert_ne!(
        response.headers()["x-request-id"],
        "<script>alert(1)</script>"
    );
}

async fn an_unknown_api_route_answers_a_json_error_with_the_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .post(app.url("/api/no-such-thing"))
        .header("origin", app.url(""))
        .header("x-request-id", "trace-me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "NotFound");
    assert_eq!(body["message"], "Not found.");
    assert_eq!(body["request_id"], "trace-me");
}

backend_tests!(
    healthz_answers_while_the_process_runs,
    readyz_is_ready_when_database_and_storage_answer,
    readyz_is_unavailable_when_storage_is_gone,
    readyz_is_unavailable_when_the_database_is_closed,
    every_response_carries_a_request_id,
    an_unknown_api_route_answers_a_json_error_with_the_request_id,
);
