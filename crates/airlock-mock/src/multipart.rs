//! Reading a `multipart/form-data` request body (OpenAI's image edits and
//! transcriptions) into its fields, with the `multer` crate, under a size
//! limit. What a failure is called is each provider's business: this
//! module only says which failure it was ([`FormError`]).

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, header};
use serde_json::{Map, Value, json};

/// One field of a form: a text value or an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The file name a file field declares (`filename="…"`).
    pub file_name: Option<String>,
    /// The content type a field declares (never trusted for what it is).
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

impl Field {
    /// Whether the field is an uploaded file rather than a text value.
    pub fn is_file(&self) -> bool {
        self.file_name.is_some()
    }
}

/// Why a body could not be read as a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// The request's `Content-Type` is not `multipart/form-data` (it is
    /// this one, or none).
    NotMultipart(Option<String>),
    /// A `multipart/form-data` type without a `boundary` parameter.
    NoBoundary,
    /// The body is larger than the limit.
    TooLarge { limit: u64 },
    /// The body is not a well-formed form (the parser's words).
    Malformed(String),
    /// The connection failed while the body was read.
    Unreadable,
}

/// The request's declared content type, as sent.
pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// Reads every field of a `multipart/form-data` body of at most `limit`
/// bytes, in order. Fields without a name are skipped.
pub async fn read(headers: &HeaderMap, body: Body, limit: u64) -> Result<Vec<Field>, FormError> {
    let declared = content_type(headers);
    let is_form = declared.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/form-data"))
    });
    let Some(declared) = declared.filter(|_| is_form) else {
        return Err(FormError::NotMultipart(declared.map(str::to_owned)));
    };
    let boundary = multer::parse_boundary(declared).map_err(|_| FormError::NoBoundary)?;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limit)
            .per_field(limit),
    );
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut fields = Vec::new();
    while let Some(field) = form.next_field().await.map_err(failure)? {
        let name = field.name().map(str::to_owned);
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let bytes = field.bytes().await.map_err(failure)?;
        if let Some(name) = name {
            fields.push(Field {
                name,
                file_name,
                content_type,
                bytes,
            });
        }
    }
    Ok(fields)
}

fn failure(e: multer::Error) -> FormError {
    match e {
        multer::Error::StreamSizeExceeded { limit }
        | multer::Error::FieldSizeExceeded { limit, .. } => FormError::TooLarge { limit },
        multer::Error::StreamReadFailed(_) => FormError::Unreadable,
        other => FormError::Malformed(other.to_string()),
    }
}

/// A JSON picture of a form for request inspection: each text field's
/// value, each file as `{"filename", "content_type", "bytes": size}`; a
/// name sent more than once holds an array.
pub fn summary(fields: &[Field]) -> Value {
    let mut out = Map::new();
    for f in fields {
        let value = if f.is_file() {
            json!({ "filename": f.file_name, "content_type": f.content_type, "bytes": f.bytes.len() })
        } else {
            Value::String(String::from_utf8_lossy(&f.bytes).into_owned())
        };
        match out.get_mut(&f.name) {
            // Values are strings or objects, so an array is a repeated name.
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                out.insert(f.name.clone(), value);
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        h
    }

    const FORM: &str = "--XX\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na cat\r\n\
        --XX\r\nContent-Disposition: form-data; name=\"image[]\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n\
        --XX\r\nContent-Disposition: form-data; name=\"image[]\"; filename=\"b.png\"\r\n\r\nMORE\r\n--XX--\r\n";

    #[tokio::test]
    async fn reads_text_and_file_fields_in_order() {
        let fields = read(
            &headers("multipart/form-data; boundary=XX"),
            Body::from(FORM),
            1024,
        )
        .await
        .unwrap();
        assert_eq!(fields.len(), 3);
        assert_eq!(
            (fields[0].name.as_str(), fields[0].is_file()),
            ("prompt", false)
        );
        assert_eq!(fields[0].bytes, "a cat");
        assert_eq!(fields[1].file_name.as_deref(), Some("a.png"));
        assert_eq!(fields[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(fields[1].bytes, "PNGDATA");
        assert_eq!(fields[2].content_type, None);
        assert_eq!(
            summary(&fields),
            json!({
                "prompt": "a cat",
                "image[]": [
                    {"filename": "a.png", "content_type": "image/png", "bytes": 7},
                    {"filename": "b.png", "content_type": null, "bytes": 4}
                ]
            })
        );
    }

    #[tokio::test]
    async fn refuses_what_is_not_a_form() {
        let json = read(&headers("application/json"), Body::from("{}"), 1024).await;
        assert_eq!(
            json,
            Err(FormError::NotMultipart(Some("application/json".into())))
        );
        let none = read(&HeaderMap::new(), Body::from("x"), 1024).await;
        assert_eq!(none, Err(FormError::NotMultipart(None)));
        let unbounded = read(&headers("multipart/form-data"), Body::from(FORM), 1024).await;
        assert_eq!(unbounded, Err(FormError::NoBoundary));
        let cut = read(
            &headers("multipart/form-data; boundary=XX"),
            Body::from(&FORM[..60]),
            1024,
        )
        .await;
        assert!(matches!(cut, Err(FormError::Malformed(_))), "{cut:?}");
    }

    #[tokio::test]
    async fn stops_at_the_limit() {
        let big = read(
            &headers("multipart/form-data; boundary=XX"),
            Body::from(FORM),
            100,
        )
        .await;
        assert_eq!(big, Err(FormError::TooLarge { limit: 100 }));
    }
}
