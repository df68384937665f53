//! Plans, usage and Stripe billing end to end, on both backends: the real async-stripe client
//! against the fake Stripe in `common/fake_stripe.rs`, webhooks signed as Stripe signs them.

mod common;

use app::ssr::{billing, db::now, plans, usage};
use common::{
    browser::{error_of, redirected_to, Browser, PASSWORD},
    fake_stripe::{
        self, sign, unix_now, FakeStripe, WebhookTarget, PRICE_PREMIUM, PRICE_PRO, WEBHOOK_SECRET,
    },
    Backend, TestApp,
};
use reqwest::{header, StatusCode};
use serde_json::Value;

/// An app configured with Stripe pointing at a fresh fake, whose webhooks go to the app.
async fn billed_app(backend: Backend) -> (TestApp, FakeStripe) {
    billed_app_with(backend, &[]).await
}

async fn billed_app_with(
    backend: Backend,
    extra: &[(&'static str, String)],
) -> (TestApp, FakeStripe) {
    let fake = common::server_runtime()
        .spawn(FakeStripe::start("127.0.0.1:0".parse().unwrap(), None))
        .await
        .unwrap();
    let mut vars = vec![
        ("STRIPE_SECRET_KEY", fake_stripe::SECRET_KEY.to_string()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
        ("STRIPE_PRICE_PREMIUM", PRICE_PREMIUM.to_string()),
        ("STRIPE_PRICE_PRO", PRICE_PRO.to_string()),
        ("STRIPE_API_BASE", fake.base_url()),
    ];
    vars.extend(extra.iter().cloned());
    let app = TestApp::spawn_with(backend, &vars).await;
    fake.set_webhook(WebhookTarget {
        url: app.url("/webhooks/stripe"),
        secret: WEBHOOK_SECRET.into(),
    });
    (app, fake)
}

/// Posts `payload` to the webhook with `signature` (or none); returns status and JSON body.
async fn post_webhook(
    app: &TestApp,
    payload: &str,
    signature: Option<String>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(payload.to_string());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Delivers `payload` signed as Stripe signs it, now; expects 200 and returns the outcome.
async fn deliver(app: &TestApp, payload: &str) -> String {
    let (status, body) = post_webhook(
        app,
        payload,
        Some(sign(payload, WEBHOOK_SECRET, unix_now())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["status"].as_str().unwrap().to_string()
}

/// Signs up a new user; returns the browser and the user id.
async fn customer<'a>(app: &'a TestApp, email: &str) -> (Browser<'a>, i64) {
    let mut browser = Browser::new(app);
    assert_eq!(browser.sign_up(email, PASSWORD).await.status(), 200);
    let id = app::ssr::accounts::find_by_email(&app.state.db, email)
        .await
        .unwrap()
        .unwrap()
        .id;
    (browser, id)
}

async fn summary(browser: &mut Browser<'_>) -> Value {
    let response = browser.call("billing_summary", &[]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Starts Checkout for `plan` and returns the Checkout Session id the browser was sent to.
async fn checkout(browser: &mut Browser<'_>, fake: &FakeStripe, plan: &str) -> String {
    let response = browser
        .submit("checkout", &[("plan", plan)], "/pricing")
        .await;
    assert_eq!(response.status(), 302, "{:?}", response.text().await);
    let location = redirected_to(&response).to_string();
    let prefix = format!("http://{}/checkout/", fake.addr);
    assert!(location.starts_with(&prefix), "{location}");
    location[prefix.len()..].to_string()
}

/// A user on Premium through a completed checkout whose webhooks were delivered.
async fn premium_customer<'a>(
    app: &'a TestApp,
    fake: &FakeStripe,
    email: &str,
) -> (Browser<'a>, String, String) {
    let (mut browser, _) = customer(app, email).await;
    let session = checkout(&mut browser, fake, "premium").await;
    let (sub_id, events) = fake.complete_checkout(&session);
    for event in &events {
        assert_eq!(deliver(app, event).await, "processed");
    }
    let customer = fake.subscription(&sub_id).unwrap().customer;
    (browser, sub_id, customer)
}

async fn checkout_creates_a_session_with_the_plans_price_customer_and_urls(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, user_id) = customer(&app, "ada@example.com").await;

    let session = checkout(&mut browser, &fake, "premium").await;
    let customers = fake.calls("POST", "/v1/customers");
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0].param("email"), Some("ada@example.com"));
    assert_eq!(
        customers[0].param("metadata[slimage_user_id]"),
        Some(user_id.to_string().as_str())
    );
    let sessions = fake.calls("POST", "/v1/checkout/sessions");
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.param("mode"), Some("subscription"));
    assert_eq!(s.param("line_items[0][price]"), Some(PRICE_PREMIUM));
    assert_eq!(s.param("line_items[0][quantity]"), Some("1"));
    assert!(s.param("customer").unwrap().starts_with("cus_"));
    assert_eq!(
        s.param("client_reference_id"),
        Some(user_id.to_string().as_str())
    );
    assert_eq!(
        s.param("success_url").unwrap(),
        app.url("/billing/success?session_id={CHECKOUT_SESSION_ID}")
    );
    assert_eq!(
        s.param("cancel_url").unwrap(),
        app.url("/pricing?notice=checkout-cancelled")
    );
    assert!(session.starts_with("cs_"));

    // A second attempt (say, after cancelling checkout) reuses the customer and buys Pro's price.
    checkout(&mut browser, &fake, "pro").await;
    assert_eq!(fake.calls("POST", "/v1/customers").len(), 1);
    let sessions = fake.calls("POST", "/v1/checkout/sessions");
    assert_eq!(sessions[1].param("line_items[0][price]"), Some(PRICE_PRO));
    assert_eq!(sessions[1].param("customer"), sessions[0].param("customer"));

    // The free plan cannot be bought, and visitors are sent to sign up first.
    let (status, _, _, message) =
        error_of(browser.call("checkout", &[("plan", "free")]).await).await;
    assert_eq!(status, 400);
    assert!(message.contains("cannot be bought"), "{message}");
    let mut visitor = Browser::new(&app);
    let response = visitor
        .submit("checkout", &[("plan", "premium")], "/pricing")
        .await;
    assert_eq!(redirected_to(&response), "/signup");
}

async fn a_signed_checkout_webhook_activates_the_plan(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, _) = customer(&app, "ada@example.com").await;
    let before = summary(&mut browser).await;
    assert_eq!(before["plan"]["id"], "free");
    assert_eq!(before["allowance"], 500);

    let session = checkout(&mut browser, &fake, "premium").await;
    let (sub_id, events) = fake.complete_checkout(&session);
    // The browser is back before the webhook: still Free ("activating…").
    assert_eq!(summary(&mut browser).await["subscribed"], false);
    assert_eq!(deliver(&app, &events[0]).await, "processed");

    let after = summary(&mut browser).await;
    assert_eq!(after["plan"]["id"], "premium");
    assert_eq!(after["standing"], "active");
    assert_eq!(after["allowance"], 10_000);
    assert_eq!(after["plan"]["max_file"], "25 MB");
    assert!(
        after["standing_text"]
            .as_str()
            .unwrap()
            .starts_with("Renews on "),
        "{after}"
    );
    assert_eq!(after["can_cancel"], true);
    // The subscription was read from Stripe, not taken from the event.
    assert_eq!(
        fake.calls("GET", &format!("/v1/subscriptions/{sub_id}"))
            .len(),
        1
    );

    // The account page shows it too, and Upgrade is gone from the pricing page.
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(page.contains("Premium"), "account page lacks the plan");
    let pricing = browser.get("/pricing").await.text().await.unwrap();
    assert!(pricing.contains(r#"data-testid="plan-premium" data-current="true""#));
}

async fn bad_stale_or_missing_signatures_are_refused_and_recorded(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, _) = customer(&app, "ada@example.com").await;
    let session = checkout(&mut browser, &fake, "premium").await;
    let (_, events) = fake.complete_checkout(&session);
    let payload = &events[0];

    let wrong = sign(payload, "whsec_someone_else", unix_now());
    // Stale only grows staler before the server checks it; a future timestamp gets closer to the
    // server's clock with every second the request takes, so it needs a margin (CI once took a
    // second between signing and checking, and `now + 301` was then accepted as 300 s ahead).
    let stale = sign(payload, WEBHOOK_SECRET, unix_now() - 301);
    let future = sign(payload, WEBHOOK_SECRET, unix_now() + 360);
    // Signed as sent by Stripe, then altered on the way: the signature no longer matches.
    let tampered_body = payload.replace("\"livemode\":false", "\"livemode\":true");
    assert_ne!(&tampered_body, payload);
    let genuine = Some(sign(payload, WEBHOOK_SECRET, unix_now()));
    let cases = [
        (payload.as_str(), Some(wrong)),
        (payload.as_str(), Some(stale)),
        (payload.as_str(), Some(future)),
        (tampered_body.as_str(), genuine),
        (payload.as_str(), Some("t=abc".into())),
        (payload.as_str(), None),
    ];
    for (body, signature) in cases {
        let (status, answer) = post_webhook(&app, body, signature.clone()).await;
        assert_eq!(status, 400, "{signature:?}: {answer}");
        assert!(answer.to_string().contains("signature"), "{answer}");
    }
    assert_eq!(summary(&mut browser).await["plan"]["id"], "free");
    let refused: i64 = app::on_pool!(&app.state.db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM security_events WHERE event = 'stripe_webhook_refused'"
    ).fetch_one(pool).await)
    .unwrap();
    assert_eq!(refused, 6);
    // Still within tolerance: accepted.
    let ok = sign(payload, WEBHOOK_SECRET, unix_now() - 200);
    assert_eq!(post_webhook(&app, payload, Some(ok)).await.0, 200);
    assert_eq!(summary(&mut browser).await["plan"]["id"], "premium");
}

async fn a_redelivered_event_is_acknowledged_and_ignored(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, _) = customer(&app, "ada@example.com").await;
    let session = checkout(&mut browser, &fake, "premium").await;
    let (sub_id, events) = fake.complete_checkout(&session);
    assert_eq!(deliver(&app, &events[0]).await, "processed");
    assert_eq!(deliver(&app, &events[0]).await, "duplicate");
    assert_eq!(deliver(&app, &events[0]).await, "duplicate");
    assert_eq!(
        fake.calls("GET", &format!("/v1/subscriptions/{sub_id}"))
            .len(),
        1
    );
    assert_eq!(summary(&mut browser).await["plan"]["id"], "premium");
}

