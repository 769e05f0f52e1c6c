//! C2SP tlog-checkpoint note bodies: origin, tree size and root hash lines,
//! then optional extension lines; and opening a signed checkpoint with the
//! log's key.

use crate::FormatError;
use crate::decimal::parse_canonical_decimal;
use crate::hash::Hash;
use crate::note::{NoteError, VerifierKey, open_note};

/// A log's signed statement of its tree: `size` leaves with root `root`.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The log's identity; non-empty, one line.
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Opaque extra lines, each non-empty, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 root>\n` then each
    /// extension line.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for extension in &self.extensions {
            text.push_str(extension);
            text.push('\n');
        }
        text
    }

    /// Reads a checkpoint body strictly: every line ends in a newline, the
    /// origin is non-empty, the size is decimal without leading zeros, the
    /// root is base64 of 32 bytes, extension lines are non-empty.
    pub fn parse(text: &str) -> Result<Checkpoint, FormatError> {
        let malformed = FormatError::Checkpoint;
        let body = text
            .strip_suffix('\n')
            .ok_or(malformed("its last line does not end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|origin| !origin.is_empty())
            .ok_or(malformed("its origin line is empty"))?;
        let size = lines
            .next()
            .ok_or(malformed("it has no tree size line"))
            .and_then(|size| {
                parse_canonical_decimal(size).ok_or(malformed(
                    "its tree size is not a decimal number without leading zeros",
                ))
            })?;
        let root = Hash::from_base64(lines.next().ok_or(malformed("it has no root hash line"))?)?;
        let extensions = lines
            .map(|line| {
                if line.is_empty() {
                    Err(malformed("it has an empty extension line"))
                } else {
                    Ok(line.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// A checkpoint note opened with the log's key and parsed; its origin
/// must be the key's name, as for a log's own signature.
pub fn open_checkpoint(note: &str, verifier: &VerifierKey) -> Result<Checkpoint, NoteError> {
    let note = open_note(note, verifier)?;
    let checkpoint = Checkpoint::parse(&note.text)?;
    if checkpoint.origin != verifier.name() {
        return Err(NoteError::OriginMismatch {
            origin: checkpoint.origin,
            key_name: verifier.name().to_owned(),
        });
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn parses_the_spec_example_and_writes_it_back() {
        let checkpoint = Checkpoint::parse(SPEC_EXAMPLE).expect("the spec's checkpoint");
        assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size, 20_852_163);
        assert_eq!(
            checkpoint.root.to_base64(),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert!(checkpoint.extensions.is_empty());
        assert_eq!(checkpoint.to_text(), SPEC_EXAMPLE);

        let extended = format!("{SPEC_EXAMPLE}first extension\nsecond\n");
        let checkpoint = Checkpoint::parse(&extended).expect("extension lines");
        assert_eq!(checkpoint.extensions, vec!["first extension", "second"]);
        assert_eq!(checkpoint.to_text(), extended);
    }

    #[test]
    fn rejects_malformed_bodies() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let bad = [
            String::new(),
            "example.com\n5\n".to_owned(),
            format!("example.com\n5\n{root}"),
            format!("\n5\n{root}\n"),
            format!("example.com\n05\n{root}\n"),
            format!("example.com\n+5\n{root}\n"),
            format!("example.com\n-1\n{root}\n"),
            format!("example.com\n\n{root}\n"),
            format!("example.com\n18446744073709551616\n{root}\n"),
            "example.com\n5\nAAAA\n".to_owned(),
            "example.com\n5\nnot base64\n".to_owned(),
            format!("example.com\n5\n{root}\n\n"),
            format!("example.com\n5\n{root}\next\n\n"),
        ];
        for text in bad {
            assert!(Checkpoint::parse(&text).is_err(), "{text:?} parsed");
        }
        assert_eq!(
            Checkpoint::parse(&format!("example.com\n0\n{root}\n")).map(|c| c.size),
            Ok(0)
        );
        assert_eq!(
            Checkpoint::parse(&format!("example.com\n05\n{root}\n")),
            Err(FormatError::Checkpoint(
                "its tree size is not a decimal number without leading zeros"
            ))
        );
    }
}
