//! `/pricing`: the plans and their limits from the database, the visitor's own plan marked, and
//! the buttons that start Stripe Checkout (or say why they cannot).

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    billing::{pricing, OpenBillingPortal, PlanView, PricingData, StartCheckout},
    components::form::{form_level_error, FormAlert},
};

const BUTTON: &str =
    "block w-full rounded-lg px-4 py-2.5 text-center text-sm font-semibold shadow-sm \
     focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2";
const PRIMARY: &str =
    "bg-indigo-600 text-white hover:bg-indigo-500 focus-visible:outline-indigo-600 \
     disabled:cursor-wait disabled:opacity-70";
const SECONDARY: &str =
    "bg-white text-slate-900 ring-1 ring-inset ring-slate-300 hover:bg-slate-50";
const DISABLED: &str =
    "cursor-not-allowed bg-slate-100 text-slate-400 ring-1 ring-inset ring-slate-200";

/// `/pricing`
#[component]
pub fn PricingPage() -> impl IntoView {
    let checkout = ServerAction::<StartCheckout>::new();
    let portal = ServerAction::<OpenBillingPortal>::new();
    let data = Resource::new(|| (), |_| pricing());
    let error = Signal::derive(move || {
        let failed = |v: Option<Result<(), crate::error::AppError>>| v.and_then(Result::err);
        form_level_error(
            failed(checkout.value().get()).or_else(|| failed(portal.value().get())),
            &[],
        )
    });
    view! {
        <Title text="Pricing" />
        <section class="mx-auto max-w-6xl px-4 py-12 sm:px-6">
            <div class="mx-auto max-w-2xl text-center">
                <h1 class="text-4xl font-bold tracking-tight text-slate-900">"Plans and pricing"</h1>
                <p class="mt-4 text-lg text-slate-600">
                    "Start free. Upgrade when you need more images, bigger files or bulk downloads. Cancel any time."
                </p>
            </div>
            <div class="mx-auto mt-8 max-w-xl">
                <FormAlert message=error />
            </div>
            <Transition fallback=|| view! { <p class="mt-10 text-center text-slate-500">"Loading plans…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <PlanGrid data checkout portal /> }.into_any(),
                        Err(error) => view! {
                            <p role="alert" class="mt-10 text-center text-red-700">{error.to_string()}</p>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PlanGrid(
    data: PricingData,
    checkout: ServerAction<StartCheckout>,
    portal: ServerAction<OpenBillingPortal>,
) -> impl IntoView {
    let table = data.plans.clone();
    let current = data.current_plan.clone();
    let cards = data
        .plans
        .iter()
        .cloned()
        .map(|plan| {
            let is_current = current.as_deref() == Some(plan.id.as_str());
            view! {
                <PlanCard
                    plan
                    is_current
                    signed_in=current.is_some()
                    billing_configured=data.billing_configured
                    has_subscription=data.has_subscription
                    checkout
                    portal
                />
            }
        })
        .collect_view();
    view! {
        <div class="mt-6 grid gap-6 lg:grid-cols-3">{cards}</div>
        {(!data.billing_configured).then(|| view! {
            <p class="mt-6 text-center text-sm text-slate-500" data-testid="billing-off">
                "Billing is not configured on this server: plans are assigned by an administrator."
            </p>
        })}
        <ComparisonTable plans=table current />
    }
}

#[component]
fn PlanCard(
    plan: PlanView,
    is_current: bool,
    signed_in: bool,
    billing_configured: bool,
    has_subscription: bool,
    checkout: ServerAction<StartCheckout>,
    portal: ServerAction<OpenBillingPortal>,
) -> impl IntoView {
    let highlighted = plan.id == "premium";
    let card = if is_current {
        "relative flex flex-col rounded-2xl border-2 border-emerald-500 bg-white p-6 shadow-sm"
    } else if highlighted {
        "relative flex flex-col rounded-2xl border-2 border-indigo-500 bg-white p-6 shadow-md"
    } else {
        "relative flex flex-col rounded-2xl border border-slate-200 bg-white p-6 shadow-sm"
    };
    let features = vec![
        format!("{} images a month", group_thousands(plan.monthly_allowance)),
        format!("Files up to {}", plan.max_file),
        format!(
            "{} files per drop",
            group_thousands(plan.max_files_per_batch)
        ),
        if plan.bulk_zip {
            "Bulk jobs with ZIP download".to_string()
        } else {
            "Download files one by one".to_string()
        },
        format!("Results kept {}", plan.retention),
        format!("{} API requests a minute", plan.api_requests_per_minute),
    ];
    let priority = plan.priority_queue.then_some("Priority processing queue");
    let name = plan.name.clone();
    let button = plan_button(
        &plan,
        is_current,
        signed_in,
        billing_configured,
        has_subscription,
        checkout,
        portal,
    );
    view! {
        <div class=card data-testid=format!("plan-{}", plan.id) data-current=is_current.to_string()>
            {if is_current {
                Some(view! {
                    <span class="absolute -top-3 left-6 rounded-full bg-emerald-500 px-3 py-0.5 text-xs font-semibold text-white">
                        "Your plan"
                    </span>
                }.into_any())
            } else if highlighted {
                Some(view! {
                    <span class="absolute -top-3 left-6 rounded-full bg-indigo-600 px-3 py-0.5 text-xs font-semibold text-white">
                        "Most popular"
                    </span>
                }.into_any())
            } else {
                None
            }}
            <h2 class="text-lg font-semibold text-slate-900">{name}</h2>
            <p class="mt-3 flex items-baseline gap-1">
                <span class="text-4xl font-bold tracking-tight text-slate-900">{plan.price.clone()}</span>
                <span class="text-sm text-slate-500">"/ month"</span>
            </p>
            <ul class="mt-6 flex-1 space-y-2 text-sm text-slate-700">
                {features.into_iter().chain(priority.map(str::to_string)).map(|f| view! {
                    <li class="flex gap-2">
                        <svg viewBox="0 0 20 20" class="mt-0.5 h-4 w-4 flex-none fill-emerald-500" aria-hidden="true">
                            <path d="M7.6 13.2 4.4 10l-1.1 1.1 4.3 4.3 9-9-1.1-1.1z" />
                        </svg>
                        <span>{f}</span>
                    </li>
                }).collect_view()}
            </ul>
            <div class="mt-6">{button}</div>
        </div>
    }
}

/// The card's button: subscribe, switch through the portal, "current plan", or why not.
fn plan_button(
    plan: &PlanView,
    is_current: bool,
    signed_in: bool,
    billing_configured: bool,
    has_subscription: bool,
    checkout: ServerAction<StartCheckout>,
    portal: ServerAction<OpenBillingPortal>,
) -> AnyView {
    let disabled = |label: &'static str, note: Option<&'static str>| {
        view! {
            <button type="button" disabled class=format!("{BUTTON} {DISABLED}")>{label}</button>
            {note.map(|n| view! { <p class="mt-2 text-center text-xs text-slate-500">{n}</p> })}
        }
        .into_any()
    };
    if is_current {
        return disabled("Current plan", None);
    }
    if plan.id == "free" {
        return if signed_in {
            view! {
                <A href="/account" attr:class=format!("{BUTTON} {SECONDARY}")>"Manage from your account"</A>
            }
            .into_any()
        } else {
            view! { <A href="/signup" attr:class=format!("{BUTTON} {SECONDARY}")>"Start free"</A> }
                .into_any()
        };
    }
    if !billing_configured {
        return disabled("Upgrade", Some("Billing is not configured"));
    }
    if !plan.purchasable {
        return disabled("Not for sale", Some("Ask us about this plan"));
    }
    if !signed_in {
        let href = "/signup".to_string();
        return view! {
            <A href=href attr:class=format!("{BUTTON} {PRIMARY}")>{format!("Sign up for {}", plan.name)}</A>
        }
        .into_any();
    }
    if has_subscription {
        let pending = portal.pending();
        let label = format!("Switch to {}", plan.name);
        return view! {
            <ActionForm action=portal>
                <button type="submit" class=format!("{BUTTON} {SECONDARY}") disabled=move || pending.get()>
                    {move || if pending.get() { "Opening billing…".to_string() } else { label.clone() }}
                </button>
            </ActionForm>
            <p class="mt-2 text-center text-xs text-slate-500">"Plan changes are made in the billing portal."</p>
        }
        .into_any();
    }
    let pending = checkout.pending();
    let label = format!("Upgrade to {}", plan.name);
    let id = plan.id.clone();
    view! {
        <ActionForm action=checkout>
            <input type="hidden" name="plan" value=id />
            <button type="submit" class=format!("{BUTTON} {PRIMARY}") disabled=move || pending.get()>
                {move || if pending.get() { "Opening checkout…".to_string() } else { label.clone() }}
            </button>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn ComparisonTable(plans: Vec<PlanView>, current: Option<String>) -> impl IntoView {
    type Row = (&'static str, fn(&PlanView) -> String);
    let rows: [Row; 9] = [
        ("Images per month", |p| group_thousands(p.monthly_allowance)),
        ("Largest file", |p| p.max_file.clone()),
        ("Files per drop", |p| group_thousands(p.max_files_per_batch)),
        ("Bulk ZIP download", |p| yes_no(p.bulk_zip)),
        ("Results kept", |p| p.retention.clone()),
        ("Storage", |p| p.storage.clone()),
        ("API requests per minute", |p| {
            p.api_requests_per_minute.to_string()
        }),
        ("Jobs at once", |p| p.concurrent_jobs.to_string()),
        ("Priority queue", |p| yes_no(p.priority_queue)),
    ];
    let header = plans
        .iter()
        .map(|p| {
            let mine = current.as_deref() == Some(p.id.as_str());
            view! {
                <th scope="col" class="px-4 py-3 text-left text-sm font-semibold text-slate-900">
                    {p.name.clone()}
                    {mine.then(|| view! { <span class="ml-2 text-xs font-medium text-emerald-600">"(yours)"</span> })}
                </th>
            }
        })
        .collect_view();
    let body = rows
        .iter()
        .map(|(label, value)| {
            let cells = plans
                .iter()
                .map(|p| view! { <td class="px-4 py-3 text-sm text-slate-700">{value(p)}</td> })
                .collect_view();
            view! {
                <tr class="border-t border-slate-100">
                    <th scope="row" class="px-4 py-3 text-left text-sm font-medium text-slate-600">{*label}</th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="mt-14 overflow-x-auto rounded-2xl border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full" data-testid="plan-table">
                <caption class="sr-only">"Every limit of every plan"</caption>
                <thead class="bg-slate-50">
                    <tr>
                        <th scope="col" class="px-4 py-3 text-left text-sm font-semibold text-slate-900">"Limit"</th>
                        {header}
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
}

fn yes_no(flag: bool) -> String {
    if flag { "Yes" } else { "—" }.to_string()
}

/// `10000` → `10,000`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::group_thousands(500), "500");
        assert_eq!(super::group_thousands(10_000), "10,000");
        assert_eq!(super::group_thousands(1_000_000), "1,000,000");
    }
}
