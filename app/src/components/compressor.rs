//! The drop zone and its options: files, many files and whole folders by drag-and-drop, a file
//! or folder picker, or paste; each drop becomes one job whose rows show upload progress, then
//! compression, then results (see [`super::results`]).

use leptos::prelude::*;

use super::results::{BatchView, CompareDialog, CompareTarget, RowSpec};
use crate::compress::{
    format_bytes, CompressLimits, CompressMode, JobOptions, JobView, OutputChoice,
};

/// One drop: its rows, its job once created, its error if it was refused.
#[derive(Debug, Clone, Copy)]
struct Batch {
    key: usize,
    rows: StoredValue<Vec<RowSpec>>,
    job: RwSignal<Option<JobView>>,
    error: RwSignal<Option<String>>,
}

/// The options a person picks before dropping.
#[derive(Debug, Clone, Copy)]
struct OptionSignals {
    mode: RwSignal<CompressMode>,
    format: RwSignal<OutputChoice>,
    max_width: RwSignal<String>,
    max_height: RwSignal<String>,
    keep_metadata: RwSignal<bool>,
}

impl OptionSignals {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn options(&self) -> Result<JobOptions, String> {
        let side = |text: String, what: &str| -> Result<Option<u32>, String> {
            let text = text.trim().to_string();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<u32>()
                .ok()
                .filter(|n| (1..=20_000).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    format!("The maximum {what} is a whole number of pixels from 1 to 20000.")
                })
        };
        Ok(JobOptions {
            mode: self.mode.get_untracked(),
            format: self.format.get_untracked(),
            max_width: side(self.max_width.get_untracked(), "width")?,
            max_height: side(self.max_height.get_untracked(), "height")?,
            keep_metadata: self.keep_metadata.get_untracked(),
            ..JobOptions::default()
        })
    }
}

/// The compressor: options, drop zone, and the batches dropped so far (newest first).
#[component]
pub fn Compressor(limits: CompressLimits) -> impl IntoView {
    let options = OptionSignals {
        mode: RwSignal::new(CompressMode::Balanced),
        format: RwSignal::new(OutputChoice::Same),
        max_width: RwSignal::new(String::new()),
        max_height: RwSignal::new(String::new()),
        keep_metadata: RwSignal::new(false),
    };
    let batches = RwSignal::new(Vec::<Batch>::new());
    let notice = RwSignal::new(None::<String>);
    let dragging = RwSignal::new(false);
    let compare = RwSignal::new(None::<CompareTarget>);
    // Effects run only in the browser, once the page is hydrated: until then a drop does nothing,
    // and the drop zone says so (`data-ready`), which the end-to-end tests wait for.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let limits = StoredValue::new(limits);
    let allowance = limits.with_value(|l| {
        if l.visitor {
            format!(
                "Without an account: {} images a day, up to {} each, kept for an hour.",
                l.max_files,
                format_bytes(l.max_file_bytes)
            )
        } else {
            format!(
                "{} plan: up to {} files per drop, {} each · {} images left this month.",
                l.plan_name,
                l.max_files,
                format_bytes(l.max_file_bytes),
                l.images_left
            )
        }
    });

    #[cfg(feature = "hydrate")]
    let start = move |files: Vec<crate::browser::PickedFile>| {
        start_batch(files, options, limits, batches, notice);
    };

    #[cfg(feature = "hydrate")]
    {
        let paste = window_event_listener(leptos::ev::paste, move |ev| {
            let Some(list) = ev.clipboard_data().and_then(|d| d.files()) else {
                return;
            };
            let files = crate::browser::files_of_list(&list);
            if !files.is_empty() {
                ev.prevent_default();
                start(files);
            }
        });
        on_cleanup(move || paste.remove());
    }

    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(transfer) = ev.data_transfer() {
            let (files, folders) = crate::browser::take_drop(&transfer);
            leptos::task::spawn_local(async move {
                let mut files = files;
                match crate::browser::read_folders(folders).await {
                    Ok(more) => files.extend(more),
                    Err(_) => notice.set(Some(
                        "A dropped folder could not be read; drop its files instead.".into(),
                    )),
                }
                start(files);
            });
        }
    };
    let on_pick = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(input) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            else {
                return;
            };
            if let Some(list) = input.files() {
                start(crate::browser::files_of_list(&list));
            }
            // Picking the same files again must fire `change` again.
            input.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };

    view! {
        <div class="space-y-6">
            <OptionsBar options />
            <div
                class="relative flex flex-col items-center justify-center gap-3 rounded-2xl border-2 border-dashed px-6 py-10 text-center transition-colors"
                class:border-indigo-500=move || dragging.get()
                class:bg-indigo-50=move || dragging.get()
                class:border-slate-300=move || !dragging.get()
                class:bg-white=move || !dragging.get()
                data-testid="drop-zone"
                data-ready=move || ready.get().to_string()
                on:dragover=move |ev| { ev.prevent_default(); dragging.set(true); }
                on:dragenter=move |ev| { ev.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop
            >
                <svg viewBox="0 0 24 24" class="h-10 w-10 fill-none stroke-indigo-500" stroke-width="1.5" aria-hidden="true">
                    <path stroke-linecap="round" stroke-linejoin="round" d="M12 16V4m0 0-4 4m4-4 4 4M4 16v2a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-2" />
                </svg>
                <p class="text-lg font-semibold text-slate-900">"Drop images or folders here"</p>
                <p class="text-sm text-slate-600">"PNG, JPEG, WebP, GIF, BMP or TIFF — or paste an image from the clipboard."</p>
                <div class="flex flex-wrap justify-center gap-2">
                    <label class="cursor-pointer rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-within:outline focus-within:outline-2 focus-within:outline-indigo-600">
                        "Choose files"
                        <input type="file" multiple accept="image/*" class="sr-only" on:change=on_pick data-testid="file-input" />
                    </label>
                    <label class="cursor-pointer rounded-md bg-white px-4 py-2 text-sm font-semibold text-slate-900 ring-1 ring-inset ring-slate-300 hover:bg-slate-50 focus-within:outline focus-within:outline-2 focus-within:outline-indigo-600">
                        "Choose a folder"
                        <input type="file" multiple prop:webkitdirectory=true class="sr-only" on:change=on_pick />
                    </label>
                </div>
                <p class="text-xs text-slate-500" data-testid="limits">
                    {allowance} " "
                    {limits.with_value(|l| l.visitor).then(|| view! {
                        <a href="/signup" class="font-medium text-indigo-700 underline">"Sign up free for 500 images a month."</a>
                    })}
                </p>
            </div>
            {move || notice.get().map(|text| view! {
                <p role="alert" class="rounded-lg bg-amber-50 px-4 py-3 text-sm text-amber-900 ring-1 ring-amber-200">{text}</p>
            })}
            <For each=move || batches.get() key=|batch| batch.key let:batch>
                <BatchView rows=batch.rows.get_value() job=batch.job error=batch.error compare job_link=true />
            </For>
            <CompareDialog target=compare />
        </div>
    }
    .into_any()
}

