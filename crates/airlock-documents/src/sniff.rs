//! A file's type, told from its bytes.
//!
//! Binary formats by their magic numbers (`infer`), a ZIP that is a Word
//! document by its entries; anything else that is UTF-8 without NUL or
//! stray control characters is text, whose kind (HTML, XML, JSON, JSON
//! Lines) is read from its first characters and its parse. The file's name
//! only chooses between kinds of text that the bytes cannot tell apart
//! (Markdown and CSV are plain text to a reader of bytes), so a name can
//! never make an executable a document.

/// What sort of thing a file is: what projects accept or refuse by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// PDF, Word and other office documents, e-books.
    Document,
    /// Plain text, Markdown, HTML, CSV, JSON, XML.
    Text,
    Image,
    Audio,
    Video,
    /// ZIP, tar, gzip and other archives (a Word document is a Document).
    Archive,
    /// Programs and scripts: ELF, PE, Mach-O, WebAssembly, `#!` scripts.
    Executable,
    /// Bytes that are none of the above.
    Unknown,
}

/// A sniffed type: its MIME type and family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    pub mime: &'static str,
    pub family: Family,
}

/// Types `infer` calls archives that are documents to a reader.
const DOCUMENT_ARCHIVES: &[&str] = &["application/pdf", "application/epub+zip", "application/rtf"];

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

impl FileType {
    const fn new(mime: &'static str, family: Family) -> FileType {
        FileType { mime, family }
    }

    /// Whether this is a Word (DOCX) document.
    pub fn is_docx(self) -> bool {
        self.mime == DOCX
    }
}

/// Tells what `bytes` are; `name` (the client's file name) only picks
/// among kinds of text.
pub fn sniff(bytes: &[u8], name: &str) -> FileType {
    if let Some(found) = infer::get(bytes) {
        let family = match found.matcher_type() {
            infer::MatcherType::App => Family::Executable,
            // infer files PDF, EPUB and RTF with the archives.
            infer::MatcherType::Archive if DOCUMENT_ARCHIVES.contains(&found.mime_type()) => {
                Family::Document
            }
            infer::MatcherType::Archive => Family::Archive,
            infer::MatcherType::Audio => Family::Audio,
            infer::MatcherType::Book | infer::MatcherType::Doc => Family::Document,
            infer::MatcherType::Image => Family::Image,
            infer::MatcherType::Video => Family::Video,
            infer::MatcherType::Font | infer::MatcherType::Custom => Family::Unknown,
            // infer's text matchers: HTML, XML and `#!` scripts.
            infer::MatcherType::Text => match found.mime_type() {
                "text/x-shellscript" => Family::Executable,
                _ => Family::Text,
            },
        };
        // Text infer knows is read again below, for its exact kind.
        if family != Family::Text {
            return FileType::new(found.mime_type(), family);
        }
    }
    match text_of(bytes) {
        Some(text) => FileType::new(text_kind(text, &name.to_ascii_lowercase()), Family::Text),
        None => FileType::new("application/octet-stream", Family::Unknown),
    }
}

/// The bytes as text, when they are UTF-8 (a byte-order mark allowed)
/// with no NUL and no control characters other than tab, line breaks and
/// form feed.
fn text_of(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).ok()?;
    let control =
        |byte: &u8| byte.is_ascii_control() && !matches!(byte, b'\t' | b'\n' | b'\r' | 0x0c);
    (!text.as_bytes().iter().any(control)).then_some(text)
}

fn text_kind(text: &str, name: &str) -> &'static str {
    let start = text.trim_start();
    let head: String = start
        .chars()
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return "text/html";
    }
    if head.starts_with("<?xml") {
        return "application/xml";
    }
    if head.starts_with('{') || head.starts_with('[') {
        if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
            return match name.ends_with(".jsonl") || name.ends_with(".ndjson") {
                true => "application/jsonl",
                false => "application/json",
            };
        }
        if is_json_lines(text) {
            return "application/jsonl";
        }
    }
    if name.ends_with(".md") || name.ends_with(".markdown") {
        "text/markdown"
    } else if name.ends_with(".csv") {
        "text/csv"
    } else if name.ends_with(".html") || name.ends_with(".htm") {
        "text/html"
    } else {
        "text/plain"
    }
}

