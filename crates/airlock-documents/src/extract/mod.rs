//! A document's text and metadata, and the checks that refuse a document
//! built to hurt its reader.
//!
//! [`extract`] reads PDF ([`pdf`]), Word ([`docx`]), HTML ([`html`]) and
//! every other kind of text; pictures, sound and video have no text here.
//! Each reader works within [`Limits`]: a PDF's streams and a Word
//! document's entries are inflated only so far (a small file that would
//! unpack to gigabytes is refused, not unpacked), nesting is bounded, and
//! the text kept is bounded. The text is then sanitised ([`sanitise`]):
//! control characters stripped, and personal data redacted when asked.

mod docx;
mod html;
mod pdf;
pub mod sanitise;

use crate::sniff::{Family, FileType};

/// How far a reader goes before it refuses a document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes a document may inflate to (a PDF page's content, a Word
    /// document's entries in all).
    pub max_inflated_bytes: u64,
    /// How deep elements (HTML, Word's XML) or values (JSON) may nest.
    pub max_depth: usize,
    /// The most text kept; the rest is cut (and said so).
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_inflated_bytes: 256 << 20,
            max_depth: 256,
            max_text_bytes: 16 << 20,
        }
    }
}

/// What a document holds besides its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub title: Option<String>,
    pub author: Option<String>,
    /// Pages, for a PDF.
    pub pages: Option<u32>,
    /// The language of its text (ISO 639-3, `eng`), when it can be told.
    pub language: Option<String>,
}

/// A document's text and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub metadata: Metadata,
    /// Whether the text was cut at [`Limits::max_text_bytes`].
    pub truncated: bool,
}

/// Why a document is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Password-protected: its text cannot be read.
    Encrypted,
    /// Not a readable document of its type (the reason says where).
    Malformed(String),
    /// It would inflate past the limit (a decompression bomb).
    TooInflated { limit: u64 },
    /// It nests deeper than the limit.
    TooDeep { limit: usize },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Encrypted => write!(
                f,
                "the document is encrypted; upload it without its password"
            ),
            Refusal::Malformed(why) => write!(f, "the document could not be read: {why}"),
            Refusal::TooInflated { limit } => write!(
                f,
                "the document would unpack to more than {limit} bytes (a decompression bomb?)"
            ),
            Refusal::TooDeep { limit } => {
                write!(f, "the document nests more than {limit} levels deep")
            }
        }
    }
}

/// A document's text and metadata (`None` for files without text:
/// pictures, sound, video), or why it is refused.
pub fn extract(
    file: FileType,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Option<Extracted>, Refusal> {
    let (text, mut metadata) = match (file.family, file.mime) {
        (_, "application/pdf") => pdf::read(bytes, limits)?,
        _ if file.is_docx() => docx::read(bytes, limits)?,
        (_, "text/html") => (html::text(as_text(bytes)?, limits)?, Metadata::default()),
        (Family::Text, _) => {
            let text = as_text(bytes)?;
            // JSON too deep for a parser is still checked: it is text that
            // starts like JSON.
            if text.trim_start().starts_with(['[', '{']) {
                check_json_depth(text, limits.max_depth)?;
            }
            (text.to_string(), Metadata::default())
        }
        _ => return Ok(None),
    };
    let mut text = sanitise::strip_controls(text);
    let truncated = text.len() > limits.max_text_bytes;
    if truncated {
        let kept = head(&text, limits.max_text_bytes).len();
        text.truncate(kept);
    }
    metadata.language = whatlang::detect(head(&text, LANGUAGE_SAMPLE))
        .filter(|info| info.is_reliable())
        .map(|info| info.lang().code().to_string());
    Ok(Some(Extracted {
        text,
        metadata,
        truncated,
    }))
}

/// How much of the text the language is told from: enough for any
/// document, and bounded for a large one.
const LANGUAGE_SAMPLE: usize = 64 << 10;

/// At most the first `max` bytes of `text`, cut on a character boundary.
fn head(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn as_text(bytes: &[u8]) -> Result<&str, Refusal> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|_| Refusal::Malformed("the text is not UTF-8".into()))
}

/// Refuses JSON (or JSON Lines) whose arrays and objects nest deeper than
/// `limit`, counting outside strings.
fn check_json_depth(text: &str, limit: usize) -> Result<(), Refusal> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, ..) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                if depth > limit {
                    return Err(Refusal::TooDeep { limit });
                }
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sniff;

    #[test]
    fn text_is_kept_with_its_control_characters_stripped_and_its_language_told() {
        let english = "The quick brown fox jumps over the lazy dog, again and again, \
                       while the farmer watches from the porch of his old house.\u{7}\n";
        // Sniffing calls text with a bell in it binary: as a PDF's text would
        // come, then.
        let plain = FileType {
            mime: "text/plain",
            family: Family::Text,
        };
        let read = extract(plain, english.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        assert!(!read.text.contains('\u{7}'));
        assert!(read.text.ends_with("house.\n"));
        assert_eq!(read.metadata.language.as_deref(), Some("eng"));
        assert!(!read.truncated);
    }

    #[test]
    fn pictures_have_no_text() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        assert_eq!(
            extract(sniff(png, "a.png"), png, &Limits::default()),
            Ok(None)
        );
    }

    #[test]
    fn json_nested_too_deep_is_refused() {
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let found = sniff(deep.as_bytes(), "a.json");
        assert_eq!(
            extract(found, deep.as_bytes(), &Limits::default()),
            Err(Refusal::TooDeep { limit: 256 })
        );
        // Brackets inside strings do not count.
        let quoted = format!("{{\"a\": \"{}\"}}", "[".repeat(300));
        assert!(
            extract(
                sniff(quoted.as_bytes(), "a.json"),
                quoted.as_bytes(),
                &Limits::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn text_past_the_limit_is_cut_on_a_character_boundary() {
        let limits = Limits {
            max_text_bytes: 5,
            ..Limits::default()
        };
        let text = "abcdé and more";
        let read = extract(sniff(text.as_bytes(), "a.txt"), text.as_bytes(), &limits)
            .unwrap()
            .unwrap();
        assert_eq!(read.text, "abcd");
        assert!(read.truncated);
    }
}