async fn unknown_event_types_are_acknowledged_and_ignored(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let payload = fake.event(
        "charge.refunded",
        serde_json::json!({ "id": "ch_1", "object": "charge" }),
        unix_now(),
    );
    assert_eq!(deliver(&app, &payload).await, "ignored");
    assert_eq!(fake.requests().len(), 0);
}

async fn out_of_order_subscription_events_never_restore_an_older_state(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, sub_id, _) = premium_customer(&app, &fake, "ada@example.com").await;
    let t0 = unix_now();
    let old_state = fake.subscription_json(&sub_id); // not cancelled
                                                     // The customer cancels in the portal: Stripe's state changes and an event is sent.
    fake.update_subscription(&sub_id, |s| s.cancel_at_period_end = true);
    let new_event = fake.event(
        "customer.subscription.updated",
        fake.subscription_json(&sub_id),
        t0 + 5,
    );
    let old_event = fake.event("customer.subscription.updated", old_state, t0);
    // The newer event arrives first, the older one after it.
    assert_eq!(deliver(&app, &new_event).await, "processed");
    assert_eq!(deliver(&app, &old_event).await, "processed");
    let s = summary(&mut browser).await;
    assert_eq!(s["standing"], "ending", "{s}");
    assert_eq!(s["plan"]["id"], "premium");
    assert_eq!(s["can_resume"], true);

    // And a stale read never overwrites a newer stored one.
    let stored_at: i64 = app::on_pool!(&app.state.db, pool => sqlx::query_scalar(
        "SELECT state_at FROM subscriptions"
    ).fetch_one(pool).await)
    .unwrap();
    assert!(stored_at > 0);
}

