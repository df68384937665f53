//! Accounts end to end over HTTP, on both backends: sign-up, log-in, sessions, lock-out, password
//! change and reset, CSRF, API keys and deletion, as a browser and an API client see them.

mod common;

use common::{
    browser::{error_of, redirected_to, Browser, PASSWORD},
    Backend, TestApp,
};
use reqwest::header;
use serde_json::Value;

async fn sign_up_opens_a_session_with_safe_cookie_flags_and_the_account_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::new(&app);
    let response = browser.sign_up("  Ada@Example.COM ", PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(redirected_to(&response), "/account");
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("slimage_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain-http site got a Secure cookie: {cookie}"
    );
    assert!(
        cookie.contains("Max-Age=1209600") || cookie.contains("Expires="),
        "{cookie}"
    );

    let account = browser.account().await;
    assert_eq!(account["email"], "ada@example.com");
    assert_eq!(account["plan"], "free");
    let html = browser.get("/account").await.text().await.unwrap();
    assert!(
        html.contains("ada@example.com") && html.contains("Member since"),
        "{html}"
    );

    // Without the cookie, the account page sends the visitor to log in.
    let anonymous = Browser::new(&app).get("/account").await;
    assert_eq!(anonymous.status(), 302);
    assert_eq!(redirected_to(&anonymous), "/login");
}

async fn an_https_site_sets_secure_cookies(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("PUBLIC_URL", "https://slimage.test".into())]).await;
    let mut browser = Browser::new(&app);
    browser.origin = "https://slimage.test".into();
    let response = browser.sign_up("grace@example.com", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

async fn duplicate_and_invalid_sign_ups_are_refused_next_to_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_up("ada@example.com", PASSWORD).await.status(),
        200
    );
    let cases = [
        ("ADA@example.com", PASSWORD, "email", "already exists"),
        ("ada.example.com", PASSWORD, "email", "@"),
        ("", PASSWORD, "email", "Enter your email"),
        ("bob@example.com", "short", "password", "at least 10"),
        ("bob@example.com", "qwertyuiop", "password", "commonly used"),
        (
            "bobby.tables@example.com",
            "bobby.tables@example.com",
            "password",
            "email",
        ),
    ];
    for (email, password, field, says) in cases {
        let mut other = Browser::new(&app);
        let (status, variant, got_field, message) =
            error_of(other.sign_up(email, password).await).await;
        assert_eq!(status, 422, "{email}/{password}: {message}");
        assert_eq!(variant, "Invalid");
        assert_eq!(got_field.as_deref(), Some(field), "{email}/{password}");
        assert!(message.contains(says), "{email}/{password}: {message}");
        assert!(other.cookie.is_none(), "a refused sign-up opened a session");
    }
}

