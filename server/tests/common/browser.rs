//! A browser for the integration tests: one cookie jar, our Origin on every post, server
//! functions called the way the hydrated page calls them or the way a form without JavaScript
//! posts them.

use reqwest::{header, Response, StatusCode};
use serde_json::Value;

use super::TestApp;

/// A password every test account can use.
pub const PASSWORD: &str = "correct horse battery";

/// A browser: one cookie jar (the session cookie), our Origin on every post.
pub struct Browser<'a> {
    app: &'a TestApp,
    /// The `Origin` header sent with every post.
    pub origin: String,
    /// The session cookie (`slimage_session=…`), when signed in.
    pub cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            origin: app.url(""),
            cookie: None,
        }
    }

    /// Calls a server function the way the hydrated page does (JSON answers).
    pub async fn call(&mut self, function: &str, form: &[(&str, &str)]) -> Response {
        self.post(function, form, "application/json", None).await
    }

    /// Posts a form the way a browser without JavaScript does.
    pub async fn submit(&mut self, function: &str, form: &[(&str, &str)], page: &str) -> Response {
        let referer = self.app.url(page);
        self.post(
            function,
            form,
            "text/html,application/xhtml+xml",
            Some(referer),
        )
        .await
    }

    async fn post(
        &mut self,
        function: &str,
        form: &[(&str, &str)],
        accept: &str,
        referer: Option<String>,
    ) -> Response {
        let mut request = self
            .app
            .client
            .post(self.app.url(&format!("/api/{function}")))
            .header(header::ORIGIN, &self.origin)
            .header(header::ACCEPT, accept)
            .form(form);
        if let Some(referer) = referer {
            request = request.header(header::REFERER, referer);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// Opens a page the way a browser navigates to it.
    pub async fn get(&mut self, path: &str) -> Response {
        let mut request = self
            .app
            .client
            .get(self.app.url(path))
            .header(header::ACCEPT, "text/html,application/xhtml+xml");
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    fn remember(&mut self, response: &Response) {
        for value in response.headers().get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap().to_string();
            if pair.starts_with("slimage_session=") {
                let cleared = pair == "slimage_session=" || value.contains("Max-Age=0");
                self.cookie = (!cleared).then_some(pair);
            }
        }
    }

    /// Uploads `files` (name as dropped, bytes) as one batch with optional `options` JSON, the
    /// way the compress page does.
    pub async fn upload(&mut self, options: Option<&str>, files: &[(&str, Vec<u8>)]) -> Response {
        let mut form = reqwest::multipart::Form::new().percent_encode_noop();
        if let Some(options) = options {
            form = form.text("options", options.to_string());
        }
        for (name, bytes) in files {
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        let mut request = self
            .app
            .client
            .post(self.app.url("/api/uploads"))
            .header(header::ORIGIN, &self.origin)
            .multipart(form);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// Sends `method` to `path` with the session cookie and our Origin (no body).
    pub async fn send(&mut self, method: reqwest::Method, path: &str) -> Response {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .header(header::ORIGIN, &self.origin);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// The signed-in account as the pages see it, or `Value::Null`.
    pub async fn account(&mut self) -> Value {
        let response = self.call("account", &[]).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn sign_up(&mut self, email: &str, password: &str) -> Response {
        self.call("signup", &[("email", email), ("password", password)])
            .await
    }

    pub async fn log_in(&mut self, email: &str, password: &str) -> Response {
        self.call("login", &[("email", email), ("password", password)])
            .await
    }
}

/// The `AppError` a failed server function answered with: (status, variant, field, message).
pub async fn error_of(response: Response) -> (StatusCode, String, Option<String>, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    let (variant, inner) = body
        .as_object()
        .and_then(|o| o.iter().next())
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap_or_else(|| (body.as_str().unwrap_or_default().to_string(), Value::Null));
    let field = inner
        .get("field")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = inner
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| inner.as_str())
        .unwrap_or_default()
        .to_string();
    (status, variant, field, message)
}

pub fn redirected_to(response: &Response) -> &str {
    response.headers()[header::LOCATION].to_str().unwrap()
}