async fn a_failed_payment_keeps_the_plan_for_the_grace_period_then_free(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, sub_id, customer_id) = premium_customer(&app, &fake, "ada@example.com").await;
    fake.update_subscription(&sub_id, |s| s.status = "past_due".into());
    let failed = fake.event(
        "invoice.payment_failed",
        fake.invoice_json(&customer_id, &sub_id, "open"),
        unix_now(),
    );
    assert_eq!(deliver(&app, &failed).await, "processed");
    let s = summary(&mut browser).await;
    assert_eq!(s["plan"]["id"], "premium");
    assert_eq!(s["standing"], "payment_failed");
    assert!(
        s["standing_text"]
            .as_str()
            .unwrap()
            .contains("payment failed"),
        "{s}"
    );

    // Eight days later (the failure is moved back in time): Free.
    app::on_pool!(&app.state.db, pool => sqlx::query(
        "UPDATE subscriptions SET payment_failed_at = payment_failed_at - 8 * 86400"
    ).execute(pool).await.map(|_| ()))
    .unwrap();
    let s = summary(&mut browser).await;
    assert_eq!(s["plan"]["id"], "free", "{s}");
    assert_eq!(s["allowance"], 500);

    // Paying the invoice restores the plan.
    fake.update_subscription(&sub_id, |s| s.status = "active".into());
    let paid = fake.event(
        "invoice.paid",
        fake.invoice_json(&customer_id, &sub_id, "paid"),
        unix_now(),
    );
    assert_eq!(deliver(&app, &paid).await, "processed");
    let s = summary(&mut browser).await;
    assert_eq!(
        (s["plan"]["id"].as_str(), s["standing"].as_str()),
        (Some("premium"), Some("active"))
    );
    // A late copy of the old failure (created before the payment) does not start a new grace.
    let late_failure = fake.event(
        "invoice.payment_failed",
        fake.invoice_json(&customer_id, &sub_id, "open"),
        unix_now() - 3600,
    );
    assert_eq!(deliver(&app, &late_failure).await, "processed");
    assert_eq!(summary(&mut browser).await["standing"], "active");
}

