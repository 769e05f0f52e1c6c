//! The bodies of OpenAI's upload endpoints (image edits, transcriptions):
//! a `multipart/form-data` form read into the JSON object the validator
//! checks, and its files.
//!
//! Text fields are typed by the endpoint's parameter description, as the
//! API reads them: `n=2` is an integer, `stream=true` a boolean, `0.5` a
//! decimal; a name ending `[]` (`include[]`) adds to an array, and
//! `chunking_strategy[type]` sets a member of an object. A value that does
//! not parse as its type stays a string, for the validator to refuse by
//! name. Files stand in the object as their file name, under their name
//! without `[]` (`image[]` is `image`).

use axum::body::Body;
use bytes::Bytes;
use serde_json::{Map, Number, Value};

use super::errors;
use super::params::{Field as Param, Ty};
use crate::delivery::Payload;
use crate::multipart::{self, FormError};
use crate::routes::Call;

/// A file of the form.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The field's name without `[]`.
    pub name: String,
    pub bytes: Bytes,
}

/// A form read for validation.
#[derive(Debug)]
pub struct Form {
    /// The text fields (and files, as their names), typed.
    pub body: Value,
    pub files: Vec<Upload>,
}

impl Form {
    /// The files sent under `name` (with or without `[]`), in order.
    pub fn files(&self, name: &str) -> Vec<&Upload> {
        self.files.iter().filter(|f| f.name == name).collect()
    }
}

/// Reads the form of at most `limit` bytes, remembering a summary of it for
/// inspection; a body that is not a form is OpenAI's 400 (or 413).
pub async fn read(
    call: &Call<'_>,
    body: Body,
    spec: &'static [Param],
    limit: u64,
) -> Result<Form, Payload> {
    let fields = match multipart::read(&call.parts.headers, body, limit).await {
        Ok(f) => f,
        Err(FormError::NotMultipart(declared)) => {
            return Err(errors::unsupported_content_type(declared.as_deref()));
        }
        Err(FormError::NoBoundary) => {
            return Err(errors::malformed_form(
                "the Content-Type header has no boundary.",
            ));
        }
        Err(FormError::TooLarge { limit }) => return Err(errors::content_too_large(limit)),
        Err(FormError::Malformed(reason)) => return Err(errors::malformed_form(&reason)),
        Err(FormError::Unreadable) => return Err(errors::unparsable_body()),
    };
    let summary = serde_json::to_vec(&multipart::summary(&fields)).unwrap_or_default();
    call.server
        .inspection()
        .record(&call.parts.method, call.parts.uri.path(), &summary.into());
    let mut body = Map::new();
    let mut files = Vec::new();
    for field in fields {
        let path = split_name(&field.name);
        if let Some(file_name) = field.file_name {
            let name = path.first().copied().unwrap_or_default().to_owned();
            body.insert(name.clone(), Value::String(file_name));
            files.push(Upload {
                name,
                bytes: field.bytes,
            });
        } else {
            let text = String::from_utf8_lossy(&field.bytes).into_owned();
            place(&mut body, &path, spec_ty(spec, &path), text);
        }
    }
    Ok(Form {
        body: Value::Object(body),
        files,
    })
}

/// `a[b][]` → `["a", "b", ""]` (an empty segment appends to an array).
fn split_name(name: &str) -> Vec<&str> {
    let (head, mut rest) = name.split_once('[').map_or((name, ""), |(h, r)| (h, r));
    let mut path = vec![head];
    while let Some((segment, after)) = rest.split_once(']') {
        path.push(segment);
        rest = after.strip_prefix('[').unwrap_or(after);
    }
    path
}

