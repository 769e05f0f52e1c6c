//! Files as generation context: a request that names an uploaded file
//! (OpenAI's `file_id` in a chat `file` part or a Responses `input_file`
//! part; Gemini's `fileData.fileUri`) gets the provider a form it takes.
//!
//! What each provider gets (the same through either surface, as the
//! translators carry inline files both ways):
//! - PDFs and pictures go as themselves, inline (a chat `file` part with
//!   `file_data` or an `image_url` data URL; `input_file` / `input_image`;
//!   Gemini's `inlineData`): every provider Airlock serves reads them.
//! - On Gemini's protocol, sound, video and every kind of text go as
//!   themselves too (Gemini reads them inline).
//! - Anything else with text (Word documents; HTML, Markdown and plain text
//!   on OpenAI's protocol) goes as its extracted, sanitised text.
//! - `x-airlock-file-context: text` asks for the extracted text of every
//!   file that has one (fewer tokens than a PDF's pages, any model).
//!
//! A file that is not the caller's is a 404; one that has neither a form
//! the provider reads nor text is a 400 naming its type. A request that
//! names no file is passed on untouched (its body is only searched for
//! the field names).

use std::sync::LazyLock;

use airlock_store::StoredFile;
use base64::Engine;
use bytes::Bytes;
use memchr::memmem::Finder;
use serde_json::{Map, Value, json};

use super::Files;
use crate::dispatch::{ClientRequest, Operation};
use crate::error::ApiError;

/// The request header that asks for files as text.
pub const FILE_CONTEXT_HEADER: &str = "x-airlock-file-context";

/// The largest file sent inline (Gemini's limit on a request's inline
/// data).
const MAX_INLINE_BYTES: u64 = 20 << 20;

/// How files are given to the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileContext {
    /// Each file as itself where the provider reads it, else its text.
    #[default]
    Native,
    /// Each file's text where it has one.
    Text,
}

impl FileContext {
    /// The header's ask; an error names the values it takes.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<FileContext, String> {
        match headers.get(FILE_CONTEXT_HEADER).map(|value| value.to_str()) {
            None => Ok(FileContext::Native),
            Some(Ok(value)) if value.trim().eq_ignore_ascii_case("native") => {
                Ok(FileContext::Native)
            }
            Some(Ok(value)) if value.trim().eq_ignore_ascii_case("text") => Ok(FileContext::Text),
            Some(_) => Err(format!("{FILE_CONTEXT_HEADER} must be native or text")),
        }
    }
}

/// Who asks, and how.
pub struct Asker<'a> {
    pub files: &'a Files,
    /// The caller's project (`None`: the master key's files).
    pub owner: Option<&'a str>,
    pub context: FileContext,
    pub now_ms: i64,
}

/// The request with each file it names replaced (see the module's doc).
pub async fn resolve(
    mut request: ClientRequest,
    asker: &Asker<'_>,
) -> Result<ClientRequest, ApiError> {
    // Built once: a finder's tables cost more to build than a body's scan.
    static FILE_ID: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"file_id"));
    static FILE_URI: LazyLock<[Finder<'static>; 2]> =
        LazyLock::new(|| [Finder::new(b"fileUri"), Finder::new(b"file_uri")]);
    let fields: &[Finder<'static>] = match request.operation {
        Operation::ChatCompletions | Operation::Responses => std::slice::from_ref(&*FILE_ID),
        Operation::GeminiMethod(_) => &*FILE_URI,
        _ => return Ok(request),
    };
    let names_a_file = fields
        .iter()
        .any(|field| field.find(&request.body).is_some());
    if request.upload.is_some() || !names_a_file {
        return Ok(request);
    }
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&request.body) else {
        // Not JSON: the planner answers that as it always does.
        return Ok(request);
    };
    let changed = match request.operation {
        Operation::ChatCompletions => {
            let mut changed = false;
            for message in array_mut(&mut body, "messages") {
                for part in message
                    .get_mut("content")
                    .map(array_of)
                    .into_iter()
                    .flatten()
                {
                    changed |= chat_part(part, asker).await?;
                }
            }
            changed
        }
        Operation::Responses => {
            let mut changed = false;
            for item in array_mut(&mut body, "input") {
                for part in item.get_mut("content").map(array_of).into_iter().flatten() {
                    changed |= responses_part(part, asker).await?;
                }
            }
            changed
        }
        _ => {
            let mut changed = false;
            for content in array_mut(&mut body, "contents") {
                for part in content.get_mut("parts").map(array_of).into_iter().flatten() {
                    changed |= gemini_part(part, asker).await?;
                }
            }
            changed
        }
    };
    if changed {
        request.body =
            Bytes::from(serde_json::to_vec(&Value::Object(body)).map_err(|_| ApiError::Internal)?);
    }
    Ok(request)
}

