//! The receipts log's formats as a verifier or a client of the log reads
//! them (`airlock-receipts`): tile paths, signed notes and checkpoints,
//! entry bundles, keys, and whole receipts verified against a fixed key.
//! Input: one byte choosing the format, then its text or bytes.
//!
//! Properties: no panic; what parses is canonical (a tile path, a
//! checkpoint, an entry bundle and a key written back are the input, a
//! key's hash in lower case, as Go reads either case and writes lower); a
//! receipt the fuzzer made never verifies, nor does a note open, with a
//! key whose secret it does not have.
#![no_main]

use std::sync::LazyLock;

use airlock_receipts::tiles::TilePath;
use airlock_receipts::{
    Bodies, Checkpoint, ReceiptBundle, SignerKey, VerifierKey, open_note, parse_entry_bundle,
    parse_note,
};
use libfuzzer_sys::fuzz_target;

/// A verifier key the fuzzer has no signer for.
static VERIFIER: LazyLock<VerifierKey> = LazyLock::new(|| {
    let (_, verifier) = SignerKey::generate("fuzz.example/log").unwrap();
    VerifierKey::parse(&verifier).unwrap()
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 5 == 2 {
        if let Ok(entries) = parse_entry_bundle(rest) {
            let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
            assert_eq!(airlock_receipts::entry_bundle(&entries).unwrap(), rest);
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 5 {
        0 => {
            if let Ok(path) = TilePath::parse(text) {
                assert_eq!(path.to_path(), text);
            }
        }
        1 => {
            if let Ok(checkpoint) = Checkpoint::parse(text) {
                assert_eq!(checkpoint.to_text(), text);
            }
            let _ = parse_note(text);
            assert!(open_note(text, &VERIFIER).is_err());
        }
        3 => {
            if let Ok(key) = VerifierKey::parse(text) {
                assert_eq!(key.to_string(), with_lower_case_hash(text));
            }
            let _ = SignerKey::parse(text);
        }
        _ => {
            if let Ok(bundle) = serde_json::from_str::<ReceiptBundle>(text) {
                let bodies = Bodies {
                    request: Some(rest),
                    response: None,
                };
                assert!(bundle.verify(&VERIFIER, bodies).is_err());
            }
        }
    }
});

/// A verifier key's text (`name+hash+key`; a name holds no `+`) with its
/// key hash's hex digits in lower case.
fn with_lower_case_hash(text: &str) -> String {
    let mut fields = text.splitn(3, '+');
    let name = fields.next().unwrap_or_default();
    let hash = fields.next().unwrap_or_default();
    let key = fields.next().unwrap_or_default();
    format!("{name}+{}+{key}", hash.to_ascii_lowercase())
}