async fn wrong_passwords_get_one_generic_error_then_a_lock_with_retry_after(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    Browser::new(&app)
        .sign_up("ada@example.com", PASSWORD)
        .await;
    let mut browser = Browser::new(&app);

    let (_, _, _, unknown) = error_of(browser.log_in("nobody@example.com", PASSWORD).await).await;
    let (status, variant, field, wrong) =
        error_of(browser.log_in("ada@example.com", "not the password").await).await;
    assert_eq!(
        (status.as_u16(), variant.as_str(), field.as_deref()),
        (422, "Invalid", Some("password"))
    );
    assert_eq!(
        unknown, wrong,
        "the answer tells which emails have accounts"
    );
    assert_eq!(wrong, "The email or password is incorrect.");

    for _ in 0..4 {
        let response = browser.log_in("ada@example.com", "still not it").await;
        assert_eq!(response.status(), 422);
    }
    // Five failures: the sixth attempt is refused even with the right password.
    let locked = browser.log_in("ada@example.com", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    let retry_after: u64 = locked.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (800..=900).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    let (_, variant, _, message) = error_of(locked).await;
    assert_eq!(variant, "TooManyRequests");
    assert!(message.contains("15 minutes"), "{message}");
    assert!(browser.cookie.is_none());

    // The lock is for that email from that address; another account still logs in.
    Browser::new(&app)
        .sign_up("grace@example.com", PASSWORD)
        .await;
    assert_eq!(
        browser.log_in("grace@example.com", PASSWORD).await.status(),
        200
    );

    let failed: (i64,) = count_events(&app, "login_failed").await;
    let locks: (i64,) = count_events(&app, "login_locked").await;
    assert_eq!((failed.0, locks.0), (6, 1));
}

async fn count_events(app: &TestApp, event: &str) -> (i64,) {
    app::on_pool!(&app.state.db, pool => sqlx::query_as("SELECT COUNT(*) FROM security_events WHERE event = $1")
        .bind(event)
        .fetch_one(pool)
        .await
        .unwrap())
}

async fn log_out_ends_the_session_on_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("ada@example.com", PASSWORD).await;
    let old_cookie = browser.cookie.clone().unwrap();
    let response = browser.call("logout", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(redirected_to(&response), "/");
    assert!(browser.cookie.is_none(), "the cookie was not cleared");

    // Replaying the old cookie is anonymous: the record is gone, not just the cookie.
    browser.cookie = Some(old_cookie);
    assert_eq!(browser.account().await, Value::Null);
    let (status, variant, _, _) = error_of(browser.call("api_keys", &[]).await).await;
    assert_eq!((status.as_u16(), variant.as_str()), (401, "Unauthorized"));
}

async fn a_request_still_running_at_log_out_does_not_sign_the_browser_back_in(backend: Backend) {
    use tower_sessions::{session::Id, session_store::SessionStore};

    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("ada@example.com", PASSWORD).await;
    let cookie = browser.cookie.clone().unwrap();
    let id: Id = cookie.split_once('=').unwrap().1.parse().unwrap();
    // A request that loaded the session before the log-out (the account page's data, say) and
    // saves it after it, as every request does to renew the 14 days.
    let store = app::ssr::sessions::SqlSessionStore::new(app.state.db.clone());
    let in_flight = store.load(&id).await.unwrap().expect("signed in");
    let response = browser.call("logout", &[]).await;
    assert_eq!(redirected_to(&response), "/");
    store.save(&in_flight).await.unwrap();

    // The old cookie stays signed out.
    browser.cookie = Some(cookie);
    assert_eq!(browser.account().await, Value::Null);
    assert!(store.load(&id).await.unwrap().is_none());
}

async fn log_in_cycles_the_session_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    Browser::new(&app)
        .sign_up("grace@example.com", PASSWORD)
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_up("ada@example.com", PASSWORD).await;
    let before = browser.cookie.clone().unwrap();
    // Logging in from a browser that already holds a session gets a new id, and the old id
    // (which someone may have planted) is worthless afterwards.
    assert_eq!(
        browser.log_in("grace@example.com", PASSWORD).await.status(),
        200
    );
    assert_ne!(browser.cookie.as_deref(), Some(before.as_str()));
    assert_eq!(browser.account().await["email"], "grace@example.com");
    browser.cookie = Some(before);
    assert_eq!(browser.account().await, Value::Null);
}

async fn changing_the_password_ends_every_other_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut laptop = Browser::new(&app);
    laptop.sign_up("ada@example.com", PASSWORD).await;
    let mut phone = Browser::new(&app);
    assert_eq!(
        phone.log_in("ada@example.com", PASSWORD).await.status(),
        200
    );
    let laptop_cookie = laptop.cookie.clone();

    let (status, _, field, _) = error_of(
        laptop
            .call(
                "change_password",
                &[
                    ("current_password", "wrong one!!"),
                    ("new_password", "a new long secret"),
                ],
            )
            .await,
    )
    .await;
    assert_eq!(
        (status.as_u16(), field.as_deref()),
        (422, Some("current_password"))
    );

    let response = laptop
        .call(
            "change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new long secret"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_ne!(
        laptop.cookie, laptop_cookie,
        "the session id was not cycled"
    );
    assert_eq!(laptop.account().await["email"], "ada@example.com");
    assert_eq!(
        phone.account().await,
        Value::Null,
        "the other device is still signed in"
    );

    let mut fresh = Browser::new(&app);
    assert_eq!(
        fresh.log_in("ada@example.com", PASSWORD).await.status(),
        422
    );
    assert_eq!(
        fresh
            .log_in("ada@example.com", "a new long secret")
            .await
            .status(),
        200
    );
}

/// The reset link in the newest email of the outbox.
fn reset_link_in_outbox(app: &TestApp) -> Option<String> {
    let dir = app.data_dir.path().join("outbox");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let text = decode_quoted_printable(&std::fs::read_to_string(files.last()?).unwrap());
    let start = text.find("http://")?;
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    Some(link)
}

