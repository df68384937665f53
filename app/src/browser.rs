//! The browser side of dropping files (feature `hydrate` only): files and whole folders out of a
//! drop, a file picker or the clipboard, with their folder paths; and the upload itself, one
//! `multipart/form-data` request with upload progress (`XMLHttpRequest`: `fetch` reports none).

use wasm_bindgen::{prelude::*, JsCast};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, File, FileList, FileSystemDirectoryEntry, FileSystemDirectoryReader,
    FileSystemEntry, FileSystemFileEntry, FormData, ProgressEvent, XmlHttpRequest,
};

/// A file to upload and the path it is shown and stored under (`folder/sub/name.png`).
#[derive(Clone)]
pub struct PickedFile {
    /// The file.
    pub file: File,
    /// Its name with the folders it was dropped in.
    pub path: String,
}

/// What a drop holds. Must be called inside the drop handler: the browser empties the
/// `DataTransfer` once the event is over, so folders are only opened here and read later.
pub fn take_drop(transfer: &DataTransfer) -> (Vec<PickedFile>, Vec<FileSystemDirectoryEntry>) {
    let items = transfer.items();
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for i in 0..items.length() {
        let Some(item) = items.get(i) else { continue };
        if item.kind() != "file" {
            continue;
        }
        match item.webkit_get_as_entry() {
            Ok(Some(entry)) if entry.is_directory() => folders.push(entry.unchecked_into()),
            _ => {
                if let Ok(Some(file)) = item.get_as_file() {
                    files.push(PickedFile {
                        path: file.name(),
                        file,
                    });
                }
            }
        }
    }
    if items.length() == 0 {
        if let Some(list) = transfer.files() {
            files.extend(files_of_list(&list));
        }
    }
    (files, folders)
}

/// Every file of a file picker's or the clipboard's list; a folder picker's files keep their
/// relative path.
pub fn files_of_list(list: &FileList) -> Vec<PickedFile> {
    (0..list.length())
        .filter_map(|i| list.get(i))
        .map(|file| {
            let relative = js_sys::Reflect::get(&file, &JsValue::from_str("webkitRelativePath"))
                .ok()
                .and_then(|v| v.as_string())
                .filter(|p| !p.is_empty());
            PickedFile {
                path: relative.unwrap_or_else(|| file.name()),
                file,
            }
        })
        .collect()
}

/// Every file inside `folders`, however deep, with its path from the dropped folder.
pub async fn read_folders(
    folders: Vec<FileSystemDirectoryEntry>,
) -> Result<Vec<PickedFile>, JsValue> {
    let mut files = Vec::new();
    let mut pending = folders;
    while let Some(folder) = pending.pop() {
        let reader = folder.create_reader();
        // `readEntries` answers in batches until it answers an empty one.
        loop {
            let entries = read_entries(&reader).await?;
            if entries.length() == 0 {
                break;
            }
            for entry in entries.iter() {
                let entry: FileSystemEntry = entry.unchecked_into();
                if entry.is_directory() {
                    pending.push(entry.unchecked_into());
                } else if entry.is_file() {
                    let file = file_of(entry.unchecked_ref()).await?;
                    files.push(PickedFile {
                        path: entry.full_path().trim_start_matches('/').to_string(),
                        file,
                    });
                }
            }
        }
    }
    Ok(files)
}

async fn read_entries(reader: &FileSystemDirectoryReader) -> Result<js_sys::Array, JsValue> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        if let Err(error) = reader.read_entries_with_callback_and_callback(&resolve, &reject) {
            let _ = reject.call1(&JsValue::NULL, &error);
        }
    });
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

async fn file_of(entry: &FileSystemFileEntry) -> Result<File, JsValue> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        entry.file_with_callback_and_callback(&resolve, &reject);
    });
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// Sends `files` with the job's `options` (JSON) to `/api/uploads`. `on_progress` hears the bytes
/// sent so far; `on_done` hears the status (0 when the network failed) and the answer's body.
pub fn upload(
    files: &[PickedFile],
    options: &str,
    on_progress: impl Fn(f64) + 'static,
    on_done: impl FnOnce(u16, String) + 'static,
) -> Result<(), JsValue> {
    let form = FormData::new()?;
    form.append_with_str("options", options)?;
    for picked in files {
        form.append_with_blob_and_filename("file", &picked.file, &picked.path)?;
    }
    let request = XmlHttpRequest::new()?;
    request.open("POST", "/api/uploads")?;
    request.set_request_header("Accept", "application/json")?;
    let progress = Closure::<dyn Fn(ProgressEvent)>::new(move |event: ProgressEvent| {
        on_progress(event.loaded());
    });
    request
        .upload()?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    let finished = request.clone();
    let done: Closure<dyn FnMut()> = Closure::once(move || {
        let status = finished.status().unwrap_or(0);
        let body = finished.response_text().ok().flatten().unwrap_or_default();
        on_done(status, body);
    });
    request.set_onloadend(Some(done.as_ref().unchecked_ref()));
    // The request owns its handlers until it ends; they are small and live once per upload.
    progress.forget();
    done.forget();
    request.send_with_opt_form_data(Some(&form))
}

/// Waits `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}
