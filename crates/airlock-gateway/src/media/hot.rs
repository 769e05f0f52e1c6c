//! The objects `GET /media` serves most, held in memory: up to
//! [`HOT_BYTES`] in all, objects of at most [`HOT_OBJECT_BYTES`], least
//! recently used out first. The bytes behind a key never change (ids are
//! content hashes), so nothing here is ever stale.
//!
//! An object of a local store keeps its file open beside its bytes (up to
//! [`HELD_FILES`] of them, the largest worth it), so a plain TCP answer
//! can send it with `sendfile(2)` rather than copy it from memory
//! ([`crate::connections::FileBytes`]).

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use crate::connections::FileBytes;

/// The bytes of media kept in memory for serving.
const HOT_BYTES: u64 = 64 * 1024 * 1024;
/// The largest object kept in memory; larger ones are streamed.
const HOT_OBJECT_BYTES: u64 = 4 * 1024 * 1024;
/// The most files held open for the objects in memory: descriptors are
/// counted against the connection cap's reserve.
const HELD_FILES: usize = 128;
/// The smallest object whose file is held: copying fewer bytes from
/// memory costs less than the send from a file saves.
const HELD_FILE_BYTES: usize = 64 * 1024;

/// An object in memory, with its file when one is held.
#[derive(Clone)]
pub(crate) enum HotObject {
    Memory(Bytes),
    /// Its file's place among the held ones goes with the last clone.
    File {
        bytes: FileBytes,
        _held: Arc<HeldFile>,
    },
}

impl HotObject {
    pub(crate) fn bytes(&self) -> &Bytes {
        match self {
            HotObject::Memory(bytes) => bytes,
            HotObject::File { bytes, .. } => bytes.bytes(),
        }
    }

    /// The bytes and their file, when it is held.
    pub(crate) fn file_bytes(&self) -> Option<&FileBytes> {
        match self {
            HotObject::Memory(_) => None,
            HotObject::File { bytes, .. } => Some(bytes),
        }
    }
}

/// One of the [`HELD_FILES`]: counted out when its object leaves memory.
pub(crate) struct HeldFile(Arc<AtomicUsize>);

impl Drop for HeldFile {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The objects in memory.
pub(crate) struct HotObjects {
    objects: moka::sync::Cache<String, HotObject>,
    held_files: Arc<AtomicUsize>,
}

impl HotObjects {
    pub(crate) fn new() -> HotObjects {
        HotObjects {
            objects: moka::sync::Cache::builder()
                .max_capacity(HOT_BYTES)
                .weigher(|key: &String, object: &HotObject| {
                    u32::try_from(key.len() + object.bytes().len()).unwrap_or(u32::MAX)
                })
                .build(),
            held_files: Arc::default(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<HotObject> {
        self.objects.get(key)
    }

    /// Whether an object of `size` bytes is kept in memory once read.
    pub(crate) fn may_hold(&self, size: u64) -> bool {
        size <= HOT_OBJECT_BYTES
    }

    /// Keeps an object's bytes, and its file (the one they were read from)
    /// while fewer than [`HELD_FILES`] are held; says what is kept.
    pub(crate) fn keep(&self, key: &str, bytes: Bytes, file: Option<File>) -> HotObject {
        let object = match file {
            Some(file) if bytes.len() >= HELD_FILE_BYTES && self.take_file_slot() => {
                let held = Arc::new(HeldFile(self.held_files.clone()));
                HotObject::File {
                    bytes: FileBytes::new(bytes, Arc::new(file)),
                    _held: held,
                }
            }
            _ => HotObject::Memory(bytes),
        };
        self.objects.insert(key.to_string(), object.clone());
        object
    }

    fn take_file_slot(&self) -> bool {
        self.held_files
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < HELD_FILES).then_some(held + 1)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(bytes: &[u8]) -> File {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        std::fs::write(&path, bytes).unwrap();
        File::open(path).unwrap()
    }

    #[test]
    fn files_are_held_for_large_objects_up_to_the_limit_and_released_with_them() {
        let hot = HotObjects::new();
        let small = Bytes::from(vec![1u8; 100]);
        let kept = hot.keep("small", small.clone(), Some(file_of(&small)));
        assert!(kept.file_bytes().is_none(), "a small object is copied");
        let large = Bytes::from(vec![2u8; HELD_FILE_BYTES]);
        for n in 0..HELD_FILES + 1 {
            let kept = hot.keep(&format!("large{n}"), large.clone(), Some(file_of(&large)));
            assert_eq!(kept.file_bytes().is_some(), n < HELD_FILES, "object {n}");
            assert_eq!(kept.bytes(), &large);
        }
        assert_eq!(hot.held_files.load(Ordering::Acquire), HELD_FILES);
        let held = hot.held_files.clone();
        drop(hot);
        assert_eq!(held.load(Ordering::Acquire), 0);
    }
}
