//! `/account`: the signed-in user's email, plan, usage and billing, password change, API keys
//! and account deletion. Visitors who are not signed in are sent to the log-in page.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::components::Redirect;

mod plan;

use plan::{BillingActions, PlanCard};

use crate::{
    auth::{
        account_overview, Account, AccountPageData, ApiKeys, ChangePassword, CreateApiKey,
        DeleteAccount, RevokeApiKey, RollCallbackSecret,
    },
    billing::BillingSummary,
    components::form::{field_error, form_level_error, Field, FormAlert, SubmitButton},
    error::AppError,
    validate::check_new_password,
};

const CARD: &str = "rounded-2xl border border-slate-200 bg-white p-6 shadow-sm";
const H2: &str = "text-lg font-semibold text-slate-900";

/// `/account`
#[component]
pub fn AccountPage() -> impl IntoView {
    // The page reads one resource of its own, created before any suspense and read by one
    // suspense only: with the header's account resource also read here, or nested suspenses,
    // server rendering of this page now and then never finished.
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let roll = ServerAction::<RollCallbackSecret>::new();
    let billing_actions = BillingActions {
        portal: ServerAction::new(),
        cancel: ServerAction::new(),
        resume: ServerAction::new(),
    };
    let overview = Resource::new(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                roll.version().get(),
                billing_actions.cancel.version().get(),
                billing_actions.resume.version().get(),
            )
        },
        |_| account_overview(),
    );
    let api_keys = ApiKeysContext {
        create,
        revoke,
        roll,
    };
    view! {
        <Title text="Your account" />
        <Transition fallback=|| view! { <p class="p-8 text-center text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(Some(AccountPageData { account, keys, billing })) => {
                        view! {
                            <AccountView account api_keys key_list=Ok(keys) billing billing_actions />
                        }
                        .into_any()
                    }
                    Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(error) => view! {
                        <p role="alert" class="p-8 text-center text-red-700">{error.to_string()}</p>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

/// The API-key card's actions.
#[derive(Clone, Copy)]
struct ApiKeysContext {
    create: ServerAction<CreateApiKey>,
    revoke: ServerAction<RevokeApiKey>,
    roll: ServerAction<RollCallbackSecret>,
}

#[component]
fn AccountView(
    account: Account,
    api_keys: ApiKeysContext,
    key_list: Result<ApiKeys, AppError>,
    billing: BillingSummary,
    billing_actions: BillingActions,
) -> impl IntoView {
    let (email_local, email_domain) = match account.email.split_once('@') {
        Some((local, domain)) => (local.to_string(), format!("@{domain}")),
        None => (account.email.clone(), String::new()),
    };
    view! {
        <section class="mx-auto max-w-3xl space-y-6 px-4 py-10 sm:px-6">
            <h1 class="text-3xl font-bold tracking-tight text-slate-900">"Your account"</h1>
            <div class=CARD>
                <dl class="grid gap-4 sm:grid-cols-4">
                    // Half the card for the address: a long one still fits on one line.
                    <div class="sm:col-span-2">
                        <dt class="text-sm text-slate-500">"Email"</dt>
                        // A line break, when needed, comes before the `@`, not mid-word.
                        <dd class="mt-1 break-words font-medium text-slate-900" data-testid="account-email">
                            {email_local}
                            <wbr />
                            {email_domain}
                        </dd>
                    </div>
                    <div>
                        <dt class="text-sm text-slate-500">"Role"</dt>
                        <dd class="mt-1">
                            {if account.role == "admin" {
                                view! {
                                    <span class="rounded-full bg-amber-50 px-2.5 py-0.5 text-sm font-semibold text-amber-700">
                                        "Administrator"
                                    </span>
                                }
                                .into_any()
                            } else {
                                view! { <span class="font-medium text-slate-900">"Member"</span> }.into_any()
                            }}
                        </dd>
                    </div>
                    <div>
                        <dt class="text-sm text-slate-500">"Member since"</dt>
                        <dd class="mt-1 font-medium text-slate-900">{account.member_since.clone()}</dd>
                    </div>
                </dl>
            </div>
            <PlanCard billing actions=billing_actions />
            <ChangePasswordCard />
            <ApiKeysCard api_keys key_list />
            <DeleteAccountCard />
        </section>
    }
}

/// A form reference whose fields are emptied each time `action` succeeds (hydrated pages only;
/// without JavaScript the page reloads empty anyway).
fn clear_after_success<V>(value: V) -> NodeRef<leptos::html::Form>
where
    V: Get<Value = Option<Result<(), AppError>>> + Send + Sync + 'static,
{
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(form)) = (value.get(), form.get()) {
            form.reset();
        }
    });
    form
}