fn array_mut<'v>(
    body: &'v mut Map<String, Value>,
    name: &str,
) -> impl Iterator<Item = &'v mut Value> {
    body.get_mut(name).map(array_of).into_iter().flatten()
}

fn array_of(value: &mut Value) -> std::slice::IterMut<'_, Value> {
    match value {
        Value::Array(items) => items.iter_mut(),
        _ => [].iter_mut(),
    }
}

/// A chat `file` part naming an uploaded file.
async fn chat_part(part: &mut Value, asker: &Asker<'_>) -> Result<bool, ApiError> {
    if part.get("type").and_then(Value::as_str) != Some("file") {
        return Ok(false);
    }
    let Some(id) = part.pointer("/file/file_id").and_then(Value::as_str) else {
        return Ok(false);
    };
    let given = given(asker, id, Protocol::OpenAi).await?;
    *part = match given {
        Given::Inline {
            content_type,
            data_url,
            ..
        } if content_type.starts_with("image/") => {
            json!({"type": "image_url", "image_url": {"url": data_url}})
        }
        Given::Inline {
            filename, data_url, ..
        } => {
            json!({"type": "file", "file": {"filename": filename, "file_data": data_url}})
        }
        Given::Text(text) => json!({"type": "text", "text": text}),
    };
    Ok(true)
}

/// A Responses `input_file` part naming an uploaded file.
async fn responses_part(part: &mut Value, asker: &Asker<'_>) -> Result<bool, ApiError> {
    if part.get("type").and_then(Value::as_str) != Some("input_file") {
        return Ok(false);
    }
    let Some(id) = part.get("file_id").and_then(Value::as_str) else {
        return Ok(false);
    };
    let given = given(asker, id, Protocol::OpenAi).await?;
    *part = match given {
        Given::Inline {
            content_type,
            data_url,
            ..
        } if content_type.starts_with("image/") => {
            json!({"type": "input_image", "image_url": data_url, "detail": "auto"})
        }
        Given::Inline {
            filename, data_url, ..
        } => {
            json!({"type": "input_file", "filename": filename, "file_data": data_url})
        }
        Given::Text(text) => json!({"type": "input_text", "text": text}),
    };
    Ok(true)
}

/// A Gemini part with `fileData` (or `file_data`) naming an uploaded file
/// by its URI (`…/files/{id}`).
async fn gemini_part(part: &mut Value, asker: &Asker<'_>) -> Result<bool, ApiError> {
    let Some(data) = part.get("fileData").or_else(|| part.get("file_data")) else {
        return Ok(false);
    };
    let Some(uri) = data
        .get("fileUri")
        .or_else(|| data.get("file_uri"))
        .and_then(Value::as_str)
    else {
        return Ok(false);
    };
    let Some(id) = file_id_of(uri) else {
        return Ok(false);
    };
    let given = given(asker, id, Protocol::Gemini).await?;
    let mut replaced = match given {
        Given::Inline {
            content_type,
            data_url,
            ..
        } => {
            let data = data_url.split_once(',').map_or("", |(_, data)| data);
            json!({"inlineData": {"mimeType": content_type, "data": data}})
        }
        Given::Text(text) => json!({"text": text}),
    };
    // What else the part says (a video's offsets, a thought flag) stays.
    if let (Value::Object(part), Value::Object(fields)) = (&*part, &mut replaced) {
        for (name, value) in part {
            if name != "fileData" && name != "file_data" {
                fields.insert(name.clone(), value.clone());
            }
        }
    }
    *part = replaced;
    Ok(true)
}

