//! Signed notes and checkpoints: the examples of Go's `sumdb/note`
//! documentation and of the C2SP specs, key formats, and every way a note
//! fails to open.

use base64::Engine;

use airlock_receipts::{
    Checkpoint, FormatError, Hash, NoteError, SignerKey, VerifierKey, open_checkpoint, open_note,
    parse_note, sign_note,
};

/// The example key and note of golang.org/x/mod/sumdb/note's package
/// documentation (also in C2SP signed-note's history).
const GO_SIGNER: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIGNATURE_LINE: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

fn go_note() -> String {
    format!("{GO_TEXT}\n{GO_SIGNATURE_LINE}")
}

#[test]
fn the_go_example_key_signs_the_documented_note() {
    let signer = SignerKey::parse(GO_SIGNER).expect("Go's example signer key");
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.verifier().to_string(), GO_VERIFIER);
    assert_eq!(signer.verifier().key_hash(), 0xc74f_20a3);
    // Ed25519 is deterministic: the documented signature, byte for byte.
    assert_eq!(signer.sign(GO_TEXT), Ok(GO_SIGNATURE_LINE.to_owned()));
    assert_eq!(sign_note(GO_TEXT, &[&signer]), Ok(go_note()));
}

#[test]
fn the_go_example_note_opens_with_its_verifier_key() {
    let verifier = VerifierKey::parse(GO_VERIFIER).expect("Go's example verifier key");
    assert_eq!(verifier.name(), "PeterNeumann");
    assert_eq!(verifier.key_hash(), 0xc74f_20a3);
    assert_eq!(verifier.to_string(), GO_VERIFIER);
    let note = open_note(&go_note(), &verifier).expect("the documented note");
    assert_eq!(note.text, GO_TEXT);
    assert_eq!(note.signatures.len(), 1);
    assert_eq!(note.signatures[0].name, "PeterNeumann");
    assert_eq!(note.signatures[0].key_hash, 0xc74f_20a3);
    assert_eq!(note.signatures[0].signature.len(), 64);
}

#[test]
fn a_key_hash_in_upper_case_reads_as_go_reads_it_and_is_written_in_lower_case() {
    // Go parses the hash with strconv.ParseUint(hash, 16, 32), either
    // case, and writes it with %08x. (Found by the `receipts` fuzz target.)
    let upper = GO_VERIFIER.replace("c74f20a3", "C74F20A3");
    let verifier = VerifierKey::parse(&upper).expect("an upper-case key hash");
    assert_eq!(verifier.key_hash(), 0xc74f_20a3);
    assert_eq!(verifier.to_string(), GO_VERIFIER);
}

