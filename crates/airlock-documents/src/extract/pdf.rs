//! PDF with `lopdf`: refused when encrypted or unreadable; each page's
//! content inflated within the limit; the title and author from the
//! document's information dictionary.

use lopdf::{Document, Object};

use super::{Limits, Metadata, Refusal};

pub(super) fn read(bytes: &[u8], limits: &Limits) -> Result<(String, Metadata), Refusal> {
    // The format ends a file with `%%EOF` (in its last kilobyte); a file
    // cut short does not, and its reader would be guessing.
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    if !tail.windows(5).any(|window| window == b"%%EOF") {
        return Err(Refusal::Malformed(
            "it is cut short (it does not end with %%EOF)".into(),
        ));
    }
    // Checked in the bytes: the reader decrypts what an empty password
    // opens and forgets it was encrypted.
    if names_encryption(bytes) {
        return Err(Refusal::Encrypted);
    }
    let document = Document::load_mem(bytes).map_err(|error| match error {
        lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword => Refusal::Encrypted,
        other => Refusal::Malformed(format!("not a readable PDF ({other})")),
    })?;
    if document.is_encrypted() {
        return Err(Refusal::Encrypted);
    }
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    if pages.is_empty() {
        return Err(Refusal::Malformed("it has no pages".into()));
    }
    for (number, page) in document.get_pages() {
        if let Some(missing) = missing_content(&document, page) {
            return Err(Refusal::Malformed(format!(
                "page {number}'s content (object {} {}) is missing",
                missing.0, missing.1
            )));
        }
    }
    let limit = usize::try_from(limits.max_inflated_bytes).unwrap_or(usize::MAX);
    let mut text = String::new();
    for page in &pages {
        match document.extract_text_with_limit(&[*page], limit) {
            Ok(page_text) => {
                text.push_str(page_text.trim_end());
                text.push('\n');
            }
            Err(lopdf::Error::Decompress(_)) => {
                return Err(Refusal::TooInflated {
                    limit: limits.max_inflated_bytes,
                });
            }
            Err(lopdf::Error::RecursionLimit | lopdf::Error::ReferenceLimit) => {
                return Err(Refusal::TooDeep {
                    limit: limits.max_depth,
                });
            }
            // Broken structure: a page's content missing or unreadable.
            Err(
                error @ (lopdf::Error::ObjectNotFound(_)
                | lopdf::Error::Parse(_)
                | lopdf::Error::InvalidStream(_)
                | lopdf::Error::InvalidObjectStream(_)
                | lopdf::Error::InvalidOffset(_)
                | lopdf::Error::MissingXrefEntry
                | lopdf::Error::ReferenceCycle(_)
                | lopdf::Error::DictKey(_)
                | lopdf::Error::ObjectType { .. }
                | lopdf::Error::DictType { .. }),
            ) => {
                return Err(Refusal::Malformed(format!(
                    "page {page} cannot be read ({error})"
                )));
            }
            // A page whose text cannot be decoded (an unknown font
            // encoding) adds none; the others still do.
            Err(_) => {}
        }
        if text.len() > limits.max_text_bytes {
            break;
        }
    }
    let info = |key: &[u8]| info_text(&document, key);
    let metadata = Metadata {
        title: info(b"Title"),
        author: info(b"Author"),
        pages: u32::try_from(pages.len()).ok(),
        language: None,
    };
    Ok((text, metadata))
}

/// Whether the file has an `/Encrypt` entry (the name itself, not
/// `/EncryptMetadata`).
fn names_encryption(bytes: &[u8]) -> bool {
    bytes
        .windows(9)
        .any(|window| window.starts_with(b"/Encrypt") && !window[8].is_ascii_alphanumeric())
}

/// The first content stream a page names that the file does not hold.
fn missing_content(document: &Document, page: lopdf::ObjectId) -> Option<lopdf::ObjectId> {
    let contents = document.get_dictionary(page).ok()?.get(b"Contents").ok()?;
    let references = match contents {
        Object::Reference(id) => vec![*id],
        Object::Array(items) => items
            .iter()
            .filter_map(|item| item.as_reference().ok())
            .collect(),
        _ => Vec::new(),
    };
    references
        .into_iter()
        .find(|id| document.get_object(*id).is_err())
}

