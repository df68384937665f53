//! Server-rendered pages: content in the HTML, friendly 404s.

mod common;

use common::{Backend, TestApp};

async fn the_landing_page_is_rendered_on_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Smaller images. The same pictures."),
        "{html}"
    );
    for link in [
        "href=\"/compress\"",
        "href=\"/pricing\"",
        "href=\"/login\"",
        "href=\"/signup\"",
    ] {
        assert!(html.contains(link), "navigation lacks {link}");
    }
    // The hydration bundle and the stylesheet are referenced by the page.
    assert!(html.contains("/pkg/slimage.js"));
    assert!(html.contains("/pkg/slimage.css"));
    assert!(html.contains("<title>Compress images without visible loss · Slimage</title>"));
}

async fn an_unknown_page_is_a_friendly_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains("Back to the home page"));
}

backend_tests!(
    the_landing_page_is_rendered_on_the_server,
    an_unknown_page_is_a_friendly_404
);
