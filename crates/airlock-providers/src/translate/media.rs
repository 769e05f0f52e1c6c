//! Media references in OpenAI content parts → Gemini `inlineData` / `fileData`
//! parts: `data:` URLs, http(s) URLs (MIME type guessed from the extension),
//! base64 audio and base64 files.

use serde_json::{Value, json};

use super::params::TranslateError;

/// An `image_url.url`: a `data:` URL becomes `inlineData`, an http(s) URL
/// becomes `fileData` (Gemini fetches it), anything else is rejected.
pub(crate) fn url_part(url: &str, param: &str) -> Result<Value, TranslateError> {
    if url.starts_with("data:") {
        let (mime, data) = parse_data_url(url).ok_or_else(|| {
            TranslateError::new(
                format!("Invalid value for '{param}': expected a base64 data URL (data:<mime>;base64,<data>)."),
                Some(param),
            )
        })?;
        return Ok(inline(mime, data));
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let mime = mime_from_name(url_path(url)).unwrap_or("image/jpeg");
        return Ok(json!({"fileData": {"mimeType": mime, "fileUri": url}}));
    }
    Err(TranslateError::new(
        format!("Invalid value for '{param}': expected an http(s) URL or a base64 data URL."),
        Some(param),
    ))
}

/// A `file.file_data` with its optional `filename`: OpenAI sends a data URL,
/// but bare base64 is accepted when the filename tells the MIME type.
pub(crate) fn file_part(
    file_data: &str,
    filename: Option<&str>,
    param: &str,
) -> Result<Value, TranslateError> {
    if let Some((mime, data)) = parse_data_url(file_data) {
        return Ok(inline(mime, data));
    }
    let mime = filename.and_then(mime_from_name).ok_or_else(|| {
        TranslateError::new(
            format!(
                "Invalid value for '{param}': expected a base64 data URL, or base64 data with a 'filename' whose extension gives the file type."
            ),
            Some(param),
        )
    })?;
    Ok(inline(mime, file_data))
}

/// An `input_audio` part: OpenAI allows `wav` and `mp3`.
pub(crate) fn audio_part(data: &str, format: &str, param: &str) -> Result<Value, TranslateError> {
    let mime = match format {
        "wav" => "audio/wav",
        "mp3" => "audio/mp3",
        other => return Err(TranslateError::invalid_value(param, other, &["wav", "mp3"])),
    };
    Ok(inline(mime, data))
}

fn inline(mime: &str, data: &str) -> Value {
    json!({"inlineData": {"mimeType": mime, "data": data}})
}

/// `data:<mime>[;param=value]*;base64,<data>` → (mime, data). Only base64
/// payloads are accepted: Gemini's `inlineData.data` is base64.
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let (header, data) = url.strip_prefix("data:")?.split_once(',')?;
    let mut fields = header.split(';');
    let mime = fields.next().filter(|m| m.contains('/'))?;
    let is_base64 = fields.any(|f| f.eq_ignore_ascii_case("base64"));
    (is_base64 && !data.is_empty()).then_some((mime, data))
}

/// The path of an http(s) URL, without query string or fragment.
fn url_path(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The MIME type Gemini expects for a file name's extension, if known.
fn mime_from_name(name: &str) -> Option<&'static str> {
    let file = name.rsplit('/').next().unwrap_or(name);
    let (_, ext) = file.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "wav" => "audio/wav",
        "mp3" => "audio/mp3",
        "aac" => "audio/aac",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "aiff" => "audio/aiff",
        "mp4" => "video/mp4",
        "mpeg" | "mpg" => "video/mpeg",
        "mov" => "video/mov",
        "webm" => "video/webm",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_url_becomes_inline_data() {
        assert_eq!(
            url_part("data:image/png;base64,iVBORw0KGgo=", "p").unwrap(),
            json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})
        );
    }

    #[test]
    fn data_url_with_extra_parameters() {
        assert_eq!(
            url_part("data:image/jpeg;name=a.jpg;base64,AAAA", "p").unwrap(),
            json!({"inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}})
        );
    }

    #[test]
    fn non_base64_or_malformed_data_url_is_rejected() {
        for bad in [
            "data:text/plain,hello",
            "data:image/png;base64",
            "data:;base64,AAAA",
            "data:image/png;base64,",
        ] {
            let err = url_part(bad, "messages[0].content[1].image_url.url").unwrap_err();
            assert_eq!(
                err.param.as_deref(),
                Some("messages[0].content[1].image_url.url"),
                "{bad}"
            );
        }
    }

    #[test]
    fn http_url_becomes_file_data_with_guessed_mime() {
        assert_eq!(
            url_part("https://example.com/cat.PNG?size=large#x", "p").unwrap(),
            json!({"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.PNG?size=large#x"}})
        );
        assert_eq!(
            url_part("http://example.com/doc.pdf", "p").unwrap(),
            json!({"fileData": {"mimeType": "application/pdf", "fileUri": "http://example.com/doc.pdf"}})
        );
    }

    #[test]
    fn http_url_without_known_extension_defaults_to_jpeg() {
        assert_eq!(
            url_part("https://example.com/image?id=3.x", "p").unwrap(),
            json!({"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/image?id=3.x"}})
        );
        assert_eq!(
            url_part("https://example.com.au/", "p").unwrap()["fileData"]["mimeType"],
            json!("image/jpeg")
        );
    }

    #[test]
    fn other_schemes_are_rejected() {
        let err = url_part("ftp://x/y.png", "p").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for 'p': expected an http(s) URL or a base64 data URL."
        );
    }

    #[test]
    fn audio_formats() {
        assert_eq!(
            audio_part("UklGR", "wav", "p").unwrap(),
            json!({"inlineData": {"mimeType": "audio/wav", "data": "UklGR"}})
        );
        assert_eq!(
            audio_part("SUQz", "mp3", "p").unwrap(),
            json!({"inlineData": {"mimeType": "audio/mp3", "data": "SUQz"}})
        );
        let err = audio_part("x", "flac", "messages[0].content[0].input_audio.format").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value: 'flac'. Supported values are: 'wav' and 'mp3'."
        );
    }

    #[test]
    fn files_from_data_url_or_filename() {
        assert_eq!(
            file_part(
                "data:application/pdf;base64,JVBER",
                Some("ignored.txt"),
                "p"
            )
            .unwrap(),
            json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}})
        );
        assert_eq!(
            file_part("JVBER", Some("report.pdf"), "p").unwrap(),
            json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}})
        );
        assert!(file_part("JVBER", None, "p").is_err());
        assert!(file_part("JVBER", Some("noext"), "p").is_err());
    }
}