/// Checks a drop against the limits the page knows, then uploads it as one batch.
#[cfg(feature = "hydrate")]
fn start_batch(
    files: Vec<crate::browser::PickedFile>,
    options: OptionSignals,
    limits: StoredValue<CompressLimits>,
    batches: RwSignal<Vec<Batch>>,
    notice: RwSignal<Option<String>>,
) {
    if files.is_empty() {
        return;
    }
    let limits = limits.get_value();
    let job_options = match options.options() {
        Ok(o) => o,
        Err(message) => return notice.set(Some(message)),
    };
    if files.len() as i64 > limits.max_files {
        return notice.set(Some(format!(
            "That is {} files; {} takes at most {} per drop. Drop fewer at a time{}.",
            files.len(),
            if limits.visitor {
                "a visitor".to_string()
            } else {
                format!("the {} plan", limits.plan_name)
            },
            limits.max_files,
            if limits.visitor {
                ", or sign up"
            } else {
                ", or upgrade"
            }
        )));
    }
    let (files, too_big): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|f| f.file.size() as i64 <= limits.max_file_bytes);
    notice.set((!too_big.is_empty()).then(|| {
        let names: Vec<String> = too_big.iter().map(|f| f.path.clone()).collect();
        format!(
            "Left out, larger than {} each: {}.",
            format_bytes(limits.max_file_bytes),
            names.join(", ")
        )
    }));
    if files.is_empty() {
        return;
    }
    let rows: Vec<RowSpec> = files
        .iter()
        .map(|f| RowSpec {
            name: StoredValue::new(f.path.clone()),
            size: f.file.size() as i64,
            uploaded: RwSignal::new(0.0),
        })
        .collect();
    let batch = Batch {
        key: batches.with_untracked(|b| b.len()),
        rows: StoredValue::new(rows.clone()),
        job: RwSignal::new(None),
        error: RwSignal::new(None),
    };
    batches.update(|b| b.insert(0, batch));
    // Each file's share of the bytes sent, in order (the multipart framing is negligible).
    let mut offsets = Vec::with_capacity(rows.len());
    let mut total = 0.0;
    for row in &rows {
        offsets.push(total);
        total += row.size as f64;
    }
    let progress_rows = rows.clone();
    let on_progress = move |sent: f64| {
        for (row, start) in progress_rows.iter().zip(&offsets) {
            let fraction = ((sent - start) / (row.size.max(1) as f64)).clamp(0.0, 1.0);
            row.uploaded.try_set(fraction);
        }
    };
    let on_done = move |status: u16, body: String| {
        if status == 201 {
            for row in &rows {
                row.uploaded.try_set(1.0);
            }
            match serde_json::from_str::<crate::compress::UploadAnswer>(&body) {
                Ok(answer) => {
                    batch.job.try_set(Some(answer.job));
                    super::results::poll_job(batch.job);
                }
                Err(_) => {
                    batch.error.try_set(Some(
                        "The server's answer could not be read; reload the page to see the job."
                            .into(),
                    ));
                }
            }
        } else {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| {
                    if status == 0 {
                        "The upload did not reach Slimage (network error). Nothing was kept; try again.".into()
                    } else {
                        format!("The upload failed ({status}). Nothing was kept; try again.")
                    }
                });
            batch.error.try_set(Some(message));
        }
    };
    let json = serde_json::to_string(&job_options).unwrap_or_else(|_| "{}".into());
    if crate::browser::upload(&files, &json, on_progress, on_done).is_err() {
        batch
            .error
            .set(Some("This browser could not start the upload.".into()));
    }
}