async fn a_deleted_subscription_falls_back_to_free_at_period_end(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, sub_id, _) = premium_customer(&app, &fake, "ada@example.com").await;
    fake.update_subscription(&sub_id, |s| s.status = "canceled".into());
    let deleted = fake.event(
        "customer.subscription.deleted",
        fake.subscription_json(&sub_id),
        unix_now(),
    );
    assert_eq!(deliver(&app, &deleted).await, "processed");
    let s = summary(&mut browser).await;
    assert_eq!(
        (s["plan"]["id"].as_str(), s["standing"].as_str()),
        (Some("premium"), Some("ending"))
    );

    // Once the period is over it is Free.
    fake.update_subscription(&sub_id, |s| s.period_end = unix_now() - 1);
    let later = fake.event(
        "customer.subscription.deleted",
        fake.subscription_json(&sub_id),
        unix_now(),
    );
    assert_eq!(deliver(&app, &later).await, "processed");
    let s = summary(&mut browser).await;
    assert_eq!(
        (s["plan"]["id"].as_str(), s["standing"].as_str()),
        (Some("free"), Some("assigned"))
    );
    assert_eq!(s["subscribed"], false);
}

async fn cancelling_sets_cancel_at_period_end_and_shows_until_when(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, sub_id, _) = premium_customer(&app, &fake, "ada@example.com").await;
    let response = browser.submit("cancel_subscription", &[], "/account").await;
    assert_eq!(
        redirected_to(&response),
        "/account?notice=subscription-cancelled"
    );
    let calls = fake.calls("POST", &format!("/v1/subscriptions/{sub_id}"));
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].param("cancel_at_period_end"), Some("true"));
    assert!(fake.subscription(&sub_id).unwrap().cancel_at_period_end);
    let s = summary(&mut browser).await;
    assert_eq!(s["standing"], "ending");
    let text = s["standing_text"].as_str().unwrap();
    assert!(
        text.contains("lasts until") && text.contains("then you are on Free"),
        "{text}"
    );

    // Keep my plan undoes it.
    browser.submit("resume_subscription", &[], "/account").await;
    assert_eq!(summary(&mut browser).await["standing"], "active");
    assert!(!fake.subscription(&sub_id).unwrap().cancel_at_period_end);
}

async fn manage_billing_opens_the_customer_portal(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, _, customer_id) = premium_customer(&app, &fake, "ada@example.com").await;
    let response = browser.submit("billing_portal", &[], "/account").await;
    assert_eq!(response.status(), 302);
    assert!(redirected_to(&response).starts_with(&format!("http://{}/portal/bps_", fake.addr)));
    let calls = fake.calls("POST", "/v1/billing_portal/sessions");
    assert_eq!(calls[0].param("customer"), Some(customer_id.as_str()));
    assert_eq!(
        calls[0].param("return_url"),
        Some(app.url("/account").as_str())
    );
    // Someone who never paid has no billing account to manage.
    let (mut other, _) = customer(&app, "bob@example.com").await;
    let (status, _, _, message) = error_of(other.call("billing_portal", &[]).await).await;
    assert_eq!(status, 400);
    assert!(message.contains("choose a plan"), "{message}");
}

