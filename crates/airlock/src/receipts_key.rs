//! The receipts signing key `serve` keeps in the data directory when
//! `[receipts] signing_key` is not configured: a C2SP signed-note Ed25519
//! signer key (`PRIVATE+KEY+{origin}+…`) named after the log's origin,
//! made once (see `key_file`) and read again at every later start, so
//! checkpoints stay verifiable with one public key. The file is a valid
//! `file:` secret for other instances' `signing_key`.

use std::path::Path;

use airlock_receipts::SignerKey;

use crate::key_file::KeyFile;

/// The key file's name in the data directory.
pub const FILE_NAME: &str = "receipts-signing.key";

/// The signer key in `path` for the log named `origin`, generated first if
/// the file does not exist.
pub fn load_or_create(path: &Path, origin: &str) -> Result<SignerKey, String> {
    let make = || {
        SignerKey::generate(origin)
            .map(|(signer, _)| signer)
            .map_err(|error| error.to_string())
    };
    let check = |text: &str| parse(text, origin).map(|_| ());
    let text = KeyFile {
        what: "the receipts signing key",
        make: &make,
        check: &check,
    }
    .load_or_create(path)?;
    parse(&text, origin)
}

/// A signer key for the log named `origin`.
pub fn parse(text: &str, origin: &str) -> Result<SignerKey, String> {
    let key = SignerKey::parse(text.trim())
        .map_err(|error| format!("not a signed-note signer key ({error})"))?;
    if key.name() != origin {
        return Err(format!(
            "the key is named {:?}, but the log's origin is {origin:?} \
             (a checkpoint's signer is named after its origin)",
            key.name()
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_key_is_made_once_for_its_origin_and_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let key = load_or_create(&path, "example.com/log").unwrap();
        assert_eq!(key.name(), "example.com/log");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&path, "example.com/log").unwrap();
        assert_eq!(again.verifier(), key.verifier());
        let error = load_or_create(&path, "other.example/log").unwrap_err();
        assert!(error.contains("origin is \"other.example/log\""), "{error}");
    }
}
