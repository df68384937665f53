//! A fake Stripe for tests: an axum app that answers the API calls Slimage makes (customers,
//! Checkout Sessions, subscriptions, Customer Portal sessions) with payloads the real
//! async-stripe types parse, records every call, serves a stand-in checkout page whose "Pay"
//! button creates the subscription and delivers signed webhooks, and signs webhook payloads
//! exactly as Stripe does (`Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")`).
//!
//! Used in-process by the integration tests and, through `server/examples/fake_stripe.rs`, as a
//! process by the Playwright journey.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Path, Request, State},
    http::{HeaderMap, Method, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Json, Router,
};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The secret key the fake accepts (any `sk_test_…` works).
pub const SECRET_KEY: &str = "sk_test_fake";
/// The webhook signing secret tests configure on both sides.
pub const WEBHOOK_SECRET: &str = "whsec_fake_secret";
/// The prices of the paid plans.
pub const PRICE_PREMIUM: &str = "price_premium_monthly";
/// The Pro price.
pub const PRICE_PRO: &str = "price_pro_monthly";
/// A period is 30 days here.
pub const PERIOD_SECS: i64 = 30 * 86_400;

/// One API call as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// e.g. `/v1/checkout/sessions`.
    pub path: String,
    /// The form parameters, in order (`line_items[0][price]` etc.).
    pub params: Vec<(String, String)>,
}

impl Recorded {
    /// The value of form parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A subscription as the fake holds it.
#[derive(Debug, Clone)]
pub struct FakeSubscription {
    /// `sub_…`.
    pub id: String,
    /// `cus_…`.
    pub customer: String,
    /// `price_…`.
    pub price: String,
    /// Stripe status.
    pub status: String,
    /// Set to end at the period's end.
    pub cancel_at_period_end: bool,
    /// Period start (Unix seconds).
    pub period_start: i64,
    /// Period end.
    pub period_end: i64,
    /// Creation time.
    pub created: i64,
}

#[derive(Debug, Clone)]
struct FakeSession {
    json: Value,
    customer: Option<String>,
    price: Option<String>,
    success_url: String,
    cancel_url: String,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    customers: HashMap<String, Value>,
    sessions: HashMap<String, FakeSession>,
    subscriptions: HashMap<String, FakeSubscription>,
    portals: HashMap<String, Value>,
    next_id: u64,
}

impl Inner {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_fake{:06}", self.next_id)
    }
}

/// Where and how to deliver webhooks.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// e.g. `http://127.0.0.1:3999/webhooks/stripe`.
    pub url: String,
    /// The signing secret.
    pub secret: String,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    base_url: Arc<Mutex<String>>,
    webhook: Arc<Mutex<Option<WebhookTarget>>>,
}

/// A running fake.
#[derive(Clone)]
pub struct FakeStripe {
    shared: Shared,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// The current Unix time.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `timestamp`.
pub fn sign(payload: &str, secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

impl FakeStripe {
    /// Starts the fake on `addr` (port 0 for any) on the current runtime.
    pub async fn start(addr: SocketAddr, webhook: Option<WebhookTarget>) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("the fake Stripe can listen");
        let addr = listener.local_addr().expect("bound address");
        let shared = Shared {
            inner: Arc::default(),
            base_url: Arc::new(Mutex::new(format!("http://{addr}"))),
            webhook: Arc::new(Mutex::new(webhook)),
        };
        let app = router(shared.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the fake Stripe serves");
        });
        Self { shared, addr }
    }

    /// The URL to configure as `STRIPE_API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Sets where webhooks go (the app's address is known only after it starts).
    pub fn set_webhook(&self, target: WebhookTarget) {
        *self.shared.webhook.lock().unwrap() = Some(target);
    }

