//! A key `serve` keeps in the data directory when none is configured:
//! made once and read again at every later start. A new file is written
//! whole or not at all (staged, synced, then linked into place without
//! replacing one another instance made meanwhile), readable by its owner
//! only. The media URL signing key (`media_key`) and the receipts signing
//! key (`receipts_key`) are kept this way.

use std::fs::Permissions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// What a key file holds and how a new key is made.
pub struct KeyFile<'a> {
    /// In messages, e.g. `the media signing key`.
    pub what: &'a str,
    /// A new key's text.
    pub make: &'a dyn Fn() -> Result<String, String>,
    /// Whether a key read back is usable (what is wrong otherwise).
    pub check: &'a dyn Fn(&str) -> Result<(), String>,
}

impl KeyFile<'_> {
    /// The key in `path`, made first if the file does not exist.
    pub fn load_or_create(&self, path: &Path) -> Result<String, String> {
        match read(path) {
            Err(error) if error.kind() == ErrorKind::NotFound => self.create(path),
            Err(error) => Err(format!(
                "cannot read {} {}: {error}",
                self.what,
                path.display()
            )),
            Ok(key) => self.checked(path, key),
        }
    }

    fn checked(&self, path: &Path, key: String) -> Result<String, String> {
        (self.check)(&key)
            .map_err(|problem| format!("{} {}: {problem}", self.what, path.display()))?;
        Ok(key)
    }

    fn create(&self, path: &Path) -> Result<String, String> {
        let failed = |error: &dyn std::fmt::Display| {
            format!("cannot create {} {}: {error}", self.what, path.display())
        };
        let key = (self.make)().map_err(|error| failed(&error))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|error| failed(&error))?;
        let mut staged = tempfile::Builder::new()
            .prefix(".staged-key.")
            .permissions(Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|error| failed(&error))?;
        staged
            .write_all(format!("{key}\n").as_bytes())
            .and_then(|()| staged.as_file().sync_all())
            .map_err(|error| failed(&error))?;
        match staged.persist_noclobber(path) {
            Ok(_) => Ok(key),
            // Another instance on this data directory made one first: use it.
            Err(error) if error.error.kind() == ErrorKind::AlreadyExists => {
                let key = read(path).map_err(|error| failed(&error))?;
                self.checked(path, key)
            }
            Err(error) => Err(failed(&error.error)),
        }
    }
}

fn read(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path).map(|text| text.trim().to_string())
}
