//! The account page's plan card: plan, standing, this month's usage meter, the plan's main limits
//! and the billing buttons (upgrade, manage billing, cancel, resume).

use leptos::{form::ActionForm, prelude::*};

use super::{CARD, H2};
use crate::{
    billing::{BillingSummary, CancelSubscription, OpenBillingPortal, ResumeSubscription},
    components::form::{form_level_error, FormAlert},
    error::AppError,
    pages::pricing::group_thousands,
};

/// The plan card's actions.
#[derive(Clone, Copy)]
pub(super) struct BillingActions {
    pub(super) portal: ServerAction<OpenBillingPortal>,
    pub(super) cancel: ServerAction<CancelSubscription>,
    pub(super) resume: ServerAction<ResumeSubscription>,
}

/// Plan, standing, this month's usage meter and the billing buttons.
#[component]
pub(super) fn PlanCard(billing: BillingSummary, actions: BillingActions) -> impl IntoView {
    let BillingActions {
        portal,
        cancel,
        resume,
    } = actions;
    let error = Signal::derive(move || {
        let failed = |v: Option<Result<(), AppError>>| v.and_then(Result::err);
        form_level_error(
            failed(portal.value().get())
                .or_else(|| failed(cancel.value().get()))
                .or_else(|| failed(resume.value().get())),
            &[],
        )
    });
    let percent = if billing.allowance > 0 {
        (billing.used * 100 / billing.allowance).clamp(0, 100)
    } else {
        100
    };
    let bar = if percent >= 90 {
        "bg-red-500"
    } else if percent >= 75 {
        "bg-amber-500"
    } else {
        "bg-indigo-600"
    };
    let standing_class = match billing.standing.as_str() {
        "payment_failed" => "mt-1 text-sm font-medium text-red-700",
        "ending" => "mt-1 text-sm font-medium text-amber-700",
        _ => "mt-1 text-sm text-slate-600",
    };
    let button = "rounded-lg px-3.5 py-2 text-sm font-semibold shadow-sm disabled:cursor-wait disabled:opacity-70";
    let primary = format!("{button} bg-indigo-600 text-white hover:bg-indigo-500");
    let secondary = format!(
        "{button} bg-white text-slate-900 ring-1 ring-inset ring-slate-300 hover:bg-slate-50"
    );
    let danger =
        format!("{button} bg-white text-red-700 ring-1 ring-inset ring-red-200 hover:bg-red-50");
    view! {
        <div class=CARD data-testid="plan-card">
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div>
                    <h2 class=H2>"Plan and usage"</h2>
                    <p class="mt-2 flex items-center gap-2">
                        <span class="text-2xl font-bold text-slate-900" data-testid="plan-name">
                            {billing.plan.name.clone()}
                        </span>
                        <span class="text-sm text-slate-500">{format!("{} / month", billing.plan.price)}</span>
                    </p>
                    <p class=standing_class data-testid="plan-standing">{billing.standing_text.clone()}</p>
                </div>
                <div class="flex flex-wrap gap-2">
                    {(!billing.subscribed).then(|| view! {
                        <a href="/pricing" class=primary.clone()>"Upgrade"</a>
                    })}
                    {billing.can_manage.then(|| {
                        let pending = portal.pending();
                        view! {
                            <ActionForm action=portal>
                                <button type="submit" class=secondary.clone() disabled=move || pending.get()>
                                    {move || if pending.get() { "Opening…" } else { "Manage billing" }}
                                </button>
                            </ActionForm>
                        }
                    })}
                    {billing.can_cancel.then(|| {
                        let pending = cancel.pending();
                        view! {
                            <ActionForm action=cancel>
                                <button type="submit" class=danger.clone() disabled=move || pending.get()>
                                    {move || if pending.get() { "Cancelling…" } else { "Cancel subscription" }}
                                </button>
                            </ActionForm>
                        }
                    })}
                    {billing.can_resume.then(|| {
                        let pending = resume.pending();
                        view! {
                            <ActionForm action=resume>
                                <button type="submit" class=primary.clone() disabled=move || pending.get()>
                                    {move || if pending.get() { "Resuming…" } else { "Keep my plan" }}
                                </button>
                            </ActionForm>
                        }
                    })}
                </div>
            </div>
            <div class="mt-4"><FormAlert message=error /></div>
            <div class="mt-2">
                <div class="flex items-baseline justify-between text-sm">
                    <span class="font-medium text-slate-900" data-testid="usage-text">
                        {format!(
                            "{} of {} images this month",
                            group_thousands(billing.used),
                            group_thousands(billing.allowance)
                        )}
                    </span>
                    <span class="text-slate-500">
                        {format!("Resets {} ({})", billing.resets_in, billing.resets_on)}
                    </span>
                </div>
                <div
                    class="mt-2 h-2.5 w-full overflow-hidden rounded-full bg-slate-100"
                    role="meter"
                    aria-label="Images compressed this month"
                    aria-valuemin="0"
                    aria-valuemax=billing.allowance.to_string()
                    aria-valuenow=billing.used.to_string()
                >
                    <div class=format!("h-full rounded-full {bar}") style=format!("width: {percent}%")></div>
                </div>
            </div>
            <dl class="mt-5 grid grid-cols-2 gap-3 text-sm sm:grid-cols-4" data-testid="plan-limits">
                <Limit label="Largest file" value=billing.plan.max_file.clone() />
                <Limit label="Files per drop" value=group_thousands(billing.plan.max_files_per_batch) />
                <Limit label="Results kept" value=billing.plan.retention.clone() />
                <Limit label="Bulk ZIP" value=if billing.plan.bulk_zip { "Included".to_string() } else { "Premium and Pro".to_string() } />
            </dl>
            {(!billing.billing_configured).then(|| view! {
                <p class="mt-4 text-xs text-slate-500">"Billing is not configured on this server: plans are assigned by an administrator."</p>
            })}
        </div>
    }
}

#[component]
fn Limit(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="rounded-lg bg-slate-50 px-3 py-2">
            <dt class="text-xs text-slate-500">{label}</dt>
            <dd class="font-medium text-slate-900">{value}</dd>
        </div>
    }
}
