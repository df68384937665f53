//! The fake Stripe as a process, for the Playwright journey (`make e2e` starts it):
//!
//! ```text
//! FAKE_STRIPE_ADDR=127.0.0.1:12111 \
//! FAKE_STRIPE_WEBHOOK_URL=http://127.0.0.1:3999/webhooks/stripe \
//! FAKE_STRIPE_WEBHOOK_SECRET=whsec_fake_secret \
//! cargo run -p server --example fake_stripe
//! ```
//!
//! The implementation is shared with the integration tests (`server/tests/common/fake_stripe.rs`).

#[path = "../tests/common/fake_stripe.rs"]
mod fake_stripe;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = std::env::var("FAKE_STRIPE_ADDR").unwrap_or_else(|_| "127.0.0.1:12111".into());
    let addr = addr
        .parse()
        .expect("FAKE_STRIPE_ADDR is an address, e.g. 127.0.0.1:12111");
    let webhook =
        std::env::var("FAKE_STRIPE_WEBHOOK_URL")
            .ok()
            .map(|url| fake_stripe::WebhookTarget {
                url,
                secret: std::env::var("FAKE_STRIPE_WEBHOOK_SECRET")
                    .unwrap_or_else(|_| fake_stripe::WEBHOOK_SECRET.into()),
            });
    let fake = fake_stripe::FakeStripe::start(addr, webhook).await;
    println!("fake Stripe listening on {}", fake.base_url());
    tokio::signal::ctrl_c().await.ok();
}
