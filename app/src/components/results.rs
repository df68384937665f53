//! A batch of files as it uploads, compresses and finishes: one row per file (upload progress,
//! state, input → output size, saving, score, Compare and Download), the batch's total and its
//! ZIP; the before/after compare dialog; and the polling that keeps a job up to date.

use leptos::prelude::*;

use crate::compress::{
    archive_url, file_url, format_bytes, FileKind, ItemStatus, ItemView, JobView,
};

/// One file of a batch as the page knows it before the server does.
#[derive(Debug, Clone, Copy)]
pub struct RowSpec {
    /// Its name with folders (stored in the arena so rows are `Copy`).
    pub name: StoredValue<String>,
    /// Its size.
    pub size: i64,
    /// The fraction uploaded, 0 to 1.
    pub uploaded: RwSignal<f64>,
}

/// What the compare dialog shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareTarget {
    /// The file's name.
    pub name: String,
    /// The original's URL.
    pub original: String,
    /// The result's URL.
    pub result: String,
    /// Sizes, for the caption.
    pub sizes: (i64, i64),
}

/// Asks for the job every second until every file is done or failed (in the browser; on the
/// server this does nothing). Stops when the page that shows the job goes away.
pub fn poll_job(job: RwSignal<Option<JobView>>) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        let mut failures = 0;
        loop {
            let Some(Some(current)) = job.try_get_untracked() else {
                return;
            };
            if current.is_finished() || current.files_deleted {
                return;
            }
            crate::browser::sleep(1000).await;
            match crate::history::get_job(current.id.clone()).await {
                Ok(view) => {
                    failures = 0;
                    if job.try_set(Some(view)).is_some() {
                        return;
                    }
                }
                // A blip (server restarting, network): keep asking, a little less often.
                Err(_) if failures < 30 => {
                    failures += 1;
                    crate::browser::sleep(1000).await;
                }
                Err(_) => return,
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = job;
}

/// A batch: its rows, its error, its total, its downloads.
#[component]
pub fn BatchView(
    rows: Vec<RowSpec>,
    job: RwSignal<Option<JobView>>,
    error: RwSignal<Option<String>>,
    compare: RwSignal<Option<CompareTarget>>,
    /// Link to the job's own page (the compress page does; the job page does not).
    job_link: bool,
) -> impl IntoView {
    let count = rows.len();
    view! {
        <section class="overflow-hidden rounded-2xl border border-slate-200 bg-white shadow-sm" data-testid="batch">
            <ul class="divide-y divide-slate-100">
                {rows
                    .into_iter()
                    .enumerate()
                    .map(|(index, row)| {
                        let item = Signal::derive(move || {
                            job.with(|j| j.as_ref().and_then(|j| j.items.get(index).cloned()))
                        });
                        let job_id = Signal::derive(move || job.with(|j| j.as_ref().map(|j| j.id.clone())));
                        view! { <FileRow row item job_id compare failed=error /> }
                    })
                    .collect_view()}
            </ul>
            <BatchFooter job error count job_link />
        </section>
    }
    .into_any()
}

#[component]
fn BatchFooter(
    job: RwSignal<Option<JobView>>,
    error: RwSignal<Option<String>>,
    count: usize,
    job_link: bool,
) -> impl IntoView {
    move || {
        if let Some(message) = error.get() {
            return view! {
                <p role="alert" class="border-t border-red-100 bg-red-50 px-4 py-3 text-sm text-red-800">{message}</p>
            }
            .into_any();
        }
        let Some(view) = job.get() else {
            return view! {
                <p class="border-t border-slate-100 bg-slate-50 px-4 py-3 text-sm text-slate-600" role="status">
                    {format!("Uploading {count} file{}…", if count == 1 { "" } else { "s" })}
                </p>
            }
            .into_any();
        };
        let (input, output) = view.done_totals();
        let done = view
            .items
            .iter()
            .filter(|i| i.status == ItemStatus::Done)
            .count();
        let finished = view.is_finished();
        let summary = if done == 0 {
            if finished {
                "No file could be compressed.".to_string()
            } else {
                format!(
                    "Compressing {count} file{}…",
                    if count == 1 { "" } else { "s" }
                )
            }
        } else {
            let saving = 100.0 * (1.0 - output as f64 / input.max(1) as f64);
            format!(
                "{done} of {} done · {} → {} · saved {saving:.0} %",
                view.items.len(),
                format_bytes(input),
                format_bytes(output)
            )
        };
        let zip = (view.bulk_zip && done > 0 && !view.files_deleted).then(|| {
            view! {
                <a
                    href=archive_url(&view.id)
                    download=""
                    data-testid="download-all"
                    class="rounded-md bg-indigo-600 px-3 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500"
                >
                    "Download all (ZIP)"
                </a>
            }
        });
        let upsell = (!view.bulk_zip && view.items.len() > 1).then(|| {
            view! {
                <p class="text-xs text-slate-500" data-testid="zip-upsell">
                    "Download the files one by one. Downloading everything as one ZIP is a "
                    <a href="/pricing" class="font-medium text-indigo-700 underline">"Premium feature"</a> "."
                </p>
            }
        });
        view! {
            <div class="flex flex-col gap-2 border-t border-slate-100 bg-slate-50 px-4 py-3 sm:flex-row sm:items-center sm:justify-between">
                <div>
                    <p class="text-sm font-medium text-slate-800" role="status" data-testid="batch-summary">{summary}</p>
                    <p class="text-xs text-slate-500">
                        {if view.files_deleted { "The files have been deleted.".to_string() } else { format!("Files are deleted {}.", view.expires_text) }}
                        {job_link.then(|| view! {
                            " " <a href=format!("/jobs/{}", view.id) class="underline hover:text-slate-700">"Job page"</a>
                        })}
                    </p>
                    {upsell}
                </div>
                {zip}
            </div>
        }
        .into_any()
    }
}

/// One file: name and size, upload progress, then its state and result.
#[component]
fn FileRow(
    row: RowSpec,
    item: Signal<Option<ItemView>>,
    job_id: Signal<Option<String>>,
    compare: RwSignal<Option<CompareTarget>>,
    failed: RwSignal<Option<String>>,
) -> impl IntoView {
    let name = row.name.get_value();
    // A refused batch kept nothing: its bars say so.
    let percent = move || {
        if failed.with(Option::is_some) {
            0.0
        } else {
            (row.uploaded.get() * 100.0).round()
        }
    };
    view! {
        <li class="grid gap-2 px-4 py-3 sm:grid-cols-[minmax(0,1fr)_minmax(0,16rem)_auto] sm:items-center" data-testid="file-row">
            <div class="min-w-0">
                <p class="truncate text-sm font-medium text-slate-900" title=name.clone()>{name.clone()}</p>
                <p class="text-xs text-slate-500">{format_bytes(row.size)}</p>
            </div>
            <div class="min-w-0">
                <progress
                    class="h-2 w-full overflow-hidden rounded-full accent-indigo-600"
                    max="100"
                    value=move || percent().to_string()
                    aria-label=format!("Upload of {name}")
                    data-testid="upload-progress"
                ></progress>
                <p class="mt-1 text-xs text-slate-600" data-testid="file-state">
                    {move || state_text(item.get(), row.uploaded.get(), failed.with(Option::is_some))}
                </p>
            </div>
            <div class="flex items-center gap-2 sm:justify-end">
                {move || {
                    let (Some(item), Some(job)) = (item.get(), job_id.get()) else { return None };
                    (item.status == ItemStatus::Done).then(|| {
                        let target = CompareTarget {
                            name: item.name.clone(),
                            original: file_url(&job, &item.id, FileKind::Original),
                            result: file_url(&job, &item.id, FileKind::Result),
                            sizes: (item.input_bytes, item.output_bytes.unwrap_or(0)),
                        };
                        view! {
                            <button
                                type="button"
                                class="rounded-md px-3 py-1.5 text-sm font-medium text-slate-700 ring-1 ring-inset ring-slate-300 hover:bg-slate-50"
                                on:click=move |_| compare.set(Some(target.clone()))
                            >
                                "Compare"
                            </button>
                            <a
                                href=file_url(&job, &item.id, FileKind::Download)
                                download=""
                                data-testid="download"
                                class="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-semibold text-white hover:bg-slate-700"
                            >
                                "Download"
                            </a>
                        }
                    })
                }}
            </div>
        </li>
    }
}

/// "Uploading 40 %", "Waiting…", "Compressing…", "1.2 MB → 310 kB · −74 % · score 86", the error.
fn state_text(item: Option<ItemView>, uploaded: f64, batch_failed: bool) -> String {
    let Some(item) = item else {
        return if batch_failed {
            "Not uploaded".into()
        } else if uploaded >= 1.0 {
            "Uploaded, queueing…".into()
        } else {
            format!("Uploading {:.0} %", uploaded * 100.0)
        };
    };
    match item.status {
        ItemStatus::Queued => "Waiting for a worker…".into(),
        ItemStatus::Running => "Compressing…".into(),
        ItemStatus::Failed => item
            .error
            .unwrap_or_else(|| "Could not be compressed.".into()),
        ItemStatus::Done if item.kept_original => {
            "Already as small as it gets: the original is kept.".into()
        }
        ItemStatus::Done => {
            let score = item
                .score
                .map(|s| format!(" · score {s:.0}"))
                .unwrap_or_default();
            format!(
                "{} → {} · −{:.0} %{score}",
                format_bytes(item.input_bytes),
                format_bytes(item.output_bytes.unwrap_or(0)),
                item.saving_percent().unwrap_or(0.0)
            )
        }
    }
}

/// The before/after dialog: drag across the picture to reveal the original on the left and the
/// result on the right; "100 %" shows real pixels (scroll to pan).
#[component]
pub fn CompareDialog(target: RwSignal<Option<CompareTarget>>) -> impl IntoView {
    let position = RwSignal::new(50.0_f64);
    let actual_size = RwSignal::new(false);
    let close = move || target.set(None);
    move || {
        target.get().map(|t| {
            let image = move || {
                if actual_size.get() { "block max-w-none" } else { "block h-auto w-full" }
            };
            view! {
                <div
                    class="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/70 p-2 sm:p-6"
                    role="dialog"
                    aria-modal="true"
                    aria-label=format!("Compare {}", t.name)
                    data-testid="compare-dialog"
                    on:click=move |_| close()
                    on:keydown=move |ev| if ev.key() == "Escape" { close() }
                >
                    <div class="flex max-h-full w-full max-w-5xl flex-col gap-3 rounded-2xl bg-white p-3 shadow-xl sm:p-4" on:click=|ev| ev.stop_propagation()>
                        <div class="flex flex-wrap items-center justify-between gap-2">
                            <div class="min-w-0">
                                <p class="truncate font-semibold text-slate-900">{t.name.clone()}</p>
                                <p class="text-xs text-slate-500">
                                    {format!("Original {} · Slimage {}", format_bytes(t.sizes.0), format_bytes(t.sizes.1))}
                                </p>
                            </div>
                            <div class="flex items-center gap-2">
                                <button
                                    type="button"
                                    class="rounded-md px-3 py-1.5 text-sm font-medium ring-1 ring-inset ring-slate-300 hover:bg-slate-50"
                                    aria-pressed=move || actual_size.get().to_string()
                                    on:click=move |_| actual_size.update(|a| *a = !*a)
                                    data-testid="zoom"
                                >
                                    {move || if actual_size.get() { "Fit to window" } else { "Zoom to 100 %" }}
                                </button>
                                <button
                                    type="button"
                                    class="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-semibold text-white hover:bg-slate-700"
                                    on:click=move |_| close()
                                >
                                    "Close"
                                </button>
                            </div>
                        </div>
                        <div class="min-h-0 overflow-auto rounded-lg bg-[repeating-conic-gradient(#e2e8f0_0_25%,#fff_0_50%)] bg-[length:16px_16px]">
                            <div class="relative" class:inline-block=move || actual_size.get()>
                                <img src=t.original.clone() alt="Original" class=image data-testid="compare-original" />
                                <img
                                    src=t.result.clone()
                                    alt="Compressed"
                                    class="absolute inset-0 h-full w-full"
                                    style=move || format!("clip-path: inset(0 0 0 {}%)", position.get())
                                    data-testid="compare-result"
                                />
                                <div class="pointer-events-none absolute inset-y-0 w-0.5 bg-white shadow-[0_0_0_1px_rgba(15,23,42,.4)]" style=move || format!("left: {}%", position.get())></div>
                                <span class="pointer-events-none absolute left-2 top-2 rounded bg-slate-900/70 px-2 py-0.5 text-xs font-medium text-white">"Original"</span>
                                <span class="pointer-events-none absolute right-2 top-2 rounded bg-indigo-600/90 px-2 py-0.5 text-xs font-medium text-white">"Slimage"</span>
                                // The whole picture is the slider's track: drag anywhere on it.
                                <input
                                    type="range"
                                    min="0"
                                    max="100"
                                    step="0.5"
                                    class="absolute inset-0 h-full w-full cursor-ew-resize opacity-0"
                                    aria-label="Drag to reveal the original"
                                    prop:value=move || position.get().to_string()
                                    on:input=move |ev| {
                                        if let Ok(value) = event_target_value(&ev).parse::<f64>() {
                                            position.set(value);
                                        }
                                    }
                                    data-testid="compare-slider"
                                />
                            </div>
                        </div>
                    </div>
                </div>
            }
        })
    }
}
