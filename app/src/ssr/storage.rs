//! Where uploaded and compressed files live: a local directory (one machine) or an S3-compatible
//! bucket (many machines), both behind `object_store`.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use futures::StreamExt;
use object_store::{
    aws::AmazonS3Builder, local::LocalFileSystem, path::Path as ObjectPath, ObjectStore,
    ObjectStoreExt, WriteMultipart,
};

/// Why storage could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot use {location}: {reason}")]
pub struct StorageError {
    location: String,
    reason: String,
}

use super::secret::Secret;

/// Which store to open (`STORAGE_URL`).
#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// A local directory, created when missing.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Config),
}

/// Installs rustls's ring provider process-wide (the HTTP clients of S3 storage and of API source
/// URLs use rustls without a built-in provider). A second call finds it installed.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An S3-compatible bucket and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// The bucket's name.
    pub bucket: String,
    /// The server, for S3-compatible services (MinIO, Ceph, R2, …); `None` = AWS itself.
    pub endpoint: Option<String>,
    /// The region (default `us-east-1`).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret<String>>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<Secret<String>>,
}

/// The object store files are kept in.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
}

impl Storage {
    /// Storage in a local directory, created when missing.
    pub fn local(dir: &Path) -> Result<Self, StorageError> {
        let error = |reason: String| StorageError {
            location: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| error(e.to_string()))?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| error(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
        })
    }

    /// The store `config` names.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        match config {
            StorageConfig::Local(dir) => Self::local(dir),
            StorageConfig::S3(s3) => Self::s3(s3),
        }
    }

    /// An S3-compatible bucket (path-style requests when an endpoint is given, as MinIO and most
    /// S3-compatible servers expect; plain http allowed only for an `http://` endpoint).
    pub fn s3(config: &S3Config) -> Result<Self, StorageError> {
        install_tls_provider();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose());
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token.expose());
        }
        let store = builder.build().map_err(|e| StorageError {
            location: format!("s3://{}", config.bucket),
            reason: e.to_string(),
        })?;
        Ok(Self {
            store: Arc::new(store),
        })
    }

    /// Stores `bytes` under `key` (replacing what was there).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), object_store::Error> {
        self.store
            .put(
                &ObjectPath::from(key),
                object_store::PutPayload::from(bytes),
            )
            .await
            .map(|_| ())
    }

    /// The bytes stored under `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, object_store::Error> {
        let found = self.store.get(&ObjectPath::from(key)).await?;
        Ok(found.bytes().await?.to_vec())
    }

    /// Deletes `key`; deleting what is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// A writer that streams a new object to `key` in parts (an upload is never held whole in
    /// memory). The object appears when the writer is finished, never half-written.
    pub async fn writer(&self, key: &str) -> Result<ObjectWriter, object_store::Error> {
        let upload = self.store.put_multipart(&ObjectPath::from(key)).await?;
        Ok(ObjectWriter {
            inner: WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024),
        })
    }

    /// Every object under `prefix`, with its size and last modification (Unix seconds).
    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, object_store::Error> {
        let prefix = ObjectPath::from(prefix);
        let mut listing = if prefix.as_ref().is_empty() {
            self.store.list(None)
        } else {
            self.store.list(Some(&prefix))
        };
        let mut objects = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            objects.push(StoredObject {
                key: meta.location.to_string(),
                bytes: meta.size,
                modified_at: meta.last_modified.timestamp(),
            });
        }
        Ok(objects)
    }

    /// Answers when the store can be listed (reachable, readable).
    pub async fn ping(&self) -> Result<(), object_store::Error> {
        // A `head` on a key that never exists answers NotFound when the store is reachable.
        match self.store.head(&ObjectPath::from(".readyz-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

/// An object found by [`Storage::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Its key.
    pub key: String,
    /// Its size.
    pub bytes: u64,
    /// When it was last written (Unix seconds).
    pub modified_at: i64,
}

/// An object being written in parts; see [`Storage::writer`].
pub struct ObjectWriter {
    inner: WriteMultipart,
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectWriter")
    }
}

impl ObjectWriter {
    /// Appends `bytes`, waiting while too many parts are still being sent.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), object_store::Error> {
        self.inner.wait_for_capacity(4).await?;
        self.inner.write(bytes);
        Ok(())
    }

    /// Completes the object.
    pub async fn finish(self) -> Result<(), object_store::Error> {
        self.inner.finish().await.map(|_| ())
    }

    /// Abandons the object: nothing is left behind.
    pub async fn abort(self) {
        if let Err(error) = self.inner.abort().await {
            tracing::warn!(%error, "could not abort a partial upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_store_is_created_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(&dir.path().join("files")).unwrap();
        storage.ping().await.unwrap();
        assert!(dir.path().join("files").is_dir());
    }

    #[tokio::test]
    async fn bytes_put_come_back_and_deleted_ones_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(&dir.path().join("files")).unwrap();
        storage
            .put("u1/job/in/a", b"image bytes".to_vec())
            .await
            .unwrap();
        assert_eq!(storage.get("u1/job/in/a").await.unwrap(), b"image bytes");
        storage.delete("u1/job/in/a").await.unwrap();
        storage.delete("u1/job/in/a").await.unwrap();
        assert!(matches!(
            storage.get("u1/job/in/a").await,
            Err(object_store::Error::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn a_streamed_object_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(&dir.path().join("files")).unwrap();
        let mut writer = storage.writer("u1/j/in/a").await.unwrap();
        writer.write(b"first ").await.unwrap();
        writer.write(b"second").await.unwrap();
        writer.finish().await.unwrap();
        assert_eq!(storage.get("u1/j/in/a").await.unwrap(), b"first second");
        let mut abandoned = storage.writer("u1/j/in/b").await.unwrap();
        abandoned.write(b"partial").await.unwrap();
        abandoned.abort().await;
        let listed = storage.list("u1").await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!((listed[0].key.as_str(), listed[0].bytes), ("u1/j/in/a", 12));
    }

    #[tokio::test]
    async fn a_vanished_directory_makes_the_store_unready() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("files");
        let storage = Storage::local(&root).unwrap();
        std::fs::remove_dir(&root).unwrap();
        std::fs::write(&root, b"not a directory").unwrap();
        assert!(storage.ping().await.is_err());
    }
}