#[component]
fn ChangePasswordCard() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = move || action.value().get().and_then(Result::err);
    let form = clear_after_success(action.value());
    view! {
        <div class=CARD>
            <h2 class=H2>"Change password"</h2>
            <p class="mt-1 text-sm text-slate-600">"Other devices are signed out when you change it."</p>
            <ActionForm action=action node_ref=form attr:class="mt-4 max-w-md">
                <FormAlert message=Signal::derive(move || {
                    form_level_error(error(), &["current_password", "new_password"])
                }) />
                <Field
                    label="Current password"
                    name="current_password"
                    input_type="password"
                    autocomplete="current-password"
                    server_error=field_error(error, "current_password")
                />
                <Field
                    label="New password"
                    name="new_password"
                    input_type="password"
                    autocomplete="new-password"
                    hint="At least 10 characters. Not your email, not a common password."
                    server_error=field_error(error, "new_password")
                    check=Callback::new(|v: String| check_new_password(&v, ""))
                    live=true
                />
                <div class="sm:w-56">
                    <SubmitButton label="Change password" pending_label="Saving…" pending=action.pending() />
                </div>
            </ActionForm>
        </div>
    }
}

#[component]
fn ApiKeysCard(api_keys: ApiKeysContext, key_list: Result<ApiKeys, AppError>) -> impl IntoView {
    let ApiKeysContext {
        create,
        revoke,
        roll,
    } = api_keys;
    let create_error = move || create.value().get().and_then(Result::err);
    let create_form = clear_after_success(create.value());
    view! {
        <div class=CARD>
            <h2 class=H2>"API keys"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Use a key with any Tinify client, or send it as "
                <code class="rounded bg-slate-100 px-1">"Authorization: Bearer KEY"</code>
                ". See the " <a href="/api/docs" class="font-semibold text-indigo-700">"API documentation"</a> "."
            </p>
            <ActionForm action=create node_ref=create_form attr:class="mt-4 flex flex-col gap-2 sm:flex-row sm:items-start">
                <Field
                    label="Key name"
                    name="name"
                    hint="So you can tell keys apart, e.g. “build server”."
                    server_error=Signal::derive(move || {
                        create_error().and_then(|e| e.field_message("name").or_else(|| form_level_error(Some(e), &["name"])))
                    })
                    class="flex-1"
                />
                <div class="sm:mt-6 sm:w-40">
                    <SubmitButton label="Create key" pending_label="Creating…" pending=create.pending() />
                </div>
            </ActionForm>
            {match key_list {
                Ok(keys) => {
                    let secret = keys.callback_secret.clone();
                    view! {
                        <KeyList keys revoke />
                        <CallbackSecret secret roll />
                    }
                    .into_any()
                }
                Err(error) => view! {
                    <p role="alert" class="text-sm text-red-700">{error.to_string()}</p>
                }
                .into_any(),
            }}
        </div>
    }
}