/// A text entry of the information dictionary, decoded (UTF-16 with its
/// byte-order mark, else PDFDocEncoding read as Latin-1).
fn info_text(document: &Document, key: &[u8]) -> Option<String> {
    let info = document.trailer.get(b"Info").ok()?;
    let (_, info) = document.dereference(info).ok()?;
    let (_, value) = document
        .dereference(info.as_dict().ok()?.get(key).ok()?)
        .ok()?;
    let Object::String(bytes, _) = value else {
        return None;
    };
    let text = match bytes.strip_prefix(b"\xFE\xFF") {
        Some(utf16) => String::from_utf16_lossy(
            &utf16
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect::<Vec<_>>(),
        ),
        None => bytes.iter().map(|&byte| char::from(byte)).collect(),
    };
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use lopdf::content::{Content, Operation};
    use lopdf::{Dictionary, Stream, dictionary};

    use super::*;

    /// A PDF with one page per line of `pages`, and a title and author.
    pub(crate) fn pdf_with(pages: &[&str]) -> Vec<u8> {
        let mut document = Document::with_version("1.5");
        let pages_id = document.new_object_id();
        let font = document.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let resources = document.add_object(dictionary! {
            "Font" => dictionary! { "F1" => font },
        });
        let kids: Vec<Object> = pages
            .iter()
            .map(|line| {
                let content = Content {
                    operations: vec![
                        Operation::new("BT", vec![]),
                        Operation::new("Tf", vec!["F1".into(), 12.into()]),
                        Operation::new("Td", vec![72.into(), 720.into()]),
                        Operation::new("Tj", vec![Object::string_literal(*line)]),
                        Operation::new("ET", vec![]),
                    ],
                };
                let stream =
                    document.add_object(Stream::new(Dictionary::new(), content.encode().unwrap()));
                document
                    .add_object(dictionary! {
                        "Type" => "Page", "Parent" => pages_id, "Contents" => stream,
                    })
                    .into()
            })
            .collect();
        document.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => pages.len() as i64,
                "Resources" => resources, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        let info = document.add_object(dictionary! {
            "Title" => Object::string_literal("Quarterly report"),
            "Author" => Object::string_literal("Ada"),
        });
        document.trailer.set("Root", catalog);
        document.trailer.set("Info", info);
        let mut bytes = Vec::new();
        document.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn a_pdfs_pages_title_and_author_are_read() {
        let bytes = pdf_with(&["Revenue grew in spring.", "Costs fell in summer."]);
        let (text, metadata) = read(&bytes, &Limits::default()).unwrap();
        assert!(text.contains("Revenue grew in spring."), "{text:?}");
        assert!(text.contains("Costs fell in summer."), "{text:?}");
        assert_eq!(metadata.pages, Some(2));
        assert_eq!(metadata.title.as_deref(), Some("Quarterly report"));
        assert_eq!(metadata.author.as_deref(), Some("Ada"));
    }

    #[test]
    fn a_corrupt_pdf_is_refused_as_unreadable() {
        let bytes = pdf_with(&["text"]);
        for cut in [bytes.len() / 3, bytes.len() / 2] {
            let corrupt = &bytes[..cut];
            assert!(
                matches!(
                    read(corrupt, &Limits::default()),
                    Err(Refusal::Malformed(_))
                ),
                "cut at {cut} of {}",
                bytes.len()
            );
        }
        assert!(matches!(
            read(b"%PDF-1.7\nnothing else", &Limits::default()),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn an_encrypted_pdf_is_refused() {
        let mut document = Document::load_mem(&pdf_with(&["secret"])).unwrap();
        let encryption = document.add_object(dictionary! {
            "Filter" => "Standard", "V" => 2, "R" => 3, "Length" => 128,
            "O" => Object::string_literal(vec![0u8; 32]),
            "U" => Object::string_literal(vec![0u8; 32]),
            "P" => -4,
        });
        document.trailer.set("Encrypt", encryption);
        document.trailer.set(
            "ID",
            vec![
                Object::string_literal(vec![1u8; 16]),
                Object::string_literal(vec![1u8; 16]),
            ],
        );
        let mut bytes = Vec::new();
        document.save_to(&mut bytes).unwrap();
        assert_eq!(read(&bytes, &Limits::default()), Err(Refusal::Encrypted));
    }

    #[test]
    fn a_page_that_inflates_past_the_limit_is_refused() {
        let bytes = pdf_with(&["a line of text that inflates"]);
        let limits = Limits {
            max_inflated_bytes: 8,
            ..Limits::default()
        };
        assert_eq!(
            read(&bytes, &limits),
            Err(Refusal::TooInflated { limit: 8 })
        );
    }
}
