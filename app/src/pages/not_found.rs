//! The page for addresses that lead nowhere, answered with status 404.

use leptos::prelude::*;
use leptos_meta::Title;

/// "Page not found", with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }

    view! {
        <Title text="Page not found" />
        <section class="mx-auto max-w-xl px-4 py-24 text-center sm:px-6">
            <p class="text-sm font-semibold text-indigo-600">"404"</p>
            <h1 class="mt-2 text-3xl font-bold tracking-tight text-slate-900">"Page not found"</h1>
            <p class="mt-4 text-slate-600">
                "There is nothing at this address. It may have moved, or the link may be mistyped."
            </p>
            <a
                href="/"
                class="mt-8 inline-block rounded-md bg-indigo-600 px-4 py-2 font-semibold text-white hover:bg-indigo-500"
            >
                "Back to the home page"
            </a>
        </section>
    }
}
