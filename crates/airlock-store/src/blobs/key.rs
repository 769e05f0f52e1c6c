//! Blob keys: which names an object may have.
//!
//! A key is one or more segments joined by `/`; a segment is ASCII letters,
//! digits, `_`, `-` and `.`, and does not start with `.` (so never `.`,
//! `..` or a hidden file). No leading, trailing or doubled `/`, at most
//! [`MAX_KEY_LEN`] bytes. A key that passes can only name a file under a
//! local root, and is the same object name on every backend; LocalFileSystem's
//! staging files (`name#1`) can never be named.

use object_store::path::Path;

use super::BlobError;

/// The longest key, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 512;

/// The object path a key names, or why it is refused.
pub(crate) fn blob_path(key: &str) -> Result<Path, BlobError> {
    check(key).map_err(BlobError::InvalidKey)?;
    Path::parse(key).map_err(|_| BlobError::InvalidKey("not a valid object path"))
}

fn check(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("empty");
    }
    if key.len() > MAX_KEY_LEN {
        return Err("longer than 512 bytes");
    }
    for segment in key.split('/') {
        let Some(first) = segment.bytes().next() else {
            return Err("empty segment (a leading, trailing or doubled '/')");
        };
        if first == b'.' {
            return Err("a segment starts with '.'");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err("a character other than ASCII letters, digits, '_', '-', '.' and '/'");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_nested_keys_are_accepted() {
        for key in ["a", "media/2025/01/abc_DEF-1.png", "x.y.z", "_a/-b"] {
            assert_eq!(blob_path(key).unwrap().as_ref(), key);
        }
    }

    #[test]
    fn traversal_absolute_empty_and_odd_keys_are_refused() {
        let long = "a".repeat(MAX_KEY_LEN + 1);
        for key in [
            "",
            "..",
            "../x",
            "a/../x",
            "a/./x",
            ".hidden",
            "/etc/passwd",
            "a/",
            "a//b",
            "a\\b",
            "a b",
            "a#1",
            "a?b",
            "a%2e",
            "é",
            "a\0b",
            long.as_str(),
        ] {
            assert!(
                matches!(blob_path(key), Err(BlobError::InvalidKey(_))),
                "{key:?} was accepted"
            );
        }
    }

    #[test]
    fn a_key_of_exactly_the_limit_is_accepted() {
        assert!(blob_path(&"a".repeat(MAX_KEY_LEN)).is_ok());
    }
}
