//! `/compress`: the compressor on a page of its own (the landing page shows it too).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{components::compressor::Compressor, history::get_compress_limits};

/// The compressor, with the limits of whoever is looking.
#[component]
pub fn CompressorSection() -> impl IntoView {
    let limits = Resource::new(|| (), |_| get_compress_limits());
    view! {
        <Transition fallback=|| view! { <p class="py-10 text-center text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match limits.await {
                    Ok(limits) => view! { <Compressor limits /> }.into_any(),
                    Err(error) => view! {
                        <p role="alert" class="rounded-lg bg-red-50 p-4 text-red-800">{error.to_string()}</p>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

/// `/compress`
#[component]
pub fn CompressPage() -> impl IntoView {
    view! {
        <Title text="Compress images" />
        <section class="mx-auto max-w-5xl px-4 py-10 sm:px-6">
            <h1 class="text-3xl font-bold tracking-tight text-slate-900">"Compress images"</h1>
            <p class="mt-2 text-slate-600">
                "Each file is made as small as it can be while still scoring as visually identical. "
                <a href="/history" class="font-medium text-indigo-700 underline">"Your earlier jobs"</a>
            </p>
            <div class="mt-6">
                <CompressorSection />
            </div>
        </section>
    }
}