/// The file id a Gemini file URI names: its path's last segment after
/// `files/`.
fn file_id_of(uri: &str) -> Option<&str> {
    let path = uri.split(['?', '#']).next()?;
    let (before, id) = path.rsplit_once('/')?;
    (before.ends_with("/files") || before == "files")
        .then_some(id)
        .filter(|id| !id.is_empty())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    OpenAi,
    Gemini,
}

/// A file as the provider gets it.
enum Given {
    Inline {
        filename: String,
        content_type: String,
        data_url: String,
    },
    Text(String),
}

async fn given(asker: &Asker<'_>, id: &str, protocol: Protocol) -> Result<Given, ApiError> {
    let file = asker.files.get(asker.owner, id, asker.now_ms).await?;
    let kind = file.content_type.as_str();
    let everywhere = kind == "application/pdf" || kind.starts_with("image/");
    let on_gemini = protocol == Protocol::Gemini
        && ["audio/", "video/", "text/"]
            .iter()
            .any(|top| kind.starts_with(top));
    let native = (everywhere || on_gemini) && file.bytes <= MAX_INLINE_BYTES;
    let text = match (native, asker.context) {
        (true, FileContext::Native) => None,
        _ => asker.files.text(&file).await?,
    };
    if let Some(text) = text {
        return Ok(Given::Text(format!("[{}]\n{text}", display_name(&file))));
    }
    if !native {
        return Err(ApiError::BadRequest {
            message: format!(
                "File {} ({kind}{}) cannot be given to this model: it has no text, and the provider does not read it inline.",
                file.id,
                if file.bytes > MAX_INLINE_BYTES {
                    ", over 20 MiB"
                } else {
                    ""
                },
            ),
            param: Some("file_id".into()),
        });
    }
    let bytes = asker
        .files
        .content(&file)
        .await?
        .bytes()
        .await
        .map_err(|error| {
            tracing::error!(%error, "a file's bytes could not be read");
            ApiError::FilesUnavailable
        })?;
    let data_url = format!(
        "data:{kind};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    Ok(Given::Inline {
        filename: file.filename,
        content_type: file.content_type,
        data_url,
    })
}

fn display_name(file: &StoredFile) -> &str {
    match file.filename.is_empty() {
        true => &file.id,
        false => &file.filename,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_file_uris_name_their_file() {
        assert_eq!(
            file_id_of("http://127.0.0.1:8080/v1beta/files/file-abc"),
            Some("file-abc")
        );
        assert_eq!(
            file_id_of("https://generativelanguage.googleapis.com/v1beta/files/x1?alt=y"),
            Some("x1")
        );
        assert_eq!(file_id_of("files/notes"), Some("notes"));
        assert_eq!(file_id_of("gs://bucket/object.pdf"), None);
        assert_eq!(file_id_of("https://example.com/files/"), None);
    }

    #[test]
    fn the_header_asks_native_or_text_and_nothing_else() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(FileContext::from_headers(&headers), Ok(FileContext::Native));
        headers.insert(FILE_CONTEXT_HEADER, "Text".parse().unwrap());
        assert_eq!(FileContext::from_headers(&headers), Ok(FileContext::Text));
        headers.insert(FILE_CONTEXT_HEADER, "pdf".parse().unwrap());
        assert!(
            FileContext::from_headers(&headers)
                .unwrap_err()
                .contains("native or text")
        );
    }
}
