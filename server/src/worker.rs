//! Workers: claim an item from the queue, read its input from storage, compress it with the
//! engine on a blocking thread (one per worker, so CPU work is bounded by the worker count and the
//! async executor stays free for web requests), store the output and record the result. They run
//! inside `server` (`WORKERS`, default: one per core) and on their own as `server worker`.

use std::time::Duration;

use app::{
    compress::{CompressMode, JobOptions, OutputChoice, ResizeMethod, ResizeSpec},
    error::AppError,
    ssr::{
        db::now,
        jobs::{self, ClaimedItem, Failure, ItemResult},
        state::AppState,
    },
};
use engine::{CompressOptions, Keep, Limits, Mode, OutputFormat, Resize};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// How long a claim lasts; a worker extends it every third of that while it compresses.
pub const LEASE_SECS: i64 = 120;
/// How long an idle worker waits before looking for work again.
const IDLE: Duration = Duration::from_millis(500);

/// The engine's options for a job's options, refusing images over `max_pixels`.
pub fn engine_options(options: &JobOptions, max_pixels: u64) -> CompressOptions {
    let resize = match (options.resize, options.max_width, options.max_height) {
        (Some(spec), _, _) => api_resize(spec),
        (None, None, None) => None,
        (None, width, height) => Some(Resize::Fit {
            width: width.unwrap_or(u32::MAX),
            height: height.unwrap_or(u32::MAX),
        }),
    };
    CompressOptions {
        mode: match options.mode {
            CompressMode::Lossless => Mode::Lossless,
            CompressMode::Balanced => Mode::Balanced,
            CompressMode::Small => Mode::Small,
        },
        format: match options.format {
            OutputChoice::Same => OutputFormat::Same,
            OutputChoice::Png => OutputFormat::Png,
            OutputChoice::Jpeg => OutputFormat::Jpeg,
            OutputChoice::Webp => OutputFormat::Webp,
            OutputChoice::Avif => OutputFormat::Avif,
            OutputChoice::Auto => OutputFormat::Auto,
        },
        background: options.background,
        resize,
        keep: Keep {
            copyright: options.keep_metadata || options.keep_copyright,
            creation: options.keep_metadata || options.keep_creation,
            location: options.keep_location,
        },
        limits: Limits {
            max_pixels,
            ..Limits::default()
        },
        ..CompressOptions::default()
    }
}

/// The engine's resize for an API resize (validated when the job was made; an incomplete box
/// means no resize).
fn api_resize(spec: ResizeSpec) -> Option<Resize> {
    match (spec.method, spec.width, spec.height) {
        (ResizeMethod::Scale, Some(width), None) => Some(Resize::ScaleWidth(width)),
        (ResizeMethod::Scale, None, Some(height)) => Some(Resize::ScaleHeight(height)),
        (ResizeMethod::Fit, Some(width), Some(height)) => Some(Resize::Fit { width, height }),
        (ResizeMethod::Cover, Some(width), Some(height)) => Some(Resize::Cover { width, height }),
        (ResizeMethod::Thumb, Some(width), Some(height)) => Some(Resize::Thumb { width, height }),
        _ => None,
    }
}

/// Starts `count` workers on the current runtime.
pub fn spawn(state: &AppState, count: usize) -> Vec<JoinHandle<()>> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    (0..count)
        .map(|n| {
            let state = state.clone();
            let name = format!("{host}-{}-{n}", std::process::id());
            tokio::spawn(async move { run(state, name).await })
        })
        .collect()
}

/// One worker's loop, until the task is aborted.
async fn run(state: AppState, name: String) {
    loop {
        match work_once(&state, &name).await {
            Ok(true) => {}
            Ok(false) => tokio::time::sleep(IDLE).await,
            Err(error) => {
                tracing::warn!(worker = %name, %error, "the queue could not be read; retrying");
                tokio::time::sleep(IDLE * 4).await;
            }
        }
    }
}