/// The declared type at `path`, if the description has one.
fn spec_ty(spec: &'static [Param], path: &[&str]) -> Option<&'static Ty> {
    let (first, rest) = path.split_first()?;
    let ty = &spec.iter().find(|p| p.name == *first)?.ty;
    rest.iter().try_fold(ty, |ty, segment| child(ty, segment))
}

fn child(ty: &'static Ty, segment: &str) -> Option<&'static Ty> {
    match ty {
        Ty::Null(inner) => child(inner, segment),
        Ty::Arr { item, .. } if segment.is_empty() => Some(item),
        Ty::Obj(fields) => fields.iter().find(|f| f.name == segment).map(|f| &f.ty),
        Ty::OneOf(alts) => alts.iter().find_map(|alt| child(alt, segment)),
        _ => None,
    }
}

/// The value of a text field typed as `ty`, or the text itself.
fn typed(ty: Option<&Ty>, text: String) -> Value {
    match ty {
        Some(Ty::Null(inner)) => typed(Some(inner), text),
        Some(Ty::Int { .. }) => text
            .trim()
            .parse::<i64>()
            .map_or(Value::String(text), Value::from),
        Some(Ty::Num { .. }) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::String(text), Value::Number),
        Some(Ty::Bool) => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        Some(Ty::OneOf(alts)) => alts
            .iter()
            .map(|alt| typed(Some(alt), text.clone()))
            .find(|v| !v.is_string())
            .unwrap_or(Value::String(text)),
        _ => Value::String(text),
    }
}

/// Sets `path` in `body` to the typed text; a segment that names a member
/// already holding something else replaces it.
fn place(body: &mut Map<String, Value>, path: &[&str], ty: Option<&Ty>, text: String) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let mut slot = body.entry((*first).to_owned()).or_insert(Value::Null);
    for segment in rest {
        slot = if segment.is_empty() {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            match slot {
                Value::Array(items) => {
                    items.push(Value::Null);
                    match items.last_mut() {
                        Some(last) => last,
                        None => return,
                    }
                }
                _ => return,
            }
        } else {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            match slot {
                Value::Object(members) => {
                    members.entry((*segment).to_owned()).or_insert(Value::Null)
                }
                _ => return,
            }
        };
    }
    *slot = typed(ty, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::params::{arr, int, num, opt, req};
    use serde_json::json;

    static SPEC: &[Param] = &[
        req("model", Ty::Str),
        opt("n", int(Some(1), Some(10))),
        opt("temperature", num(0.0, 1.0)),
        opt("stream", Ty::Null(&Ty::Bool)),
        opt("include", arr(&Ty::Str)),
        opt("image", Ty::Any),
        opt(
            "chunking_strategy",
            Ty::OneOf(&[
                Ty::Str,
                Ty::Obj(&[req("type", Ty::Str), opt("threshold", num(0.0, 1.0))]),
            ]),
        ),
    ];

    fn build(fields: &[(&str, &str)]) -> Value {
        let mut body = Map::new();
        for (name, text) in fields {
            let path = split_name(name);
            place(&mut body, &path, spec_ty(SPEC, &path), (*text).to_owned());
        }
        Value::Object(body)
    }

    #[test]
    fn names_split_into_paths() {
        assert_eq!(split_name("n"), ["n"]);
        assert_eq!(split_name("include[]"), ["include", ""]);
        assert_eq!(split_name("a[b][]"), ["a", "b", ""]);
    }

    #[test]
    fn text_fields_take_their_declared_types() {
        assert_eq!(
            build(&[
                ("model", "whisper-1"),
                ("n", "2"),
                ("temperature", "0.5"),
                ("stream", "true"),
                ("include[]", "logprobs"),
                ("include[]", "other"),
                ("chunking_strategy[type]", "server_vad"),
                ("chunking_strategy[threshold]", "0.25"),
                ("foo", "7"),
            ]),
            json!({
                "model": "whisper-1", "n": 2, "temperature": 0.5, "stream": true,
                "include": ["logprobs", "other"],
                "chunking_strategy": {"type": "server_vad", "threshold": 0.25},
                "foo": "7"
            })
        );
    }

    #[test]
    fn unparsable_values_stay_strings() {
        assert_eq!(
            build(&[
                ("n", "two"),
                ("stream", "yes"),
                ("chunking_strategy", "auto")
            ]),
            json!({"n": "two", "stream": "yes", "chunking_strategy": "auto"})
        );
    }
}