    /// Every API call so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.inner.lock().unwrap().requests.clone()
    }

    /// The API calls to `method path` so far.
    pub fn calls(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// A subscription's current state.
    pub fn subscription(&self, id: &str) -> Option<FakeSubscription> {
        self.shared
            .inner
            .lock()
            .unwrap()
            .subscriptions
            .get(id)
            .cloned()
    }

    /// Creates a subscription directly (as if paid through Checkout) and returns its id.
    pub fn create_subscription(&self, customer: &str, price: &str) -> String {
        let mut inner = self.shared.inner.lock().unwrap();
        let id = inner.id("sub");
        let now = unix_now();
        inner.subscriptions.insert(
            id.clone(),
            FakeSubscription {
                id: id.clone(),
                customer: customer.to_string(),
                price: price.to_string(),
                status: "active".into(),
                cancel_at_period_end: false,
                period_start: now,
                period_end: now + PERIOD_SECS,
                created: now,
            },
        );
        id
    }

    /// Changes a subscription in place (what Stripe's own state would become).
    pub fn update_subscription(&self, id: &str, change: impl FnOnce(&mut FakeSubscription)) {
        let mut inner = self.shared.inner.lock().unwrap();
        change(inner.subscriptions.get_mut(id).expect("known subscription"));
    }

    /// A subscription as Stripe's API renders it.
    pub fn subscription_json(&self, id: &str) -> Value {
        subscription_json(&self.subscription(id).expect("known subscription"))
    }

    /// Completes Checkout Session `session_id` as a successful payment would: creates the
    /// subscription and returns it with the `checkout.session.completed` and
    /// `customer.subscription.created` event payloads (not delivered).
    pub fn complete_checkout(&self, session_id: &str) -> (String, Vec<String>) {
        complete_checkout(&self.shared, session_id).expect("known checkout session")
    }

    /// The body of an event of `kind` about `object`, created at `created`.
    pub fn event(&self, kind: &str, object: Value, created: i64) -> String {
        let id = self.shared.inner.lock().unwrap().id("evt");
        event_json(&id, kind, object, created)
    }

    /// An invoice object of `customer`'s subscription `sub`.
    pub fn invoice_json(&self, customer: &str, sub: &str, status: &str) -> Value {
        let id = self.shared.inner.lock().unwrap().id("in");
        json!({
            "id": id,
            "object": "invoice",
            "customer": customer,
            "status": status,
            "created": unix_now(),
            "parent": { "type": "subscription_details", "subscription_details": { "subscription": sub } },
        })
    }
}

/// An event envelope as Stripe sends it.
pub fn event_json(id: &str, kind: &str, object: Value, created: i64) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2026-09-30.endive",
        "created": created,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
    })
    .to_string()
}

/// A subscription as Stripe's API renders it (every field the async-stripe type requires).
pub fn subscription_json(sub: &FakeSubscription) -> Value {
    let plan = json!({
        "id": sub.price, "object": "plan", "active": true, "billing_scheme": "per_unit",
        "created": sub.created, "currency": "usd", "interval": "month", "interval_count": 1,
        "livemode": false, "usage_type": "licensed", "amount": 900, "product": "prod_fake",
    });
    let price = json!({
        "id": sub.price, "object": "price", "active": true, "billing_scheme": "per_unit",
        "created": sub.created, "currency": "usd", "livemode": false, "metadata": {},
        "product": "prod_fake", "type": "recurring", "unit_amount": 900,
    });
    json!({
        "id": sub.id,
        "object": "subscription",
        "automatic_tax": { "enabled": false },
        "billing_cycle_anchor": sub.period_start,
        "billing_mode": { "type": "classic" },
        "billing_schedules": [],
        "cancel_at": if sub.cancel_at_period_end { json!(sub.period_end) } else { Value::Null },
        "cancel_at_period_end": sub.cancel_at_period_end,
        "canceled_at": Value::Null,
        "collection_method": "charge_automatically",
        "created": sub.created,
        "currency": "usd",
        "customer": sub.customer,
        "discounts": [],
        "ended_at": if sub.status == "canceled" { json!(unix_now()) } else { Value::Null },
        "invoice_settings": { "issuer": { "type": "self" } },
        "items": {
            "object": "list",
            "data": [{
                "id": format!("si_{}", sub.id),
                "object": "subscription_item",
                "created": sub.created,
                "current_period_start": sub.period_start,
                "current_period_end": sub.period_end,
                "discounts": [],
                "metadata": {},
                "plan": plan,
                "price": price,
                "quantity": 1,
                "subscription": sub.id,
            }],
            "has_more": false,
            "url": format!("/v1/subscription_items?subscription={}", sub.id),
        },
        "livemode": false,
        "metadata": {},
        "start_date": sub.created,
        "status": sub.status,
    })
}

