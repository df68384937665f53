//! Form pieces shared by the account pages: a labelled field that shows the server's error for
//! it (also after a no-JavaScript post) and, once hydrated, checks the value as the user types;
//! an alert for errors that belong to no field; a submit button with a pending state.

use leptos::prelude::*;

use crate::error::AppError;

/// A page's card: a heading, a line under it, then the form.
#[component]
pub fn FormCard(
    /// The heading.
    title: &'static str,
    /// One line under the heading.
    #[prop(optional)]
    subtitle: Option<&'static str>,
    /// The form and links.
    children: Children,
) -> impl IntoView {
    // Effects run only in the browser once the page is hydrated; before that a submit is a plain
    // HTML post (which works too, through a redirect). The card says which (`data-ready`), for
    // the end-to-end tests of the hydrated forms.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    view! {
        <section class="mx-auto w-full max-w-md px-4 py-12 sm:py-16">
            <div
                class="rounded-2xl border border-slate-200 bg-white p-6 shadow-sm sm:p-8"
                data-testid="form-card"
                data-ready=move || ready.get().to_string()
            >
                <h1 class="text-2xl font-bold tracking-tight text-slate-900">{title}</h1>
                {subtitle.map(|s| view! { <p class="mt-2 text-sm text-slate-600">{s}</p> })}
                <div class="mt-6">{children()}</div>
            </div>
        </section>
    }
}

/// The error of the last submission, when it is not about one field.
pub fn form_level_error(error: Option<AppError>, fields: &[&str]) -> Option<String> {
    match error {
        Some(AppError::Invalid { field, .. }) if fields.contains(&field.as_str()) => None,
        Some(error) => Some(error.to_string()),
        None => None,
    }
}

/// The server's message for `field` from the last submission (`error` reads that submission's
/// error), in the form [`Field`] takes it.
pub fn field_error<E>(error: E, field: &'static str) -> Signal<Option<String>>
where
    E: Fn() -> Option<AppError> + Send + Sync + 'static,
{
    Signal::derive(move || error().and_then(|e| e.field_message(field)))
}

/// A red box above the form for errors that belong to no field.
#[component]
pub fn FormAlert(
    /// The message; nothing is shown while it is `None`.
    #[prop(into)]
    message: Signal<Option<String>>,
) -> impl IntoView {
    banner(message, "alert", "border-red-200 bg-red-50 text-red-800")
}

/// A green box for "done" messages.
#[component]
pub fn Notice(
    /// The message; nothing is shown while it is `None`.
    #[prop(into)]
    message: Signal<Option<String>>,
) -> impl IntoView {
    banner(
        message,
        "status",
        "border-emerald-200 bg-emerald-50 text-emerald-800",
    )
}

fn banner(
    message: Signal<Option<String>>,
    role: &'static str,
    colours: &'static str,
) -> impl IntoView {
    view! {
        <Show when=move || message.get().is_some()>
            <div role=role class=format!("mb-4 rounded-md border px-3 py-2 text-sm {colours}")>
                {move || message.get()}
            </div>
        </Show>
    }
}

/// A labelled input with its error underneath.
#[component]
pub fn Field(
    /// Visible label.
    label: &'static str,
    /// The form field name (the server function's argument).
    name: &'static str,
    /// `email`, `password`, `text`…
    #[prop(default = "text")]
    input_type: &'static str,
    /// The browser's autocomplete hint.
    #[prop(default = "off")]
    autocomplete: &'static str,
    /// A line of help under the field.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// The server's message for this field from the last submission.
    #[prop(into)]
    server_error: Signal<Option<String>>,
    /// Checks the value in the browser; `Err` is shown under the field.
    #[prop(optional)]
    check: Option<Callback<String, Result<(), String>>>,
    /// Check on every keystroke (else when the field loses focus).
    #[prop(optional)]
    live: bool,
    /// Extra classes for the wrapper.
    #[prop(optional)]
    class: &'static str,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let (client_error, set_client_error) = signal(None::<String>);
    let (edited, set_edited) = signal(false);
    // A new answer from the server replaces whatever the browser said before.
    Effect::new(move |_| {
        server_error.track();
        set_edited.set(false);
    });
    let run_check = move |value: String| {
        if let Some(check) = check {
            set_client_error.set(check.run(value).err());
            set_edited.set(true);
        }
    };
    let shown = move || {
        if edited.get() {
            client_error.get()
        } else {
            server_error.get()
        }
    };
    let invalid = move || shown().is_some();
    view! {
        <div class=format!("mb-4 {class}")>
            <label for=id.clone() class="block text-sm font-medium text-slate-800">
                {label}
            </label>
            <input
                id=id
                name=name
                type=input_type
                autocomplete=autocomplete
                required
                aria-invalid=move || invalid().to_string()
                aria-describedby=error_id.clone()
                class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-slate-900 shadow-sm placeholder:text-slate-400 focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30 aria-[invalid=true]:border-red-400"
                on:input=move |ev| {
                    // Live fields check every keystroke; others only once they have been checked.
                    if live || edited.get_untracked() {
                        run_check(event_target_value(&ev));
                    }
                }
                on:change=move |ev| run_check(event_target_value(&ev))
            />
            {hint.map(|hint| view! { <p class="mt-1 text-xs text-slate-500">{hint}</p> })}
            <p id=error_id class="mt-1 min-h-4 text-sm text-red-700" data-field-error=name>
                {shown}
            </p>
        </div>
    }
}

/// The form's submit button: disabled and relabelled while the request is in flight.
#[component]
pub fn SubmitButton(
    /// Label at rest.
    label: &'static str,
    /// Label while pending.
    pending_label: &'static str,
    /// Whether the action is in flight.
    #[prop(into)]
    pending: Signal<bool>,
    /// `danger` for destructive actions.
    #[prop(optional)]
    danger: bool,
) -> impl IntoView {
    let colours = if danger {
        "bg-red-600 hover:bg-red-500 focus-visible:outline-red-600"
    } else {
        "bg-indigo-600 hover:bg-indigo-500 focus-visible:outline-indigo-600"
    };
    view! {
        <button
            type="submit"
            disabled=move || pending.get()
            aria-busy=move || pending.get().to_string()
            class=format!(
                "inline-flex w-full items-center justify-center rounded-md px-4 py-2 font-semibold text-white shadow-sm focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 disabled:cursor-wait disabled:opacity-70 {colours}",
            )
        >
            {move || if pending.get() { pending_label } else { label }}
        </button>
    }
}
