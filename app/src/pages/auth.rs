//! The signed-out pages: sign up, log in, forgot password, reset password. Each form works as a
//! plain HTML post without JavaScript; hydrated, it checks fields as the user types.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    auth::{LogIn, RequestPasswordReset, ResetPassword, SignUp},
    components::form::{
        field_error, form_level_error, Field, FormAlert, FormCard, Notice, SubmitButton,
    },
    validate::{check_email, check_new_password, normalize_email},
};

const LINK: &str = "font-semibold text-indigo-700 hover:text-indigo-600";

fn email_check() -> Callback<String, Result<(), String>> {
    Callback::new(|value: String| check_email(&normalize_email(&value)))
}

fn new_password_check() -> Callback<String, Result<(), String>> {
    Callback::new(|value: String| check_new_password(&value, ""))
}

/// `/signup`
#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let value = action.value();
    let error = move || value.get().and_then(Result::err);
    view! {
        <Title text="Sign up" />
        <FormCard
            title="Create your account"
            subtitle="Start on the free plan. No card needed."
        >
            <FormAlert message=Signal::derive(move || form_level_error(error(), &["email", "password"])) />
            <ActionForm action=action>
                <Field
                    label="Email"
                    name="email"
                    input_type="email"
                    autocomplete="email"
                    server_error=field_error(error, "email")
                    check=email_check()
                />
                <Field
                    label="Password"
                    name="password"
                    input_type="password"
                    autocomplete="new-password"
                    hint="At least 10 characters. Not your email, not a common password."
                    server_error=field_error(error, "password")
                    check=new_password_check()
                    live=true
                />
                <SubmitButton
                    label="Create account"
                    pending_label="Creating your account…"
                    pending=action.pending()
                />
            </ActionForm>
            <p class="mt-6 text-center text-sm text-slate-600">
                "Already have an account? " <a href="/login" class=LINK>"Log in"</a>
            </p>
        </FormCard>
    }
}

/// `/login`
#[component]
pub fn LogInPage() -> impl IntoView {
    let action = ServerAction::<LogIn>::new();
    let value = action.value();
    let error = move || value.get().and_then(Result::err);
    view! {
        <Title text="Log in" />
        <FormCard title="Log in" subtitle="Welcome back.">
            <FormAlert message=Signal::derive(move || form_level_error(error(), &["email", "password"])) />
            <ActionForm action=action>
                <Field
                    label="Email"
                    name="email"
                    input_type="email"
                    autocomplete="username"
                    server_error=field_error(error, "email")
                />
                <Field
                    label="Password"
                    name="password"
                    input_type="password"
                    autocomplete="current-password"
                    server_error=field_error(error, "password")
                />
                <div class="-mt-2 mb-4 text-right text-sm">
                    <a href="/forgot-password" class=LINK>"Forgot your password?"</a>
                </div>
                <SubmitButton label="Log in" pending_label="Logging in…" pending=action.pending() />
            </ActionForm>
            <p class="mt-6 text-center text-sm text-slate-600">
                "New to Slimage? " <a href="/signup" class=LINK>"Create an account"</a>
            </p>
        </FormCard>
    }
}

/// `/forgot-password` (and `?sent=1` after a request)
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let value = action.value();
    let error = move || value.get().and_then(Result::err);
    let query = use_query_map();
    let sent = Signal::derive(move || {
        query.read().get("sent").is_some() || matches!(action.value().get(), Some(Ok(())))
    });
    view! {
        <Title text="Reset your password" />
        <FormCard
            title="Reset your password"
            subtitle="Enter your account's email and we will send you a link to choose a new password."
        >
            <Notice message=Signal::derive(move || {
                sent.get().then(|| {
                    "If an account exists for that email, a reset link is on its way. It works once, for one hour.".to_string()
                })
            }) />
            <FormAlert message=Signal::derive(move || form_level_error(error(), &["email"])) />
            <ActionForm action=action>
                <Field
                    label="Email"
                    name="email"
                    input_type="email"
                    autocomplete="email"
                    server_error=field_error(error, "email")
                    check=email_check()
                />
                <SubmitButton
                    label="Send reset link"
                    pending_label="Sending…"
                    pending=action.pending()
                />
            </ActionForm>
            <p class="mt-6 text-center text-sm text-slate-600">
                "Remembered it? " <a href="/login" class=LINK>"Log in"</a>
            </p>
        </FormCard>
    }
}

/// `/reset-password?token=…`, the page the emailed link opens.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let value = action.value();
    let error = move || value.get().and_then(Result::err);
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    view! {
        <Title text="Choose a new password" />
        <FormCard title="Choose a new password">
            <Show
                when=move || !token().is_empty()
                fallback=|| view! {
                    <p class="text-slate-700">
                        "This page needs the link from your reset email. "
                        <a href="/forgot-password" class=LINK>"Ask for a new link"</a>
                        "."
                    </p>
                }
            >
                <FormAlert message=Signal::derive(move || {
                    error()
                        .and_then(|e| e.field_message("token"))
                        .or_else(|| form_level_error(error(), &["token", "new_password"]))
                }) />
                <ActionForm action=action>
                    <input type="hidden" name="token" value=token />
                    <Field
                        label="New password"
                        name="new_password"
                        input_type="password"
                        autocomplete="new-password"
                        hint="At least 10 characters. Not your email, not a common password."
                        server_error=field_error(error, "new_password")
                        check=new_password_check()
                        live=true
                    />
                    <SubmitButton
                        label="Set new password"
                        pending_label="Saving…"
                        pending=action.pending()
                    />
                </ActionForm>
            </Show>
        </FormCard>
    }
}