fn stripe_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "type": "invalid_request_error", "message": message } })),
    )
        .into_response()
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/v1/customers", post(create_customer))
        .route("/v1/checkout/sessions", post(create_session))
        .route(
            "/v1/subscriptions/{id}",
            get(get_subscription)
                .post(update_subscription)
                .delete(cancel_subscription),
        )
        .route("/v1/billing_portal/sessions", post(create_portal))
        .route("/checkout/{id}", get(checkout_page))
        .route("/checkout/{id}/pay", post(pay))
        .route("/portal/{id}", get(portal_page))
        .fallback(|request: Request| async move {
            stripe_error(
                StatusCode::NOT_FOUND,
                &format!(
                    "Unrecognized request URL ({} {})",
                    request.method(),
                    request.uri().path()
                ),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            record_and_authenticate,
        ))
        .with_state(shared)
}

/// Records API calls (their form bodies too) and requires the secret key, as Stripe does.
async fn record_and_authenticate(
    State(shared): State<Shared>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    if !path.starts_with("/v1/") {
        return next.run(request).await;
    }
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer sk_test_"));
    if !authorized {
        return stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    let method = request.method().clone();
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    if let Some(query) = parts.uri.query() {
        params
            .extend(serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default());
    }
    shared.inner.lock().unwrap().requests.push(Recorded {
        method: method.to_string(),
        path,
        params: params.clone(),
    });
    let mut request = Request::from_parts(parts, axum::body::Body::from(bytes));
    request.extensions_mut().insert(Params(params));
    next.run(request).await
}

#[derive(Clone)]
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn params(request: &Request) -> Params {
    request
        .extensions()
        .get::<Params>()
        .cloned()
        .unwrap_or(Params(Vec::new()))
}

async fn create_customer(State(shared): State<Shared>, request: Request) -> Response {
    let p = params(&request);
    let mut inner = shared.inner.lock().unwrap();
    let id = inner.id("cus");
    let metadata: serde_json::Map<String, Value> =
        p.0.iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[")
                    .and_then(|k| k.strip_suffix(']'))
                    .map(|k| (k.to_string(), json!(v)))
            })
            .collect();
    let customer = json!({
        "id": id, "object": "customer", "created": unix_now(), "livemode": false,
        "email": p.get("email"), "metadata": metadata,
    });
    inner.customers.insert(id, customer.clone());
    Json(customer).into_response()
}

