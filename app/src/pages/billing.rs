//! `/billing/success`: where Stripe Checkout sends the browser back. The plan is applied by the
//! webhook, which may arrive a moment later: until then the page says "activating…" and asks
//! again every second (without JavaScript, the page reloads itself every few seconds).

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

use crate::billing::{get_billing_summary, BillingSummary};

/// `/billing/success`
#[component]
pub fn BillingSuccessPage() -> impl IntoView {
    let tick = RwSignal::new(0_u32);
    let summary = Resource::new(move || tick.get(), |_| get_billing_summary());
    // In the browser: ask again a second after each answer until the plan is active.
    Effect::new(move |_| {
        let answered_but_inactive = match summary.get() {
            Some(Ok(Some(s))) => !activated(&s),
            Some(_) => true,
            None => false, // still loading: the answer schedules the next ask
        };
        if answered_but_inactive {
            set_timeout(
                move || tick.update(|t| *t = t.wrapping_add(1)),
                Duration::from_secs(1),
            );
        }
    });
    view! {
        <Title text="Thank you" />
        <section class="mx-auto max-w-xl px-4 py-16 text-center sm:px-6">
            <Transition fallback=|| view! { <Activating /> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Ok(Some(s)) if activated(&s) => view! { <Activated summary=s /> }.into_any(),
                        Ok(Some(_)) => view! { <Activating /> }.into_any(),
                        Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(error) => view! {
                            <p role="alert" class="text-red-700">{error.to_string()}</p>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn activated(summary: &BillingSummary) -> bool {
    summary.subscribed && summary.plan.id != "free"
}

#[component]
fn Activating() -> impl IntoView {
    view! {
        <noscript><meta http-equiv="refresh" content="3" /></noscript>
        <div class="rounded-2xl border border-slate-200 bg-white p-10 shadow-sm" data-testid="activating">
            <div class="mx-auto h-10 w-10 animate-spin rounded-full border-4 border-indigo-200 border-t-indigo-600" aria-hidden="true"></div>
            <h1 class="mt-6 text-2xl font-bold text-slate-900">"Payment received — activating your plan…"</h1>
            <p class="mt-3 text-slate-600" role="status">
                "This usually takes a few seconds. You can stay here; the page updates by itself."
            </p>
        </div>
    }
}

#[component]
fn Activated(summary: BillingSummary) -> impl IntoView {
    view! {
        <div class="rounded-2xl border border-emerald-200 bg-white p-10 shadow-sm" data-testid="activated">
            <div class="mx-auto flex h-12 w-12 items-center justify-center rounded-full bg-emerald-100" aria-hidden="true">
                <svg viewBox="0 0 20 20" class="h-6 w-6 fill-emerald-600"><path d="M7.6 13.2 4.4 10l-1.1 1.1 4.3 4.3 9-9-1.1-1.1z" /></svg>
            </div>
            <h1 class="mt-6 text-2xl font-bold text-slate-900">
                "You are on " {summary.plan.name.clone()} "."
            </h1>
            <p class="mt-3 text-slate-600">
                {format!(
                    "{} images a month, files up to {}, {} files per drop.",
                    crate::pages::pricing::group_thousands(summary.allowance),
                    summary.plan.max_file,
                    summary.plan.max_files_per_batch
                )}
            </p>
            <p class="mt-1 text-sm text-slate-500">{summary.standing_text.clone()}</p>
            <div class="mt-8 flex justify-center gap-3">
                <A href="/compress" attr:class="rounded-lg bg-indigo-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
                    "Compress images"
                </A>
                <A href="/account" attr:class="rounded-lg bg-white px-4 py-2.5 text-sm font-semibold text-slate-900 ring-1 ring-inset ring-slate-300 hover:bg-slate-50">
                    "Your account"
                </A>
            </div>
        </div>
    }
}
