//! `/jobs/:id`: one job's files, live until every file is finished; it survives a reload and
//! shows jobs started in another tab or through the API.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    components::results::{poll_job, BatchView, CompareDialog, CompareTarget, RowSpec},
    compress::JobView,
    history::get_job,
};

/// `/jobs/:id`
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let job = Resource::new(id, get_job);
    view! {
        <Title text="Job" />
        <section class="mx-auto max-w-5xl px-4 py-10 sm:px-6">
            <Transition fallback=|| view! { <p class="py-10 text-center text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match job.await {
                        Ok(view) => view! { <LiveJob initial=view /> }.into_any(),
                        Err(_) => view! {
                            <div class="rounded-2xl border border-slate-200 bg-white p-10 text-center shadow-sm">
                                <h1 class="text-2xl font-bold text-slate-900">"Job not found"</h1>
                                <p class="mt-2 text-slate-600">
                                    "It does not exist, it is not yours, or you are signed out. "
                                    <a href="/history" class="font-medium text-indigo-700 underline">"Your jobs"</a>
                                </p>
                            </div>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn LiveJob(initial: JobView) -> impl IntoView {
    let rows: Vec<RowSpec> = initial
        .items
        .iter()
        .map(|item| RowSpec {
            name: StoredValue::new(item.name.clone()),
            size: item.input_bytes,
            uploaded: RwSignal::new(1.0),
        })
        .collect();
    let files = initial.items.len();
    let job = RwSignal::new(Some(initial));
    let error = RwSignal::new(None::<String>);
    let compare = RwSignal::new(None::<CompareTarget>);
    Effect::new(move |_| poll_job(job));
    view! {
        <div class="mb-6 flex flex-wrap items-end justify-between gap-2">
            <div>
                <h1 class="text-3xl font-bold tracking-tight text-slate-900">
                    {format!("{files} file{}", if files == 1 { "" } else { "s" })}
                </h1>
                <p class="mt-1 text-sm text-slate-600">"This page updates by itself while files are compressing."</p>
            </div>
            <a href="/compress" class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
                "Compress more"
            </a>
        </div>
        <BatchView rows job error compare job_link=false />
        <CompareDialog target=compare />
    }
}
