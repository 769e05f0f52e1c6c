//! Word (DOCX) with `zip` and `quick-xml`: the archive's entries checked
//! before anything is inflated (their count, their declared sizes in all,
//! and how far each claims to inflate), then `word/document.xml` read
//! within the limit (paragraphs as lines, tabs and breaks kept), and the
//! title and author from `docProps/core.xml`.

use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::Event;
use zip::ZipArchive;

use super::{Limits, Metadata, Refusal};

/// The most entries a Word document may hold.
const MAX_ENTRIES: usize = 10_000;
/// The most an entry may claim to inflate, per compressed byte (real
/// documents' XML is below 30).
const MAX_RATIO: u64 = 200;

pub(super) fn read(bytes: &[u8], limits: &Limits) -> Result<(String, Metadata), Refusal> {
    let malformed =
        |why: String| Refusal::Malformed(format!("not a readable Word document ({why})"));
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| malformed(e.to_string()))?;
    check_entries(&mut archive, limits)?;
    let document = inflate(&mut archive, "word/document.xml", limits)?
        .ok_or_else(|| malformed("it has no word/document.xml".into()))?;
    let text = body_text(&document, limits)?;
    let mut metadata = Metadata::default();
    if let Some(core) = inflate(&mut archive, "docProps/core.xml", limits)? {
        metadata.title = element_text(&core, b"title", limits)?;
        metadata.author = element_text(&core, b"creator", limits)?;
    }
    Ok((text, metadata))
}

/// Refuses an archive that claims too many entries, too many bytes in
/// all, or an entry that inflates too far from too little.
fn check_entries(archive: &mut ZipArchive<Cursor<&[u8]>>, limits: &Limits) -> Result<(), Refusal> {
    if archive.len() > MAX_ENTRIES {
        return Err(Refusal::Malformed(format!(
            "it holds {} entries; at most {MAX_ENTRIES}",
            archive.len()
        )));
    }
    let mut total = 0u64;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        total = total.saturating_add(entry.size());
        let bomb =
            entry.size() > 1 << 20 && entry.size() / entry.compressed_size().max(1) > MAX_RATIO;
        if total > limits.max_inflated_bytes || bomb {
            return Err(Refusal::TooInflated {
                limit: limits.max_inflated_bytes,
            });
        }
    }
    Ok(())
}

/// An entry's bytes, inflated no further than the limit whatever its
/// header claims; `None` when there is no such entry.
fn inflate(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, Refusal> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(error) => return Err(Refusal::Malformed(error.to_string())),
    };
    let mut bytes = Vec::new();
    entry
        .take(limits.max_inflated_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| Refusal::Malformed(format!("{name} could not be inflated ({error})")))?;
    if bytes.len() as u64 > limits.max_inflated_bytes {
        return Err(Refusal::TooInflated {
            limit: limits.max_inflated_bytes,
        });
    }
    Ok(Some(bytes))
}

/// The text of `w:t` runs, a line per `w:p` paragraph, `w:tab` and `w:br`
/// kept; elements nested past the limit are refused.
fn body_text(xml: &[u8], limits: &Limits) -> Result<String, Refusal> {
    let mut reader = Reader::from_reader(xml);
    let mut text = String::new();
    let (mut depth, mut in_text) = (0usize, false);
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer).map_err(xml_error)? {
            Event::Start(element) => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(Refusal::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                in_text = element.local_name().as_ref() == b"t";
            }
            Event::End(element) => {
                depth = depth.saturating_sub(1);
                match element.local_name().as_ref() {
                    b"p" => text.push('\n'),
                    b"t" => in_text = false,
                    _ => {}
                }
            }
            Event::Empty(element) => match element.local_name().as_ref() {
                b"tab" => text.push('\t'),
                b"br" | b"cr" => text.push('\n'),
                _ => {}
            },
            Event::Text(run) if in_text => {
                text.push_str(&run.decode().map_err(|e| xml_error(e.into()))?);
            }
            Event::GeneralRef(reference) if in_text => {
                text.push_str(&entity(
                    &reference.decode().map_err(|e| xml_error(e.into()))?,
                ));
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
        if text.len() > limits.max_text_bytes {
            break;
        }
    }
    Ok(text)
}

