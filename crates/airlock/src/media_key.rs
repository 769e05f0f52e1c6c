//! The media signing key `serve` keeps in the data directory when
//! `[media] signing_key` is not configured: 32 random bytes, in hex, made
//! once and read again at every later start, so media URLs outlive a
//! restart. The file is a valid `file:` secret, so other instances can be
//! given the same key with `signing_key = "file:…"`.

use std::fs::Permissions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};

use crate::config::MediaConfig;

/// The key file's name in the data directory.
pub const FILE_NAME: &str = "media-signing.key";

/// Random bytes in a generated key.
const KEY_BYTES: usize = 32;

/// The key in `path`, generated first if the file does not exist. A new
/// file is written whole or not at all (staged, synced, then linked into
/// place without replacing one another instance made meanwhile), readable
/// by its owner only.
pub fn load_or_create(path: &Path) -> Result<String, String> {
    match read(path) {
        Err(error) if error.kind() == ErrorKind::NotFound => create(path),
        Err(error) => Err(format!(
            "cannot read the media signing key {}: {error}",
            path.display()
        )),
        Ok(key) => checked(path, key),
    }
}

fn read(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path).map(|text| text.trim().to_string())
}

fn checked(path: &Path, key: String) -> Result<String, String> {
    if key.len() < MediaConfig::MIN_SIGNING_KEY_LEN {
        return Err(format!(
            "the media signing key {} is shorter than {} characters: \
             remove it to have a new one made (media URLs handed out so far stop working)",
            path.display(),
            MediaConfig::MIN_SIGNING_KEY_LEN
        ));
    }
    Ok(key)
}

fn create(path: &Path) -> Result<String, String> {
    let failed = |error: &dyn std::fmt::Display| {
        format!(
            "cannot create the media signing key {}: {error}",
            path.display()
        )
    };
    let mut bytes = [0u8; KEY_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| failed(&"no random bytes from the operating system"))?;
    let key: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|error| failed(&error))?;
    let mut staged = tempfile::Builder::new()
        .prefix(".media-signing.key.")
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
            checked(path, key)
        }
        Err(error) => Err(failed(&error.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_owner_only_and_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let key = load_or_create(&path).unwrap();
        assert_eq!(key.len(), 2 * KEY_BYTES);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), key);
        // Nothing staged is left behind.
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_create(&other.path().join(FILE_NAME)).unwrap(), key);
    }

    #[test]
    fn a_damaged_key_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "short\n").unwrap();
        let error = load_or_create(&path).unwrap_err();
        assert!(error.contains("shorter than 32"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short\n");
    }
}