#[component]
fn OptionsBar(options: OptionSignals) -> impl IntoView {
    let select = "mt-1 block w-full rounded-md border-0 bg-white py-1.5 pl-3 pr-8 text-sm text-slate-900 ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600";
    let input = "mt-1 block w-full rounded-md border-0 py-1.5 px-3 text-sm text-slate-900 ring-1 ring-inset ring-slate-300 placeholder:text-slate-400 focus:ring-2 focus:ring-indigo-600";
    let label = "block text-xs font-medium text-slate-700";
    view! {
        <fieldset class="grid grid-cols-2 gap-3 rounded-2xl border border-slate-200 bg-white p-4 shadow-sm sm:grid-cols-5">
            <legend class="sr-only">"Compression options"</legend>
            <label class=label>
                "Mode"
                <select class=select on:change=move |ev| options.mode.set(match event_target_value(&ev).as_str() {
                    "lossless" => CompressMode::Lossless,
                    "small" => CompressMode::Small,
                    _ => CompressMode::Balanced,
                }) data-testid="mode">
                    <option value="balanced" selected title="Looks identical: the smallest file that still scores as visually lossless">"Balanced"</option>
                    <option value="small" title="Smaller files at a slightly lower, still high quality">"Smaller"</option>
                    <option value="lossless" title="Every pixel kept; only the encoding is optimised">"Lossless"</option>
                </select>
            </label>
            <label class=label>
                "Format"
                <select class=select on:change=move |ev| options.format.set(match event_target_value(&ev).as_str() {
                    "webp" => OutputChoice::Webp,
                    "avif" => OutputChoice::Avif,
                    "auto" => OutputChoice::Auto,
                    _ => OutputChoice::Same,
                }) data-testid="format">
                    <option value="same" selected>"Keep format"</option>
                    <option value="webp">"WebP"</option>
                    <option value="avif">"AVIF"</option>
                    <option value="auto">"Smallest (auto)"</option>
                </select>
            </label>
            <label class=label>
                "Max width"
                <input type="number" min="1" max="20000" inputmode="numeric" placeholder="any" class=input
                    prop:value=move || options.max_width.get()
                    on:input=move |ev| options.max_width.set(event_target_value(&ev)) />
            </label>
            <label class=label>
                "Max height"
                <input type="number" min="1" max="20000" inputmode="numeric" placeholder="any" class=input
                    prop:value=move || options.max_height.get()
                    on:input=move |ev| options.max_height.set(event_target_value(&ev)) />
            </label>
            <label class="col-span-2 flex items-center gap-2 self-end pb-1.5 text-sm text-slate-700 sm:col-span-1">
                <input type="checkbox" class="h-4 w-4 rounded border-slate-300 text-indigo-600"
                    prop:checked=move || options.keep_metadata.get()
                    on:change=move |ev| options.keep_metadata.set(event_target_checked(&ev)) />
                "Keep copyright & date"
            </label>
        </fieldset>
    }
}