/// The text of the first element named `name` (any namespace).
fn element_text(xml: &[u8], name: &[u8], limits: &Limits) -> Result<Option<String>, Refusal> {
    let mut reader = Reader::from_reader(xml);
    let (mut inside, mut depth, mut found) = (false, 0usize, String::new());
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer).map_err(xml_error)? {
            Event::Start(element) => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(Refusal::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                inside = element.local_name().as_ref() == name;
            }
            Event::End(_) if inside => break,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(run) if inside => {
                found.push_str(&run.decode().map_err(|e| xml_error(e.into()))?)
            }
            Event::GeneralRef(reference) if inside => found.push_str(&entity(
                &reference.decode().map_err(|e| xml_error(e.into()))?,
            )),
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    let found = found.trim().to_string();
    Ok((!found.is_empty()).then_some(found))
}

/// An XML entity reference's text (`amp` → `&`, `#233` → `é`).
fn entity(name: &str) -> String {
    match name {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        _ => name
            .strip_prefix("#x")
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
            .and_then(char::from_u32)
            .map(String::from)
            .unwrap_or_default(),
    }
}

fn xml_error(error: quick_xml::Error) -> Refusal {
    Refusal::Malformed(format!("its XML could not be read ({error})"))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    /// A Word document whose body is `body` (the XML inside `w:body`).
    pub(crate) fn docx_with(body: &str) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = SimpleFileOptions::default();
        zip.start_file("[Content_Types].xml", options).unwrap();
        zip.write_all(b"<?xml version=\"1.0\"?><Types/>").unwrap();
        zip.start_file("word/document.xml", options).unwrap();
        write!(
            zip,
            "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
        )
        .unwrap();
        zip.start_file("docProps/core.xml", options).unwrap();
        zip.write_all(b"<?xml version=\"1.0\"?><cp:coreProperties xmlns:cp=\"x\" xmlns:dc=\"d\"><dc:title>Minutes</dc:title><dc:creator>Grace &amp; co</dc:creator></cp:coreProperties>").unwrap();
        zip.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn paragraphs_runs_tabs_and_metadata_are_read() {
        let bytes = docx_with(
            "<w:p><w:r><w:t>Hello</w:t></w:r><w:r><w:tab/><w:t xml:space=\"preserve\"> world &amp; all</w:t></w:r></w:p>\
             <w:p><w:r><w:t>Second</w:t><w:br/><w:t>line</w:t></w:r></w:p>",
        );
        let (text, metadata) = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(text, "Hello\t world & all\nSecond\nline\n");
        assert_eq!(metadata.title.as_deref(), Some("Minutes"));
        assert_eq!(metadata.author.as_deref(), Some("Grace & co"));
    }

    #[test]
    fn a_zip_bomb_is_refused_before_it_is_inflated() {
        // 64 MiB of zeros compress to a few kilobytes.
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        zip.start_file("word/document.xml", SimpleFileOptions::default())
            .unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap();
        let bomb = out.into_inner();
        assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
        assert_eq!(
            read(&bomb, &Limits::default()),
            Err(Refusal::TooInflated {
                limit: Limits::default().max_inflated_bytes
            })
        );
        // Within a smaller limit, by the total.
        let limits = Limits {
            max_inflated_bytes: 1 << 20,
            ..Limits::default()
        };
        assert_eq!(
            read(&bomb, &limits),
            Err(Refusal::TooInflated { limit: 1 << 20 })
        );
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        let deep = format!("{}{}", "<w:p>".repeat(300), "</w:p>".repeat(300));
        assert_eq!(
            read(&docx_with(&deep), &Limits::default()),
            Err(Refusal::TooDeep { limit: 256 })
        );
    }

    #[test]
    fn a_zip_without_a_document_is_malformed() {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        zip.start_file("word/other.xml", SimpleFileOptions::default())
            .unwrap();
        zip.finish().unwrap();
        assert!(matches!(
            read(&out.into_inner(), &Limits::default()),
            Err(Refusal::Malformed(why)) if why.contains("word/document.xml")
        ));
    }
}