/// The secret that signs job callbacks, and a button to replace it.
#[component]
fn CallbackSecret(secret: String, roll: ServerAction<RollCallbackSecret>) -> impl IntoView {
    view! {
        <div class="mt-6 border-t border-slate-100 pt-4">
            <h3 class="text-sm font-semibold text-slate-900">"Callback signing secret"</h3>
            <p class="mt-1 text-sm text-slate-600">
                "Job callbacks carry "
                <code class="rounded bg-slate-100 px-1">"Slimage-Signature: t=…,v1=…"</code>
                ": an HMAC-SHA256 of the timestamp, a dot and the body, made with this secret. "
                <a href="/api/docs" class="font-semibold text-indigo-700">"How to verify it"</a> "."
            </p>
            <div class="mt-3 flex flex-col gap-2 sm:flex-row sm:items-center">
                <code
                    class="block flex-1 select-all break-all rounded bg-slate-100 px-2 py-1.5 font-mono text-sm text-slate-900"
                    data-testid="callback-secret"
                >
                    {secret}
                </code>
                <ActionForm action=roll>
                    <button
                        type="submit"
                        class="w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium text-slate-700 hover:border-indigo-300 hover:text-indigo-700 sm:w-auto"
                    >
                        "Replace secret"
                    </button>
                </ActionForm>
            </div>
        </div>
    }
}

#[component]
fn KeyList(keys: ApiKeys, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    let revoke_error = move || {
        revoke
            .value()
            .get()
            .and_then(Result::err)
            .map(|e: AppError| e.to_string())
    };
    view! {
        {keys.new_secret.map(|secret| view! {
            <div class="mt-4 rounded-md border border-emerald-200 bg-emerald-50 p-3 text-sm text-emerald-900" role="status">
                <p class="font-semibold">"Your new key. Copy it now: it will not be shown again."</p>
                <code class="mt-2 block select-all break-all rounded bg-white px-2 py-1 font-mono text-base" data-testid="new-api-key">
                    {secret}
                </code>
            </div>
        })}
        {move || revoke_error().map(|m| view! { <p role="alert" class="mt-3 text-sm text-red-700">{m}</p> })}
        {if keys.keys.is_empty() {
            view! { <p class="mt-4 text-sm text-slate-500">"You have no API keys yet."</p> }.into_any()
        } else {
            view! {
                <ul class="mt-4 divide-y divide-slate-100 border-t border-slate-100">
                    {keys.keys.into_iter().map(|key| view! {
                        <li class="flex flex-wrap items-center justify-between gap-2 py-3">
                            <div>
                                <p class="font-medium text-slate-900">{key.name.clone()}</p>
                                <p class="text-xs text-slate-500">
                                    <code class="font-mono">{format!("{}…", key.prefix)}</code>
                                    {format!(" · created {}", key.created)}
                                    {format!(" · {}", key.last_used.as_ref().map_or_else(
                                        || "never used".to_string(),
                                        |d| format!("last used {d}"),
                                    ))}
                                </p>
                            </div>
                            <ActionForm action=revoke>
                                <input type="hidden" name="id" value=key.id.to_string() />
                                <button
                                    type="submit"
                                    class="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium text-slate-700 hover:border-red-300 hover:text-red-700"
                                    aria-label=format!("Revoke key {}", key.name)
                                >
                                    "Revoke"
                                </button>
                            </ActionForm>
                        </li>
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }}
    }
}

#[component]
fn DeleteAccountCard() -> impl IntoView {
    let action = ServerAction::<DeleteAccount>::new();
    let error = move || action.value().get().and_then(Result::err);
    view! {
        <div class="rounded-2xl border border-red-200 bg-white p-6 shadow-sm">
            <h2 class="text-lg font-semibold text-red-800">"Delete account"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Deletes your account, your API keys and every stored file at once. This cannot be undone."
            </p>
            <ActionForm action=action attr:class="mt-4 max-w-md">
                <FormAlert message=Signal::derive(move || form_level_error(error(), &["password"])) />
                <Field
                    label="Your password"
                    name="password"
                    input_type="password"
                    autocomplete="current-password"
                    server_error=field_error(error, "password")
                />
                <div class="sm:w-56">
                    <SubmitButton label="Delete my account" pending_label="Deleting…" pending=action.pending() danger=true />
                </div>
            </ActionForm>
        </div>
    }
}