async fn create_session(State(shared): State<Shared>, request: Request) -> Response {
    let p = params(&request);
    if p.get("mode").as_deref() != Some("subscription") {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "this fake only does mode=subscription",
        );
    }
    let (Some(success_url), Some(cancel_url)) = (p.get("success_url"), p.get("cancel_url")) else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "success_url and cancel_url are required",
        );
    };
    let price = p.get("line_items[0][price]");
    if !matches!(price.as_deref(), Some(PRICE_PREMIUM | PRICE_PRO)) {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            &format!("No such price: {price:?}"),
        );
    }
    let base = shared.base_url.lock().unwrap().clone();
    let mut inner = shared.inner.lock().unwrap();
    let customer = p.get("customer");
    if let Some(c) = &customer {
        if !inner.customers.contains_key(c) {
            return stripe_error(StatusCode::BAD_REQUEST, &format!("No such customer: '{c}'"));
        }
    }
    let id = inner.id("cs");
    let now = unix_now();
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "cancel_url": cancel_url,
        "client_reference_id": p.get("client_reference_id"),
        "created": now,
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "customer": customer,
        "expires_at": now + 86_400,
        "livemode": false,
        "metadata": {},
        "mode": "subscription",
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "shipping_options": [],
        "status": "open",
        "subscription": null,
        "success_url": success_url,
        "url": format!("{base}/checkout/{id}"),
    });
    inner.sessions.insert(
        id,
        FakeSession {
            json: session.clone(),
            customer,
            price,
            success_url,
            cancel_url,
        },
    );
    Json(session).into_response()
}

async fn get_subscription(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    match shared.inner.lock().unwrap().subscriptions.get(&id) {
        Some(sub) => Json(subscription_json(sub)).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            &format!("No such subscription: '{id}'"),
        ),
    }
}

async fn update_subscription(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let p = params(&request);
    let updated = {
        let mut inner = shared.inner.lock().unwrap();
        let Some(sub) = inner.subscriptions.get_mut(&id) else {
            return stripe_error(
                StatusCode::NOT_FOUND,
                &format!("No such subscription: '{id}'"),
            );
        };
        if let Some(flag) = p.get("cancel_at_period_end") {
            sub.cancel_at_period_end = flag == "true";
        }
        sub.clone()
    };
    deliver_later(
        &shared,
        "customer.subscription.updated",
        subscription_json(&updated),
    );
    Json(subscription_json(&updated)).into_response()
}

async fn cancel_subscription(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let updated = {
        let mut inner = shared.inner.lock().unwrap();
        let Some(sub) = inner.subscriptions.get_mut(&id) else {
            return stripe_error(
                StatusCode::NOT_FOUND,
                &format!("No such subscription: '{id}'"),
            );
        };
        sub.status = "canceled".into();
        sub.clone()
    };
    deliver_later(
        &shared,
        "customer.subscription.deleted",
        subscription_json(&updated),
    );
    Json(subscription_json(&updated)).into_response()
}

async fn create_portal(State(shared): State<Shared>, request: Request) -> Response {
    let p = params(&request);
    let Some(customer) = p.get("customer") else {
        return stripe_error(StatusCode::BAD_REQUEST, "Missing required param: customer.");
    };
    let base = shared.base_url.lock().unwrap().clone();
    let mut inner = shared.inner.lock().unwrap();
    if !inner.customers.contains_key(&customer) {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            &format!("No such customer: '{customer}'"),
        );
    }
    let id = inner.id("bps");
    let portal = json!({
        "id": id, "object": "billing_portal.session", "configuration": "bpc_fake",
        "created": unix_now(), "customer": customer, "livemode": false,
        "return_url": p.get("return_url"), "url": format!("{base}/portal/{id}"),
    });
    inner.portals.insert(id, portal.clone());
    Json(portal).into_response()
}

fn complete_checkout(shared: &Shared, session_id: &str) -> Option<(String, Vec<String>)> {
    let mut inner = shared.inner.lock().unwrap();
    let session = inner.sessions.get(session_id)?.clone();
    let sub_id = inner.id("sub");
    let now = unix_now();
    let sub = FakeSubscription {
        id: sub_id.clone(),
        customer: session.customer.clone().unwrap_or_default(),
        price: session.price.clone().unwrap_or_default(),
        status: "active".into(),
        cancel_at_period_end: false,
        period_start: now,
        period_end: now + PERIOD_SECS,
        created: now,
    };
    inner.subscriptions.insert(sub_id.clone(), sub.clone());
    let mut json = session.json.clone();
    json["status"] = json!("complete");
    json["payment_status"] = json!("paid");
    json["subscription"] = json!(sub_id);
    inner.sessions.get_mut(session_id)?.json = json.clone();
    let completed_id = inner.id("evt");
    let created_id = inner.id("evt");
    drop(inner);
    Some((
        sub_id,
        vec![
            event_json(&completed_id, "checkout.session.completed", json, now),
            event_json(
                &created_id,
                "customer.subscription.created",
                subscription_json(&sub),
                now,
            ),
        ],
    ))
}