/// Undoes the quoted-printable encoding lettre gives long lines (what a mail client does).
pub fn decode_quoted_printable(text: &str) -> String {
    text.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

fn token_of(link: &str) -> String {
    let url = url::Url::parse(link).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned()
}

async fn a_reset_link_works_once_within_the_hour(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    Browser::new(&app)
        .sign_up("ada@example.com", PASSWORD)
        .await;
    let mut browser = Browser::new(&app);

    // Unknown email: same answer, no email.
    let unknown = browser
        .call("forgot_password", &[("email", "nobody@example.com")])
        .await;
    let (unknown_status, unknown_location) =
        (unknown.status(), redirected_to(&unknown).to_string());
    assert!(reset_link_in_outbox(&app).is_none());
    let known = browser
        .call("forgot_password", &[("email", "ADA@example.com")])
        .await;
    assert_eq!(
        (known.status(), redirected_to(&known)),
        (unknown_status, unknown_location.as_str())
    );

    let link = reset_link_in_outbox(&app).expect("an email with a link");
    assert!(
        link.starts_with(&app.url("/reset-password?token=")),
        "{link}"
    );
    let token = token_of(&link);

    let (status, _, field, _) = error_of(
        browser
            .call(
                "reset_password",
                &[("token", &token), ("new_password", "short")],
            )
            .await,
    )
    .await;
    assert_eq!(
        (status.as_u16(), field.as_deref()),
        (422, Some("new_password"))
    );

    let response = browser
        .call(
            "reset_password",
            &[("token", &token), ("new_password", "brand new secret")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(browser.account().await["email"], "ada@example.com");
    assert_eq!(
        Browser::new(&app)
            .log_in("ada@example.com", "brand new secret")
            .await
            .status(),
        200
    );

    // Used once: never again.
    let (status, _, field, message) = error_of(
        Browser::new(&app)
            .call(
                "reset_password",
                &[("token", &token), ("new_password", "another new secret")],
            )
            .await,
    )
    .await;
    assert_eq!((status.as_u16(), field.as_deref()), (422, Some("token")));
    assert!(message.contains("expired or was already used"), "{message}");

    // A link older than an hour does not work.
    browser
        .call("forgot_password", &[("email", "ada@example.com")])
        .await;
    let late_token = token_of(&reset_link_in_outbox(&app).unwrap());
    assert_ne!(late_token, token);
    app::on_pool!(&app.state.db, pool => sqlx::query("UPDATE password_resets SET expires_at = expires_at - 3601 WHERE used_at IS NULL")
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());
    let (_, _, field, _) = error_of(
        browser
            .call(
                "reset_password",
                &[
                    ("token", &late_token),
                    ("new_password", "another new secret"),
                ],
            )
            .await,
    )
    .await;
    assert_eq!(field.as_deref(), Some("token"));
}

async fn a_request_from_a_foreign_origin_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::new(&app);
    browser.origin = "https://evil.example".into();
    let response = browser.sign_up("ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Forbidden");

    // No Origin and no Referer at all: refused too.
    let bare = app
        .client
        .post(app.url("/api/signup"))
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 403);
    let (count,): (i64,) = app::on_pool!(&app.state.db, pool => sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await
        .unwrap());
    assert_eq!(count, 0, "a refused request created an account");
}

async fn api_keys_authenticate_with_basic_and_bearer_until_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("ada@example.com", PASSWORD).await;
    assert_eq!(
        browser
            .call("create_api_key", &[("name", "build server")])
            .await
            .status(),
        200
    );
    let listed: Value = browser.call("api_keys", &[]).await.json().await.unwrap();
    let key = listed["new_secret"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    assert_eq!(key.len(), 32);
    assert_eq!(listed["keys"][0]["name"], "build server");
    assert_eq!(listed["keys"][0]["prefix"], key[..6]);
    assert!(listed["keys"][0]["last_used"].is_null());
    let again: Value = browser.call("api_keys", &[]).await.json().await.unwrap();
    assert!(again["new_secret"].is_null(), "the secret was shown twice");

    let api = |auth: Option<String>| {
        let mut request = app.client.get(app.url("/api/v1/account"));
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        request.send()
    };
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"))
    );
    let response = api(Some(basic.clone())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["email"],
        "ada@example.com"
    );
    assert_eq!(
        api(Some(format!("Bearer {key}"))).await.unwrap().status(),
        200
    );
    assert_eq!(api(None).await.unwrap().status(), 401);
    assert_eq!(
        api(Some("Bearer wrongwrongwrong".into()))
            .await
            .unwrap()
            .status(),
        401
    );
    let used: Value = browser.call("api_keys", &[]).await.json().await.unwrap();
    assert!(used["keys"][0]["last_used"].is_string());

    // Another user cannot revoke it.
    let mut mallory = Browser::new(&app);
    mallory.sign_up("mallory@example.com", PASSWORD).await;
    let id = listed["keys"][0]["id"].as_i64().unwrap().to_string();
    assert_eq!(
        mallory
            .call("revoke_api_key", &[("id", &id)])
            .await
            .status(),
        404
    );
    assert_eq!(api(Some(basic.clone())).await.unwrap().status(), 200);

    assert_eq!(
        browser
            .call("revoke_api_key", &[("id", &id)])
            .await
            .status(),
        200
    );
    let revoked = api(Some(basic)).await.unwrap();
    assert_eq!(revoked.status(), 401);
    assert_eq!(
        revoked.json::<Value>().await.unwrap()["error"],
        "Unauthorized"
    );
}