/// Whether every line that is not blank is one JSON value.
fn is_json_lines(text: &str) -> bool {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .all(|line| serde_json::from_str::<serde::de::IgnoredAny>(line).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::ELF;

    const PDF: &[u8] =
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    const PE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

    #[test]
    fn a_pdf_is_a_document_whatever_its_name() {
        for name in ["report.pdf", "notes.txt", ""] {
            assert_eq!(
                sniff(PDF, name),
                FileType::new("application/pdf", Family::Document)
            );
        }
    }

    #[test]
    fn an_executable_named_as_a_pdf_is_an_executable() {
        assert_eq!(sniff(ELF, "report.pdf").family, Family::Executable);
        assert_eq!(sniff(PE, "report.pdf").family, Family::Executable);
        assert_eq!(
            sniff(b"#!/bin/sh\nrm -rf /\n", "notes.txt").family,
            Family::Executable
        );
    }

    #[test]
    fn pictures_are_images() {
        assert_eq!(
            sniff(PNG, "x.pdf"),
            FileType::new("image/png", Family::Image)
        );
    }

    #[test]
    fn text_kinds_come_from_the_bytes_and_only_then_the_name() {
        let kind = |bytes: &[u8], name: &str| sniff(bytes, name).mime;
        assert_eq!(kind(b"Hello, world.\n", "a.txt"), "text/plain");
        assert_eq!(kind(b"# Title\n\nBody.\n", "a.md"), "text/markdown");
        assert_eq!(kind(b"a,b\n1,2\n", "A.CSV"), "text/csv");
        assert_eq!(
            kind(b"  <!DOCTYPE html><html><body>x</body></html>", "a.txt"),
            "text/html"
        );
        assert_eq!(kind(b"<html><p>x</p></html>", "page"), "text/html");
        assert_eq!(
            kind(b"<?xml version=\"1.0\"?><a/>", "a.txt"),
            "application/xml"
        );
        assert_eq!(kind(b"{\"a\": [1, 2]}", "data"), "application/json");
        assert_eq!(kind(b"{\"a\": 1}\n", "requests.jsonl"), "application/jsonl");
        assert_eq!(
            kind(b"{\"a\": 1}\n\n{\"b\": 2}\n", "requests.txt"),
            "application/jsonl"
        );
        // Broken JSON is text, not JSON.
        assert_eq!(kind(b"{\"a\": ", "a.json"), "text/plain");
        // A byte-order mark is allowed; non-ASCII text is text.
        assert_eq!(kind("\u{FEFF}Grüße, 世界".as_bytes(), "a"), "text/plain");
    }

    #[test]
    fn bytes_that_are_not_text_and_not_known_are_unknown() {
        assert_eq!(
            sniff(b"plain\0with a NUL", "a.txt"),
            FileType::new("application/octet-stream", Family::Unknown)
        );
        assert_eq!(
            sniff(b"\xff\xfe\xfd not utf-8", "a.txt").family,
            Family::Unknown
        );
        assert_eq!(sniff(b"bell \x07 ringing", "a.txt").family, Family::Unknown);
        assert_eq!(sniff(b"", "a.txt").family, Family::Text);
    }

    #[test]
    fn a_zip_is_an_archive_unless_it_is_a_word_document() {
        let zip = zip_with("notes/readme.txt");
        assert_eq!(sniff(&zip, "a.docx").family, Family::Archive);
        let docx = zip_with("word/document.xml");
        let found = sniff(&docx, "a.zip");
        assert!(found.is_docx(), "{found:?}");
        assert_eq!(found.family, Family::Document);
    }

    /// A ZIP holding one empty stored entry named `name`.
    fn zip_with(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out
    }
}
