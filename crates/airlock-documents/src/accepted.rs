//! The types of file a project accepts: MIME types (`application/pdf`),
//! whole top-level types (`image/*`) or everything (`*/*`), checked
//! against the sniffed type. Executables, archives and unknown bytes are
//! refused unless a rule names them exactly: a wildcard never lets a
//! program in.

use crate::sniff::{Family, FileType};

/// What the gateway accepts when a project says nothing: documents, text,
/// pictures, sound and video.
const DEFAULT: &[&str] = &[
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/*",
    "application/json",
    "application/jsonl",
    "application/xml",
    "image/*",
    "audio/*",
    "video/*",
];

/// A list of accepted types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedTypes {
    rules: Vec<String>,
}

impl Default for AcceptedTypes {
    fn default() -> Self {
        AcceptedTypes {
            rules: DEFAULT.iter().map(|rule| rule.to_string()).collect(),
        }
    }
}

impl AcceptedTypes {
    /// Reads a list of rules; says which one is not a MIME type or pattern.
    pub fn new<S: AsRef<str>>(rules: &[S]) -> Result<AcceptedTypes, String> {
        let rules = rules
            .iter()
            .map(|rule| {
                let rule = rule.as_ref().trim().to_ascii_lowercase();
                let well_formed = rule.split_once('/').is_some_and(|(top, sub)| {
                    let token = |part: &str| {
                        !part.is_empty()
                            && part.bytes().all(|byte| {
                                byte.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&byte)
                            })
                    };
                    (top == "*" && sub == "*") || (token(top) && (sub == "*" || token(sub)))
                });
                match well_formed {
                    true => Ok(rule),
                    false => Err(format!(
                        "`{rule}` is not a MIME type (`application/pdf`) or pattern (`image/*`, `*/*`)"
                    )),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(AcceptedTypes { rules })
    }

    /// Whether a file of this type is accepted.
    pub fn accepts(&self, file: FileType) -> bool {
        let exact_only = matches!(
            file.family,
            Family::Executable | Family::Archive | Family::Unknown
        );
        let (top, _) = file.mime.split_once('/').unwrap_or((file.mime, ""));
        self.rules.iter().any(|rule| match rule.split_once('/') {
            _ if rule == file.mime => true,
            _ if exact_only => false,
            Some(("*", "*")) => true,
            Some((rule_top, "*")) => rule_top == top,
            _ => false,
        })
    }

    /// The rules, for messages.
    pub fn rules(&self) -> &[String] {
        &self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::ELF;
    use crate::sniff;

    #[test]
    fn the_default_takes_documents_text_and_media_and_refuses_programs() {
        let accepted = AcceptedTypes::default();
        for (bytes, name) in [
            (&b"%PDF-1.4\n%%EOF\n"[..], "a.pdf"),
            (b"hello", "a.txt"),
            (b"{\"a\": 1}", "a.json"),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "a.png"),
            (b"ID3\x03\0\0\0\0\0\0", "a.mp3"),
        ] {
            assert!(accepted.accepts(sniff(bytes, name)), "{name}");
        }
        assert!(!accepted.accepts(sniff(ELF, "a.pdf")));
        assert!(!accepted.accepts(sniff(b"PK\x03\x04\x14\0\0\0\0\0", "a.zip")));
        assert!(!accepted.accepts(sniff(b"\0\x01\x02\x03binary", "a.bin")));
    }

    #[test]
    fn a_wildcard_never_lets_a_program_in_but_an_exact_rule_does() {
        let everything = AcceptedTypes::new(&["*/*", "application/*"]).unwrap();
        assert!(everything.accepts(sniff(b"%PDF-1.4\n", "a.pdf")));
        assert!(!everything.accepts(sniff(ELF, "a")));
        let elf = sniff(ELF, "a");
        let exact = AcceptedTypes::new(&[elf.mime]).unwrap();
        assert!(exact.accepts(elf));
    }

    #[test]
    fn a_project_narrows_the_list() {
        let pdf_only = AcceptedTypes::new(&["Application/PDF"]).unwrap();
        assert!(pdf_only.accepts(sniff(b"%PDF-1.4\n", "a.pdf")));
        assert!(!pdf_only.accepts(sniff(b"hello", "a.txt")));
        let text = AcceptedTypes::new(&["text/*"]).unwrap();
        assert!(text.accepts(sniff(b"# T\n", "a.md")));
        assert!(!text.accepts(sniff(b"{}", "a.json")));
    }

    #[test]
    fn rules_that_are_not_types_are_refused_by_name() {
        for rule in ["pdf", "*/pdf", "image/", "/x", "text/pl ain"] {
            let error = AcceptedTypes::new(&[rule]).unwrap_err();
            assert!(error.contains(rule.trim()), "{error}");
        }
    }
}