#[test]
fn the_spec_example_note_splits_at_its_last_blank_line() {
    let note = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let parsed = parse_note(note).expect("the signed-note spec's example");
    assert_eq!(
        parsed.text,
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(parsed.signatures[0].name, "quasimodo.example/salvatore");
}

#[test]
fn notes_fail_to_open_for_the_right_reason() {
    let verifier = VerifierKey::parse(GO_VERIFIER).expect("verifier");
    let (other_signer, other_verifier) = SignerKey::generate("PeterNeumann").expect("a key");
    let other_verifier = VerifierKey::parse(&other_verifier).expect("verifier");
    assert_eq!(
        open_note(&go_note(), &other_verifier),
        Err(NoteError::NoSignatureByKey {
            name: "PeterNeumann".to_owned(),
            key_hash: other_verifier.key_hash()
        })
    );
    let tampered = go_note().replace("cryptography", "cryptograph!");
    assert_eq!(
        open_note(&tampered, &verifier),
        Err(NoteError::BadSignature {
            name: "PeterNeumann".to_owned(),
            key_hash: 0xc74f_20a3
        })
    );
    // A second signature by another key is kept but does not matter.
    let other_signer = SignerKey::parse(&other_signer).expect("signer");
    let doubly_signed = format!("{}{}", go_note(), other_signer.sign(GO_TEXT).expect("sign"));
    let note = open_note(&doubly_signed, &verifier).expect("opens");
    assert_eq!(note.signatures.len(), 2);
    // A signature claiming the key's name and hash must verify.
    let mut forged_signature = 0xc74f_20a3_u32.to_be_bytes().to_vec();
    forged_signature.extend_from_slice(&[0; 64]);
    let forged = format!(
        "{}— PeterNeumann {}\n",
        go_note(),
        base64::engine::general_purpose::STANDARD.encode(forged_signature)
    );
    assert_eq!(
        open_note(&forged, &verifier),
        Err(NoteError::BadSignature {
            name: "PeterNeumann".to_owned(),
            key_hash: 0xc74f_20a3
        })
    );

    let malformed = [
        (GO_TEXT.to_owned(), NoteError::NoSignatures),
        (format!("{GO_TEXT}\n"), NoteError::NoSignatures),
        (go_note().trim_end().to_owned(), NoteError::NoSignatures),
        (
            go_note().replace("problem,", "problem,\t"),
            NoteError::ControlCharacter,
        ),
        (
            go_note().replace("— ", "- "),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "it does not start with an em dash and a space",
            },
        ),
        (
            go_note().replace("— PeterNeumann ", "— PeterNeumann"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "it has no space between key name and signature",
            },
        ),
        (
            go_note().replace("x08go/", "x08go!"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "its signature is not standard base64",
            },
        ),
        (
            format!("{GO_TEXT}\n— PeterNeumann AAAA\n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "its signature is shorter than a key hash and a signature",
            },
        ),
        (
            format!("{GO_TEXT}\n{GO_SIGNATURE_LINE}— Peter+Neumann AAAAAAA=\n"),
            NoteError::MalformedSignatureLine {
                line: 2,
                reason: "its key name is not allowed",
            },
        ),
        (
            format!("{GO_TEXT}\n{}", GO_SIGNATURE_LINE.repeat(101)),
            NoteError::TooManySignatures,
        ),
    ];
    for (note, error) in malformed {
        assert_eq!(open_note(&note, &verifier), Err(error), "{note:?}");
    }
}

#[test]
fn signing_checks_the_text() {
    let signer = SignerKey::parse(GO_SIGNER).expect("signer");
    assert_eq!(
        signer.sign("no newline"),
        Err(NoteError::TextWithoutFinalNewline)
    );
    assert_eq!(signer.sign("a\rb\n"), Err(NoteError::ControlCharacter));
    assert_eq!(sign_note(GO_TEXT, &[]), Err(NoteError::NoSigners));
    let (second, _) = SignerKey::generate("example.com/witness").expect("a key");
    let second = SignerKey::parse(&second).expect("signer");
    let note = sign_note(GO_TEXT, &[&signer, &second]).expect("signed");
    assert_eq!(
        open_note(&note, &signer.verifier()).map(|note| note.text),
        Ok(GO_TEXT.to_owned())
    );
    assert_eq!(
        open_note(&note, &second.verifier()).map(|note| note.signatures.len()),
        Ok(2)
    );
}

#[test]
fn generated_keys_round_trip() {
    let (signer_text, verifier_text) = SignerKey::generate("example.com/log").expect("a key");
    assert!(signer_text.starts_with("PRIVATE+KEY+example.com/log+"));
    let signer = SignerKey::parse(&signer_text).expect("signer");
    let verifier = VerifierKey::parse(&verifier_text).expect("verifier");
    assert_eq!(signer.verifier(), verifier);
    assert_eq!(verifier.to_string(), verifier_text);
    assert!(
        !format!("{signer:?}").contains(&signer_text[30..]),
        "Debug hides the seed"
    );
    let (again, _) = SignerKey::generate("example.com/log").expect("a key");
    assert_ne!(again, signer_text);
    for name in ["", "two words", "a+b", "tab\there", "line\n"] {
        assert_eq!(
            SignerKey::generate(name),
            Err(NoteError::InvalidKeyName {
                name: name.to_owned()
            })
        );
    }
}

