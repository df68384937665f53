//! Where uploaded and compressed files live: a local directory now, S3-compatible storage later,
//! both behind `object_store`.

use std::{path::Path, sync::Arc};

use object_store::{local::LocalFileSystem, path::Path as ObjectPath, ObjectStore, ObjectStoreExt};

/// Why storage could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot use {location}: {reason}")]
pub struct StorageError {
    location: String,
    reason: String,
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

    /// Answers when the store can be listed (reachable, readable).
    pub async fn ping(&self) -> Result<(), object_store::Error> {
        // A `head` on a key that never exists answers NotFound when the store is reachable.
        match self.store.head(&ObjectPath::from(".readyz-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
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
    async fn a_vanished_directory_makes_the_store_unready() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("files");
        let storage = Storage::local(&root).unwrap();
        std::fs::remove_dir(&root).unwrap();
        std::fs::write(&root, b"not a directory").unwrap();
        assert!(storage.ping().await.is_err());
    }
}
