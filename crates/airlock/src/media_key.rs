//! The media signing key `serve` keeps in the data directory when
//! `[media] signing_key` is not configured: 32 random bytes, in hex, made
//! once and read again at every later start (see `key_file`), so media
//! URLs outlive a restart. The file is a valid `file:` secret, so other instances can be
//! given the same key with `signing_key = "file:…"`.

use ring::rand::{SecureRandom, SystemRandom};

use crate::config::MediaConfig;
use crate::key_file::KeyFile;

/// The key file's name in the data directory.
pub const FILE_NAME: &str = "media-signing.key";

/// Random bytes in a generated key.
const KEY_BYTES: usize = 32;

/// The key in `path`, generated first if the file does not exist.
pub fn load_or_create(path: &std::path::Path) -> Result<String, String> {
    KeyFile {
        what: "the media signing key",
        make: &make,
        check: &check,
    }
    .load_or_create(path)
}

fn make() -> Result<String, String> {
    let mut bytes = [0u8; KEY_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no random bytes from the operating system".to_string())?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

fn check(key: &str) -> Result<(), String> {
    if key.len() < MediaConfig::MIN_SIGNING_KEY_LEN {
        return Err(format!(
            "shorter than {} characters: remove it to have a new one made \
             (media URLs handed out so far stop working)",
            MediaConfig::MIN_SIGNING_KEY_LEN
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

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