#[test]
fn malformed_keys_are_refused() {
    let signer_errors = [
        (
            "PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "it does not start with PRIVATE+KEY+",
        ),
        (
            "PRIVATE+KEY+PeterNeumann",
            "it does not have the form PRIVATE+KEY+<name>+<key hash>+<key>",
        ),
        (
            "PRIVATE+KEY+PeterNeumann+c74f20a+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "its key hash is not 8 hex digits",
        ),
        (
            "PRIVATE+KEY+PeterNeumann++74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "its key hash is not 8 hex digits",
        ),
        (
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz\n",
            "its key is not standard base64",
        ),
        (
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "its key is not an Ed25519 (type 0x01) key",
        ),
        (
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXH",
            "its Ed25519 key is not 32 bytes",
        ),
    ];
    for (text, reason) in signer_errors {
        assert_eq!(
            SignerKey::parse(text).map(|_| ()),
            Err(NoteError::MalformedSignerKey(reason)),
            "{text:?}"
        );
    }
    assert!(matches!(
        SignerKey::parse(
            "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
        ),
        Err(NoteError::KeyHashMismatch {
            stated: 0xc74f_20a4,
            computed: 0xc74f_20a3,
            ..
        })
    ));
    assert!(matches!(
        SignerKey::parse(
            "PRIVATE+KEY+PeterNeumann2+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
        ),
        Err(NoteError::KeyHashMismatch { .. })
    ));
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a3"),
        Err(NoteError::MalformedVerifierKey(
            "it does not have the form <name>+<key hash>+<key>"
        ))
    );
    assert!(matches!(
        VerifierKey::parse("PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::KeyHashMismatch {
            computed: 0xc74f_20a3,
            ..
        })
    ));
    assert_eq!(
        VerifierKey::parse("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::InvalidKeyName {
            name: "Peter Neumann".to_owned()
        })
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a3+"),
        Err(NoteError::MalformedVerifierKey("its key is empty"))
    );
    let error = SignerKey::parse(
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        !error.contains("AoEKFALV"),
        "errors never quote a signer key: {error}"
    );
}

#[test]
fn checkpoints_open_with_the_log_key() {
    let (signer_text, _) = SignerKey::generate("example.com/receipts").expect("a key");
    let signer = SignerKey::parse(&signer_text).expect("signer");
    let checkpoint = Checkpoint {
        origin: "example.com/receipts".to_owned(),
        size: 70_000,
        root: airlock_receipts::leaf_hash(b"a root"),
        extensions: vec!["an extension".to_owned()],
    };
    let note = sign_note(&checkpoint.to_text(), &[&signer]).expect("signed");
    assert_eq!(
        open_checkpoint(&note, &signer.verifier()),
        Ok(checkpoint.clone())
    );

    let elsewhere = Checkpoint {
        origin: "example.com/other".to_owned(),
        ..checkpoint
    };
    let note = sign_note(&elsewhere.to_text(), &[&signer]).expect("signed");
    assert_eq!(
        open_checkpoint(&note, &signer.verifier()),
        Err(NoteError::OriginMismatch {
            origin: "example.com/other".to_owned(),
            key_name: "example.com/receipts".to_owned()
        })
    );
    let note = sign_note("example.com/receipts\n7\nAAAA\n", &[&signer]).expect("signed");
    assert_eq!(
        open_checkpoint(&note, &signer.verifier()),
        Err(NoteError::NotACheckpoint(FormatError::HashLength(3)))
    );
    assert_eq!(
        Checkpoint::parse("example.com/receipts\n7\n").map(|c| c.root),
        Err::<Hash, _>(FormatError::Checkpoint("it has no root hash line"))
    );
}