/// Delivers a webhook in the background, as Stripe does after an API call changes something.
fn deliver_later(shared: &Shared, kind: &str, object: Value) {
    let Some(target) = shared.webhook.lock().unwrap().clone() else {
        return;
    };
    let id = shared.inner.lock().unwrap().id("evt");
    let payload = event_json(&id, kind, object, unix_now());
    tokio::spawn(async move {
        let _ = deliver(&target, &payload).await;
    });
}

/// Posts one signed event to `target`; returns the HTTP status.
pub async fn deliver(target: &WebhookTarget, payload: &str) -> Result<u16, reqwest::Error> {
    let response = reqwest::Client::new()
        .post(&target.url)
        .header("content-type", "application/json")
        .header(
            "stripe-signature",
            sign(payload, &target.secret, unix_now()),
        )
        .body(payload.to_string())
        .send()
        .await?;
    Ok(response.status().as_u16())
}

const PAGE_STYLE: &str =
    "font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:2rem;\
    border:1px solid #e2e8f0;border-radius:1rem";

async fn checkout_page(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let inner = shared.inner.lock().unwrap();
    let Some(session) = inner.sessions.get(&id) else {
        return (StatusCode::NOT_FOUND, Html("No such checkout session")).into_response();
    };
    let plan = match session.price.as_deref() {
        Some(PRICE_PRO) => "Pro",
        _ => "Premium",
    };
    Html(format!(
        r#"<!doctype html><html><head><title>Fake Stripe Checkout</title></head>
<body><main style="{PAGE_STYLE}"><h1>Fake Stripe Checkout</h1>
<p>Subscribe to Slimage <strong data-plan="{plan}">{plan}</strong>, billed monthly.</p>
<form method="post" action="/checkout/{id}/pay"><button type="submit">Pay and subscribe</button></form>
<p><a href="{cancel}">Cancel and go back</a></p></main></body></html>"#,
        cancel = session.cancel_url
    ))
    .into_response()
}

async fn pay(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    _headers: HeaderMap,
) -> Response {
    let Some((_, events)) = complete_checkout(&shared, &id) else {
        return (StatusCode::NOT_FOUND, Html("No such checkout session")).into_response();
    };
    let success_url = shared.inner.lock().unwrap().sessions[&id]
        .success_url
        .replace("{CHECKOUT_SESSION_ID}", &id);
    // Stripe delivers webhooks independently of the redirect: the browser may come back first.
    if let Some(target) = shared.webhook.lock().unwrap().clone() {
        tokio::spawn(async move {
            for payload in events {
                let _ = deliver(&target, &payload).await;
            }
        });
    }
    Redirect::to(&success_url).into_response()
}

async fn portal_page(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    method: Method,
) -> Response {
    let _ = method;
    let inner = shared.inner.lock().unwrap();
    let Some(portal) = inner.portals.get(&id) else {
        return (StatusCode::NOT_FOUND, Html("No such portal session")).into_response();
    };
    Html(format!(
        r#"<!doctype html><html><head><title>Fake Stripe billing portal</title></head>
<body><main style="{PAGE_STYLE}"><h1>Fake billing portal</h1>
<p>Customer {customer}</p><p><a href="{back}">Return to Slimage</a></p></main></body></html>"#,
        customer = portal["customer"].as_str().unwrap_or_default(),
        back = portal["return_url"].as_str().unwrap_or("/"),
    ))
    .into_response()
}
