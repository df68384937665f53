//! `/history`: the signed-in user's jobs, newest first, a page at a time, each with its date,
//! files, saving, status and when its files go; a job's files can be deleted now.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

use crate::{
    compress::{HistoryPage as Page, JobSummary},
    error::AppError,
    history::{job_history, DeleteJob},
};

/// `/history`
#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || {
        query.with(|q| {
            q.get("page")
                .and_then(|p| p.parse::<i64>().ok())
                .unwrap_or(1)
        })
    };
    let delete = ServerAction::<DeleteJob>::new();
    let jobs = Resource::new(
        move || (page(), delete.version().get()),
        |(page, _)| job_history(page),
    );
    view! {
        <Title text="Your jobs" />
        <section class="mx-auto max-w-5xl px-4 py-10 sm:px-6">
            <div class="flex flex-wrap items-end justify-between gap-2">
                <h1 class="text-3xl font-bold tracking-tight text-slate-900">"Your jobs"</h1>
                <a href="/compress" class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
                    "Compress images"
                </a>
            </div>
            <Transition fallback=|| view! { <p class="py-10 text-center text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Ok(page) => view! { <JobTable page delete /> }.into_any(),
                        Err(AppError::Unauthorized) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(error) => view! {
                            <p role="alert" class="mt-6 text-red-700">{error.to_string()}</p>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn JobTable(page: Page, delete: ServerAction<DeleteJob>) -> impl IntoView {
    if page.jobs.is_empty() {
        return view! {
            <div class="mt-6 rounded-2xl border border-dashed border-slate-300 bg-white p-10 text-center">
                <p class="font-medium text-slate-900">"No jobs yet."</p>
                <p class="mt-1 text-sm text-slate-600">"Files you compress appear here until they expire."</p>
            </div>
        }
        .into_any();
    }
    let Page { jobs, page, pages } = page;
    view! {
        <div class="mt-6 overflow-x-auto rounded-2xl border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="history">
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-4 py-3">"Date"</th>
                        <th scope="col" class="px-4 py-3">"Files"</th>
                        <th scope="col" class="px-4 py-3">"Saving"</th>
                        <th scope="col" class="px-4 py-3">"Status"</th>
                        <th scope="col" class="px-4 py-3">"Files deleted"</th>
                        <th scope="col" class="px-4 py-3"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {jobs.into_iter().map(|job| view! { <JobLine job delete /> }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="mt-4 flex items-center justify-between text-sm" aria-label="Pages">
            <span class="text-slate-600">{format!("Page {page} of {pages}")}</span>
            <div class="flex gap-2">
                {(page > 1).then(|| view! {
                    <a href=format!("/history?page={}", page - 1) class="rounded-md px-3 py-1.5 ring-1 ring-inset ring-slate-300 hover:bg-slate-50">"Newer"</a>
                })}
                {(page < pages).then(|| view! {
                    <a href=format!("/history?page={}", page + 1) class="rounded-md px-3 py-1.5 ring-1 ring-inset ring-slate-300 hover:bg-slate-50">"Older"</a>
                })}
            </div>
        </nav>
    }
    .into_any()
}

#[component]
fn JobLine(job: JobSummary, delete: ServerAction<DeleteJob>) -> impl IntoView {
    let saving = job
        .saving_percent()
        .map(|p| format!("{p:.0} %"))
        .unwrap_or_else(|| "—".into());
    let status = job.status_text();
    let deleted = job.files_deleted;
    view! {
        <tr>
            <td class="whitespace-nowrap px-4 py-3 text-slate-900">{job.created_text.clone()}</td>
            <td class="px-4 py-3 text-slate-700">{job.files}</td>
            <td class="px-4 py-3 font-medium text-emerald-700">{saving}</td>
            <td class="px-4 py-3 text-slate-700">{status}</td>
            <td class="whitespace-nowrap px-4 py-3 text-slate-700">{job.expires_text.clone()}</td>
            <td class="whitespace-nowrap px-4 py-3 text-right">
                <a href=format!("/jobs/{}", job.id) class="font-medium text-indigo-700 hover:underline">"Open"</a>
                {(!deleted).then(|| view! {
                    <ActionForm action=delete attr:class="ml-3 inline">
                        <input type="hidden" name="id" value=job.id.clone() />
                        <button type="submit" class="font-medium text-red-700 hover:underline">"Delete files"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