async fn deleting_the_account_needs_the_password_and_removes_everything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::new(&app);
    browser.sign_up("ada@example.com", PASSWORD).await;
    browser.call("create_api_key", &[("name", "ci")]).await;
    let key: Value = browser.call("api_keys", &[]).await.json().await.unwrap();
    let key = key["new_secret"].as_str().unwrap().to_string();
    let mut phone = Browser::new(&app);
    phone.log_in("ada@example.com", PASSWORD).await;

    let (status, _, field, _) = error_of(
        browser
            .call("delete_account", &[("password", "wrong password")])
            .await,
    )
    .await;
    assert_eq!((status.as_u16(), field.as_deref()), (422, Some("password")));
    assert_eq!(
        browser
            .call("delete_account", &[("password", PASSWORD)])
            .await
            .status(),
        200
    );

    assert_eq!(browser.account().await, Value::Null);
    assert_eq!(phone.account().await, Value::Null);
    let api = app
        .client
        .get(app.url("/api/v1/account"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(
        Browser::new(&app)
            .log_in("ada@example.com", PASSWORD)
            .await
            .status(),
        422
    );
    let (sessions,): (i64,) = app::on_pool!(&app.state.db, pool => sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL")
        .fetch_one(pool)
        .await
        .unwrap());
    assert_eq!(sessions, 0);
    // The address is free again.
    assert_eq!(
        Browser::new(&app)
            .sign_up("ada@example.com", PASSWORD)
            .await
            .status(),
        200
    );
}

async fn forms_work_without_javascript(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::new(&app);
    // An error goes back to the form's page, which shows it next to the field.
    let refused = browser
        .submit(
            "signup",
            &[("email", "ada@example.com"), ("password", "short")],
            "/signup",
        )
        .await;
    assert_eq!(refused.status(), 302);
    let back = redirected_to(&refused).to_string();
    assert!(back.starts_with(&app.url("/signup?")), "{back}");
    let page = browser
        .get(&back.replacen(&app.url(""), "", 1))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Use at least 10 characters"), "{page}");

    let accepted = browser
        .submit(
            "signup",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
            "/signup",
        )
        .await;
    assert_eq!(accepted.status(), 302);
    assert_eq!(redirected_to(&accepted), "/account");
    assert!(browser.cookie.is_some());
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(page.contains("ada@example.com"));
}

backend_tests!(
    sign_up_opens_a_session_with_safe_cookie_flags_and_the_account_page,
    an_https_site_sets_secure_cookies,
    duplicate_and_invalid_sign_ups_are_refused_next_to_the_field,
    wrong_passwords_get_one_generic_error_then_a_lock_with_retry_after,
    log_out_ends_the_session_on_the_server,
    a_request_still_running_at_log_out_does_not_sign_the_browser_back_in,
    log_in_cycles_the_session_id,
    changing_the_password_ends_every_other_session,
    a_reset_link_works_once_within_the_hour,
    a_request_from_a_foreign_origin_is_refused,
    api_keys_authenticate_with_basic_and_bearer_until_revoked,
    deleting_the_account_needs_the_password_and_removes_everything,
    forms_work_without_javascript,
);
