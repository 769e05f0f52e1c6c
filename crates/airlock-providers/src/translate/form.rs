//! OpenAI's multipart requests (image edits, transcriptions) as the
//! translations read them: the files, sniffed, and the text fields turned
//! into the JSON object a JSON request would have been, so that one set of
//! checks (and OpenAI's wording of their errors) serves both.
//!
//! Multipart values are text: the openai SDK sends `n` as `"1"`, `stream`
//! as `"false"`, and a list as repeated `name[]` fields. Each field is
//! read by the [`Kind`] the operation gives its name: integers, numbers
//! and booleans parsed (a value that does not parse is OpenAI's "Invalid
//! type" error), lists gathered, a scalar sent twice read as its last
//! value. A name the operation does not know is OpenAI's "Unrecognized
//! request argument"; a nested name (`svg[model]`) counts as its outer
//! name.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Number, Value, json};

use super::params::TranslateError;

/// A file of a multipart form: its bytes and the MIME type sniffed from
/// them ([`crate::media`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FormFile {
    pub bytes: Bytes,
    pub mime: &'static str,
}

impl FormFile {
    /// The file as a Gemini `inlineData` part of MIME type `mime`.
    pub(crate) fn inline_part(&self, mime: &str) -> Value {
        json!({"inlineData": {"mimeType": mime, "data": STANDARD.encode(&self.bytes)}})
    }
}

/// How a text field's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    /// Repeated `name[]` (or `name`) fields, gathered in order.
    List,
}

/// The text `fields` as a JSON object, each read by its kind in `known`.
pub(crate) fn json_of(
    fields: &[(String, String)],
    known: &[(&str, Kind)],
) -> Result<Value, TranslateError> {
    let mut object = Map::new();
    for (name, value) in fields {
        let base = name.split('[').next().unwrap_or(name);
        let Some(&(key, kind)) = known.iter().find(|(key, _)| *key == base) else {
            return Err(TranslateError::unrecognized(name));
        };
        let text = || Value::String(value.clone());
        let read = match kind {
            Kind::Text => text(),
            Kind::Integer => value
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| TranslateError::invalid_type(key, "an integer", &text()))?,
            Kind::Number => value
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| TranslateError::invalid_type(key, "a number", &text()))?,
            Kind::Boolean => match value.trim().to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(TranslateError::invalid_type(key, "a boolean", &text())),
            },
            Kind::List => {
                let list = object
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(text());
                }
                continue;
            }
        };
        object.insert(key.to_owned(), read);
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KNOWN: [(&str, Kind); 6] = [
        ("prompt", Kind::Text),
        ("n", Kind::Integer),
        ("temperature", Kind::Number),
        ("stream", Kind::Boolean),
        ("timestamp_granularities", Kind::List),
        ("svg", Kind::Text),
    ];

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_are_read_by_kind() {
        let form = fields(&[
            ("prompt", "a cat"),
            ("n", " 2 "),
            ("temperature", "0.5"),
            ("stream", "False"),
            ("timestamp_granularities[]", "segment"),
            ("timestamp_granularities[]", "word"),
            ("svg[model]", "x"),
        ]);
        assert_eq!(
            json_of(&form, &KNOWN).unwrap(),
            json!({
                "prompt": "a cat", "n": 2, "temperature": 0.5, "stream": false,
                "timestamp_granularities": ["segment", "word"], "svg": "x"
            })
        );
    }

    #[test]
    fn a_list_may_be_sent_without_brackets_and_a_scalar_twice_keeps_the_last() {
        let form = fields(&[
            ("timestamp_granularities", "segment"),
            ("n", "1"),
            ("n", "3"),
        ]);
        assert_eq!(
            json_of(&form, &KNOWN).unwrap(),
            json!({"timestamp_granularities": ["segment"], "n": 3})
        );
    }

    #[test]
    fn values_that_do_not_parse_are_type_errors() {
        let cases = [
            (
                ("n", "two"),
                "Invalid type for 'n': expected an integer, but got a string instead.",
            ),
            (
                ("temperature", "warm"),
                "Invalid type for 'temperature': expected a number, but got a string instead.",
            ),
            (
                ("temperature", "NaN"),
                "Invalid type for 'temperature': expected a number, but got a string instead.",
            ),
            (
                ("stream", "yes"),
                "Invalid type for 'stream': expected a boolean, but got a string instead.",
            ),
        ];
        for ((name, value), message) in cases {
            let err = json_of(&fields(&[(name, value)]), &KNOWN).unwrap_err();
            assert_eq!(err.message, message);
            assert_eq!(err.param.as_deref(), Some(name));
        }
    }

    #[test]
    fn unknown_names_are_unrecognized() {
        let err = json_of(&fields(&[("colour", "red")]), &KNOWN).unwrap_err();
        assert_eq!(
            err.message,
            "Unrecognized request argument supplied: colour"
        );
        let err = json_of(&fields(&[("extra[0]", "x")]), &KNOWN).unwrap_err();
        assert_eq!(
            err.message,
            "Unrecognized request argument supplied: extra[0]"
        );
    }
}
