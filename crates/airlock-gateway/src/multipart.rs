//! `multipart/form-data` request bodies (OpenAI's image edits and audio
//! transcriptions): read whole within the upload limit, then split into
//! fields with `multer`. The raw bytes are kept too, so a request passed
//! through to an OpenAI-protocol provider goes as the client sent it.

use std::convert::Infallible;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use crate::body::{content_type_essence, read_limited};
use crate::error::ApiError;

/// A multipart request: its bytes as sent, their `Content-Type` (with the
/// boundary), and its fields.
#[derive(Debug)]
pub struct Upload {
    pub content_type: HeaderValue,
    boundary: String,
    pub form: Form,
}

impl Upload {
    /// The form encoded again with one text field's value replaced (an
    /// alias's model renamed for the provider), with the client's boundary.
    pub fn with_text(&self, name: &str, value: &str) -> Bytes {
        let mut out = Vec::new();
        for field in &self.form.fields {
            out.extend_from_slice(b"--");
            out.extend_from_slice(self.boundary.as_bytes());
            out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
            out.extend_from_slice(quoted(&field.name).as_bytes());
            out.push(b'"');
            if let Some(file_name) = &field.file_name {
                out.extend_from_slice(b"; filename=\"");
                out.extend_from_slice(quoted(file_name).as_bytes());
                out.push(b'"');
            }
            if let Some(content_type) = &field.content_type {
                out.extend_from_slice(b"\r\nContent-Type: ");
                out.extend_from_slice(content_type.as_bytes());
            }
            out.extend_from_slice(b"\r\n\r\n");
            match field.name == name && field.file_name.is_none() {
                true => out.extend_from_slice(value.as_bytes()),
                false => out.extend_from_slice(&field.bytes),
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        Bytes::from(out)
    }
}

/// A name as a quoted-string parameter holds it (quotes and line breaks
/// percent-encoded, as browsers send them).
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The fields of a form, in the order sent.
#[derive(Debug, Default)]
pub struct Form {
    fields: Vec<Field>,
}

/// One form field: a text value or a file.
#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub file_name: Option<String>,
    /// The type the client declared (never trusted: files are sniffed).
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

impl Form {
    /// A text field's value (the first of that name).
    pub fn text(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.fields.iter().find(|field| field.name == name) {
            None => Ok(None),
            Some(field) => {
                std::str::from_utf8(&field.bytes)
                    .map(Some)
                    .map_err(|_| ApiError::BadRequest {
                        message: format!("The field '{name}' is not valid UTF-8 text."),
                        param: Some(name.to_string()),
                    })
            }
        }
    }

    /// Every field of one of these names (`image` and `image[]` alike).
    pub fn all<'f>(&'f self, names: &'f [&str]) -> impl Iterator<Item = &'f Field> + 'f {
        self.fields
            .iter()
            .filter(|field| names.contains(&field.name.as_str()))
    }

    /// The names of the fields, in order (duplicates kept).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|field| field.name.as_str())
    }

    /// The text fields (those without a file name), name and value, in
    /// order; a value that is not UTF-8 is refused naming its field.
    pub fn text_fields(&self) -> Result<Vec<(String, String)>, ApiError> {
        self.fields
            .iter()
            .filter(|field| field.file_name.is_none())
            .map(|field| match std::str::from_utf8(&field.bytes) {
                Ok(text) => Ok((field.name.clone(), text.to_string())),
                Err(_) => Err(not_text(&field.name)),
            })
            .collect()
    }
}

fn not_text(name: &str) -> ApiError {
    ApiError::BadRequest {
        message: format!("The field '{name}' is not valid UTF-8 text."),
        param: Some(name.to_string()),
    }
}

/// Reads a `multipart/form-data` body of at most `limit` bytes.
pub async fn read_upload(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Bytes, Upload), ApiError> {
    let not_multipart = || ApiError::UnsupportedMediaType {
        expected: "multipart/form-data",
    };
    if !content_type_essence(headers).is_some_and(|e| e.eq_ignore_ascii_case("multipart/form-data"))
    {
        return Err(not_multipart());
    }
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .cloned()
        .ok_or_else(not_multipart)?;
    let boundary = content_type
        .to_str()
        .ok()
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| ApiError::BadRequest {
            message: "The multipart Content-Type has no boundary.".into(),
            param: None,
        })?;
    let bytes = read_limited(body, limit).await?;
    let form = parse(bytes.clone(), boundary.clone()).await?;
    Ok((
        bytes,
        Upload {
            content_type,
            boundary,
            form,
        },
    ))
}

async fn parse(bytes: Bytes, boundary: String) -> Result<Form, ApiError> {
    let malformed = |error: multer::Error| ApiError::BadRequest {
        message: format!("The multipart body could not be read: {error}."),
        param: None,
    };
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(ToString::to_string);
        let bytes = field.bytes().await.map_err(malformed)?;
        form.fields.push(Field {
            name,
            file_name,
            content_type,
            bytes,
        });
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        headers
    }

    const BODY: &str = "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF....\r\n--XyZ--\r\n";

    #[tokio::test]
    async fn reads_text_fields_and_files_in_order() {
        let (raw, upload) = read_upload(
            &headers("multipart/form-data; boundary=XyZ"),
            Body::from(BODY),
            1 << 20,
        )
        .await
        .unwrap();
        assert_eq!(raw, BODY.as_bytes());
        assert_eq!(upload.form.text("model").unwrap(), Some("whisper-1"));
        assert_eq!(upload.form.text("language").unwrap(), None);
        let file = upload.form.all(&["file"]).next().unwrap();
        assert_eq!(file.file_name.as_deref(), Some("a.wav"));
        assert_eq!(&file.bytes[..], b"RIFF....");
        assert_eq!(upload.form.names().collect::<Vec<_>>(), ["model", "file"]);
        assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
    }

    #[tokio::test]
    async fn a_renamed_text_field_reencodes_the_form_and_keeps_the_files() {
        let (_, upload) = read_upload(
            &headers("multipart/form-data; boundary=XyZ"),
            Body::from(BODY),
            1 << 20,
        )
        .await
        .unwrap();
        let renamed = upload.with_text("model", "gpt-4o-transcribe");
        let (_, again) = read_upload(
            &headers("multipart/form-data; boundary=XyZ"),
            Body::from(renamed),
            1 << 20,
        )
        .await
        .unwrap();
        assert_eq!(again.form.text("model").unwrap(), Some("gpt-4o-transcribe"));
        let file = again.form.all(&["file"]).next().unwrap();
        assert_eq!(
            (file.file_name.as_deref(), file.content_type.as_deref()),
            (Some("a.wav"), Some("audio/wav"))
        );
        assert_eq!(&file.bytes[..], b"RIFF....");
    }

    #[tokio::test]
    async fn refuses_other_types_missing_boundaries_broken_bodies_and_large_ones() {
        let error = read_upload(&headers("application/json"), Body::from("{}"), 100)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("multipart/form-data"), "{error}");
        let error = read_upload(&headers("multipart/form-data"), Body::from(BODY), 1 << 20)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("no boundary"), "{error}");
        let error = read_upload(
            &headers("multipart/form-data; boundary=XyZ"),
            Body::from("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end"),
            1 << 20,
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("could not be read"), "{error}");
        let error = read_upload(
            &headers("multipart/form-data; boundary=XyZ"),
            Body::from(BODY),
            10,
        )
        .await
        .unwrap_err();
        assert!(matches!(error, ApiError::PayloadTooLarge { limit: 10 }));
    }
}