/// Claims and processes one item; `false` when the queue had nothing to do.
pub async fn work_once(state: &AppState, worker: &str) -> Result<bool, AppError> {
    let Some(item) = jobs::claim_next(&state.db, worker, LEASE_SECS, now()).await? else {
        return Ok(false);
    };
    let span = tracing::info_span!("job_item", item = %item.id, job = %item.job_id, attempt = item.attempts);
    let outcome = process(state, worker, &item).instrument(span).await;
    let now = now();
    match outcome {
        Ok(result) => {
            if jobs::complete(&state.db, &item.id, worker, &result, now).await? {
                tracing::info!(item = %item.id, bytes = result.output_bytes, "item compressed");
            } else {
                tracing::warn!(item = %item.id, "lease lost while compressing; another worker has the item");
            }
        }
        Err(failure) => {
            let fate = jobs::fail(&state.db, &item.id, worker, &failure, now).await?;
            tracing::info!(item = %item.id, ?failure, ?fate, "item not compressed");
        }
    }
    Ok(true)
}

async fn process(
    state: &AppState,
    worker: &str,
    item: &ClaimedItem,
) -> Result<ItemResult, Failure> {
    let options = jobs::options_of(&state.db, &item.job_id)
        .await
        .map_err(|e| Failure::Transient(format!("reading the job: {e}")))?;
    let options: JobOptions = serde_json::from_str(&options)
        .map_err(|e| Failure::Permanent(format!("the job's options are invalid: {e}")))?;
    let input = state
        .storage
        .get(&item.input_key)
        .await
        .map_err(|e| Failure::Transient(format!("reading the upload: {e}")))?;
    let engine_options = engine_options(&options, state.settings.max_pixels);
    let task = tokio::task::spawn_blocking(move || engine::compress(&input, &engine_options));
    tokio::pin!(task);
    // Keep the lease while the engine works (large images take longer than a lease).
    let mut renew = tokio::time::interval(Duration::from_secs((LEASE_SECS / 3) as u64));
    renew.tick().await;
    let compressed = loop {
        tokio::select! {
            joined = &mut task => break joined,
            _ = renew.tick() => {
                if let Ok(false) = jobs::extend_lease(&state.db, &item.id, worker, LEASE_SECS, now()).await {
                    tracing::warn!(item = %item.id, "lease lost; finishing anyway");
                }
            }
        }
    };
    let compressed = compressed
        .map_err(|e| Failure::Transient(format!("the compression task stopped: {e}")))?
        .map_err(|e| Failure::Permanent(capitalise(&e.to_string())))?;
    let output_key = jobs::output_key(&item.input_key, &item.id);
    let output_bytes = compressed.bytes.len() as i64;
    state
        .storage
        .put(&output_key, compressed.bytes)
        .await
        .map_err(|e| Failure::Transient(format!("storing the result: {e}")))?;
    Ok(ItemResult {
        output_key,
        output_bytes,
        output_format: compressed.format.extension().to_string(),
        width: i64::from(compressed.width),
        height: i64::from(compressed.height),
        score: compressed.score,
        kept_original: compressed.kept_original,
    })
}

fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_options_map_onto_the_engines() {
        let defaults = engine_options(&JobOptions::default(), Limits::default().max_pixels);
        assert_eq!(defaults, CompressOptions::default());
        let limited = engine_options(&JobOptions::default(), 24_000_000);
        assert_eq!(limited.limits.max_pixels, 24_000_000);
        assert_eq!(
            limited.limits.max_input_bytes,
            Limits::default().max_input_bytes
        );
        let options: JobOptions = serde_json::from_str(
            r#"{"mode":"small","format":"webp","max_width":800,"keep_metadata":true}"#,
        )
        .unwrap();
        let mapped = engine_options(&options, 100_000_000);
        assert_eq!(mapped.mode, Mode::Small);
        assert_eq!(mapped.format, OutputFormat::Webp);
        assert_eq!(
            mapped.resize,
            Some(Resize::Fit {
                width: 800,
                height: u32::MAX
            })
        );
        assert!(mapped.keep.copyright && mapped.keep.creation && !mapped.keep.location);
        assert!(serde_json::from_str::<JobOptions>(r#"{"colour":"red"}"#).is_err());
    }
}