async fn deleting_an_account_cancels_its_subscription(backend: Backend) {
    let (app, fake) = billed_app(backend).await;
    let (mut browser, sub_id, _) = premium_customer(&app, &fake, "ada@example.com").await;
    let response = browser
        .call("delete_account", &[("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(fake.subscription(&sub_id).unwrap().status, "canceled");
}

async fn usage_counts_exactly_under_concurrency(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, user_id) = customer(&app, "ada@example.com").await;
    let at = now();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let db = app.state.db.clone();
            tokio::spawn(async move { usage::record(&db, user_id, 1, at).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(usage::used(&app.state.db, user_id, at).await.unwrap(), 200);
    // Counted in the month it finished: last month's images do not count now.
    usage::record(&app.state.db, user_id, 7, at - 40 * 86_400)
        .await
        .unwrap();
    assert_eq!(usage::used(&app.state.db, user_id, at).await.unwrap(), 200);
    assert_eq!(
        usage::used(&app.state.db, user_id, at - 40 * 86_400)
            .await
            .unwrap(),
        7
    );
}

async fn a_batch_over_the_allowance_is_refused_with_what_remains(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut browser, user_id) = customer(&app, "ada@example.com").await;
    let free = plans::get(&app.state.db, "free").await.unwrap().unwrap();
    usage::record(&app.state.db, user_id, 495, now())
        .await
        .unwrap();
    usage::check_batch(&app.state.db, user_id, &free, 5, now())
        .await
        .unwrap();
    let error = usage::check_batch(&app.state.db, user_id, &free, 6, now())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("has 5 of 500 left"), "{message}");
    assert!(message.contains("resets on 1 "), "{message}");
    assert!(matches!(
        error,
        app::error::AppError::TooManyRequests { .. }
    ));
    // The meter shows the same numbers.
    let s = summary(&mut browser).await;
    assert_eq!(
        (s["used"].as_i64(), s["allowance"].as_i64()),
        (Some(495), Some(500))
    );
    usage::record(&app.state.db, user_id, 5, now())
        .await
        .unwrap();
    let message = usage::check_batch(&app.state.db, user_id, &free, 1, now())
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("used all 500 images"), "{message}");
}

async fn without_stripe_every_page_works_and_upgrades_say_why_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut browser, _) = customer(&app, "ada@example.com").await;
    let pricing = browser.get("/pricing").await;
    assert_eq!(pricing.status(), 200);
    let html = pricing.text().await.unwrap();
    for text in [
        "Free",
        "Premium",
        "Pro",
        "10,000",
        "Billing is not configured",
        "Current plan",
    ] {
        assert!(html.contains(text), "pricing page lacks {text:?}");
    }
    assert!(html.contains(r#"data-testid="plan-free" data-current="true""#));
    for page in [
        "/",
        "/pricing",
        "/account",
        "/billing/success",
        "/login",
        "/signup",
    ] {
        assert_eq!(browser.get(page).await.status(), 200, "{page}");
    }
    let (status, _, _, message) =
        error_of(browser.call("checkout", &[("plan", "premium")]).await).await;
    assert_eq!(status, 403);
    assert!(message.contains("Billing is not configured"), "{message}");
    let (status, _) = post_webhook(&app, "{}", Some("t=1,v1=00".into())).await;
    assert_eq!(status, 404);
    // An operator assigns plans by hand instead.
    billing::set_account_plan(&app.state.db, "ada@example.com", "pro")
        .await
        .unwrap();
    assert_eq!(summary(&mut browser).await["plan"]["id"], "pro");
    assert_eq!(
        summary(&mut browser).await["standing_text"],
        "Assigned by an administrator."
    );
}

async fn edited_plan_limits_show_on_the_pricing_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    plans::set_field(&app.state.db, "free", "monthly_allowance", "750")
        .await
        .unwrap();
    plans::set_field(&app.state.db, "premium", "bulk_zip", "false")
        .await
        .unwrap();
    assert!(
        plans::set_field(&app.state.db, "free", "monthly_allowance", "-1")
            .await
            .is_err()
    );
    assert!(
        plans::set_field(&app.state.db, "free", "id; DROP TABLE plans", "1")
            .await
            .is_err()
    );
    let mut browser = Browser::new(&app);
    let html = browser.get("/pricing").await.text().await.unwrap();
    assert!(
        html.contains("750 images a month"),
        "edited allowance not shown"
    );
    assert!(
        !html.contains(r#"data-current="true""#),
        "a visitor has no current plan"
    );
}

backend_tests!(
    checkout_creates_a_session_with_the_plans_price_customer_and_urls,
    a_signed_checkout_webhook_activates_the_plan,
    bad_stale_or_missing_signatures_are_refused_and_recorded,
    a_redelivered_event_is_acknowledged_and_ignored,
    unknown_event_types_are_acknowledged_and_ignored,
    out_of_order_subscription_events_never_restore_an_older_state,
    a_failed_payment_keeps_the_plan_for_the_grace_period_then_free,
    a_deleted_subscription_falls_back_to_free_at_period_end,
    cancelling_sets_cancel_at_period_end_and_shows_until_when,
    manage_billing_opens_the_customer_portal,
    deleting_an_account_cancels_its_subscription,
    usage_counts_exactly_under_concurrency,
    a_batch_over_the_allowance_is_refused_with_what_remains,
    without_stripe_every_page_works_and_upgrades_say_why_not,
    edited_plan_limits_show_on_the_pricing_page,
);
