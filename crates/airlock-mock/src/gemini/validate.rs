//! Proto3-JSON parsing of a request body against a [`super::proto`] description, as
//! Google's front end does it: fields are accepted under their lowerCamelCase
//! or snake_case names at every depth, `null` means "not set", a single value
//! is accepted where a list is expected, numbers may come as strings, and
//! enums as names or numbers. Unknown fields and wrongly typed values are
//! reported in Google's words, all of them at once. The result is the body
//! normalised to lowerCamelCase names, enum names and JSON numbers, so later
//! stages read one spelling only.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::errors::Violation;
use super::proto::{EnumType, Field, Kind, Message};
use crate::casing::{camel_to_snake, names_field};

/// Parses `body` as `message`; on failure, every violation found.
pub fn parse(
    message: &'static Message,
    body: Value,
    version: &str,
) -> Result<Value, Vec<Violation>> {
    let mut walk = Walk {
        version,
        violations: Vec::new(),
    };
    let out = match body {
        Value::Object(obj) => walk.message(message, obj, ""),
        _ => {
            walk.violations.push(Violation {
                field: None,
                description: "Invalid JSON payload received. Unknown name \"\": Root element must be a message."
                    .to_owned(),
            });
            Value::Null
        }
    };
    if walk.violations.is_empty() {
        Ok(out)
    } else {
        Err(walk.violations)
    }
}

struct Walk<'v> {
    version: &'v str,
    violations: Vec<Violation>,
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

const LENIENT_PAD: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_ANY_PAD: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT_PAD);
const URL_SAFE_ANY_PAD: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT_PAD);

/// Proto `bytes` as JSON carries them: standard or URL-safe base64,
/// padding optional.
pub fn decode_bytes(text: &str) -> Option<Vec<u8>> {
    STANDARD_ANY_PAD
        .decode(text)
        .or_else(|_| URL_SAFE_ANY_PAD.decode(text))
        .ok()
}

fn is_base64(text: &str) -> bool {
    decode_bytes(text).is_some()
}

fn is_duration(text: &str) -> bool {
    let Some(number) = text.strip_suffix('s') else {
        return false;
    };
    let number = number.strip_prefix('-').unwrap_or(number);
    let (whole, frac) = number.split_once('.').unwrap_or((number, "0"));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.len() <= 9
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && (text.ends_with('Z') || b[19..].iter().any(|c| matches!(c, b'+' | b'-')))
}

impl Walk<'_> {
    fn type_url(&self, name: &str) -> String {
        format!(
            "type.googleapis.com/google.ai.generativelanguage.{}.{name}",
            self.version
        )
    }

    fn invalid(&mut self, path: &str, type_name: &str, value: &Value) {
        self.violations.push(Violation {
            field: Some(path.to_owned()),
            description: format!("Invalid value at '{path}' ({type_name}), {value}"),
        });
    }

    fn unknown(&mut self, path: &str, key: &str, reason: &str) {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at '{path}'")
        };
        self.violations.push(Violation {
            field: (!path.is_empty()).then(|| path.to_owned()),
            description: format!(
                "Invalid JSON payload received. Unknown name \"{key}\"{at}: {reason}"
            ),
        });
    }

    fn message(&mut self, message: &'static Message, obj: Map<String, Value>, path: &str) -> Value {
        let mut out = Map::new();
        for (key, value) in obj {
            let Some(field) = message.fields.iter().find(|f| names_field(&key, f.json)) else {
                self.unknown(path, &key, "Cannot find field.");
                continue;
            };
            if let Some(v) = self.field(field, &key, value, path) {
                out.insert(field.json.to_owned(), v);
            }
        }
        Value::Object(out)
    }

    fn field(
        &mut self,
        field: &'static Field,
        key: &str,
        value: Value,
        parent: &str,
    ) -> Option<Value> {
        let path = join(parent, &camel_to_snake(field.json));
        if value.is_null() && !matches!(field.kind, Kind::Value) {
            return None;
        }
        if field.repeated {
            let items = match value {
                Value::Array(items) => items,
                single => vec![single],
            };
            let out = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| self.single(&field.kind, item, &format!("{path}[{i}]")))
                .collect();
            return Some(Value::Array(out));
        }
        if value.is_array() && !matches!(field.kind, Kind::Value) {
            self.unknown(
                parent,
                key,
                "Proto field is not repeating, cannot start list.",
            );
            return None;
        }
        Some(self.single(&field.kind, value, &path))
    }

    fn single(&mut self, kind: &'static Kind, value: Value, path: &str) -> Value {
        match kind {
            Kind::String => self.scalar(value, path, "TYPE_STRING", |v| {
                v.is_string().then(|| v.clone())
            }),
            Kind::Bool => self.scalar(value, path, "TYPE_BOOL", |v| {
                v.is_boolean().then(|| v.clone())
            }),
            Kind::Int32 => self.scalar(value, path, "TYPE_INT32", |v| {
                integer(v)
                    .filter(|n| i32::try_from(*n).is_ok())
                    .map(Value::from)
            }),
            Kind::Int64 => self.scalar(value, path, "TYPE_INT64", |v| integer(v).map(Value::from)),
            Kind::Float => self.scalar(value, path, "TYPE_FLOAT", float),
            Kind::Bytes => match value {
                Value::String(s) if is_base64(&s) => Value::String(s),
                Value::String(s) => {
                    self.violations.push(Violation {
                        field: Some(path.to_owned()),
                        description: format!("Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for \"{s}\""),
                    });
                    Value::Null
                }
                other => {
                    self.invalid(path, "TYPE_BYTES", &other);
                    Value::Null
                }
            },
            Kind::Duration => self.scalar(
                value,
                path,
                "type.googleapis.com/google.protobuf.Duration",
                |v| v.as_str().filter(|s| is_duration(s)).map(|_| v.clone()),
            ),
            Kind::Timestamp => self.scalar(
                value,
                path,
                "type.googleapis.com/google.protobuf.Timestamp",
                |v| v.as_str().filter(|s| is_timestamp(s)).map(|_| v.clone()),
            ),
            Kind::Enum(e) => {
                let url = self.type_url(e.name);
                self.scalar(value, path, &url, |v| enum_value(e, v))
            }
            Kind::Message(m) => match value {
                Value::Object(obj) => self.message(m, obj, path),
                other => {
                    let url = self.type_url(m.name);
                    self.invalid(path, &url, &other);
                    Value::Null
                }
            },
            Kind::Map(inner) => match value {
                Value::Object(obj) => Value::Object(
                    obj.into_iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| {
                            let v = self.single(inner, v, &format!("{path}[{k}]"));
                            (k, v)
                        })
                        .collect(),
                ),
                other => {
                    self.invalid(path, "map", &other);
                    Value::Null
                }
            },
            Kind::Value => value,
            Kind::Struct => match value {
                v @ Value::Object(_) => v,
                other => {
                    self.invalid(path, "type.googleapis.com/google.protobuf.Struct", &other);
                    Value::Null
                }
            },
        }
    }

    fn scalar(
        &mut self,
        value: Value,
        path: &str,
        type_name: &str,
        accept: impl Fn(&Value) -> Option<Value>,
    ) -> Value {
        match accept(&value) {
            Some(v) => v,
            None => {
                self.invalid(path, type_name, &value);
                Value::Null
            }
        }
    }
}

/// An integral JSON number, or a string holding one.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float(v: &Value) -> Option<Value> {
    match v {
        Value::Number(_) => Some(v.clone()),
        Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {
            Some(v.clone())
        }
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        _ => None,
    }
}

fn enum_value(e: &EnumType, v: &Value) -> Option<Value> {
    let name = match v {
        Value::String(s) => e
            .values
            .iter()
            .find(|name| **name == s.as_str() || (e.any_case && name.eq_ignore_ascii_case(s))),
        Value::Number(n) => n
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| e.values.get(i)),
        _ => None,
    }?;
    Some(Value::String((*name).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::proto::GENERATE_CONTENT_REQUEST;
    use serde_json::json;

    fn parse_req(body: Value) -> Result<Value, Vec<String>> {
        parse(&GENERATE_CONTENT_REQUEST, body, "v1beta")
            .map_err(|v| v.into_iter().map(|v| v.description).collect())
    }

    #[test]
    fn snake_and_camel_normalise_to_camel_at_every_depth() {
        let snake = parse_req(json!({
            "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "YWJj"}}]}],
            "generation_config": {"max_output_tokens": "12", "response_schema": {"type": "object", "property_ordering": ["a"], "properties": {"a": {"type": "string", "max_length": 3}}}},
            "system_instruction": {"parts": {"text": "be brief"}},
            "tools": [{"function_declarations": [{"name": "f", "parameters_json_schema": {"type": "object", "weird_key": 1}}]}],
            "tool_config": {"function_calling_config": {"mode": 2, "allowed_function_names": ["f"]}},
            "safety_settings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
            "labels": {"team": "a"},
            "cached_content": null
        }))
        .unwrap();
        assert_eq!(
            snake["contents"][0]["parts"][0]["inlineData"]["mimeType"],
            "image/png"
        );
        assert_eq!(snake["generationConfig"]["maxOutputTokens"], 12);
        assert_eq!(
            snake["generationConfig"]["responseSchema"]["type"],
            "OBJECT"
        );
        assert_eq!(
            snake["generationConfig"]["responseSchema"]["properties"]["a"]["maxLength"],
            3
        );
        assert_eq!(snake["systemInstruction"]["parts"][0]["text"], "be brief");
        assert_eq!(snake["toolConfig"]["functionCallingConfig"]["mode"], "ANY");
        assert_eq!(
            snake["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["weird_key"],
            1
        );
        assert!(snake.get("cachedContent").is_none());
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let errs = parse_req(json!({"foo": 1, "generationConfig": {"bar": 2}, "contents": [{"parts": [{"txt": "x"}]}]})).unwrap_err();
        assert_eq!(
            errs,
            [
                "Invalid JSON payload received. Unknown name \"foo\": Cannot find field.",
                "Invalid JSON payload received. Unknown name \"bar\" at 'generation_config': Cannot find field.",
                "Invalid JSON payload received. Unknown name \"txt\" at 'contents[0].parts[0]': Cannot find field.",
            ]
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        let errs = parse_req(json!({
            "contents": ["hi"],
            "generationConfig": {"temperature": "hot", "maxOutputTokens": 1.5, "candidateCount": 99999999999u64, "responseModalities": ["SMELL"], "topK": [1]},
            "systemInstruction": {"parts": [{"inlineData": {"data": "!!"}}]}
        }))
        .unwrap_err();
        assert_eq!(
            errs,
            [
                "Invalid value at 'contents[0]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), \"hi\"",
                "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\"",
                "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), 1.5",
                "Invalid value at 'generation_config.candidate_count' (TYPE_INT32), 99999999999",
                "Invalid value at 'generation_config.response_modalities[0]' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality), \"SMELL\"",
                "Invalid JSON payload received. Unknown name \"topK\" at 'generation_config': Proto field is not repeating, cannot start list.",
                "Invalid value at 'system_instruction.parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"!!\"",
            ]
        );
    }

    #[test]
    fn root_must_be_an_object() {
        assert_eq!(
            parse_req(json!([1])).unwrap_err(),
            ["Invalid JSON payload received. Unknown name \"\": Root element must be a message."]
        );
    }

    #[test]
    fn scalar_forms() {
        assert!(
            is_duration("1.5s") && is_duration("-3s") && !is_duration("1.s") && !is_duration("s")
        );
        assert!(
            is_timestamp("2024-01-01T00:00:00Z") && is_timestamp("2024-01-01T00:00:00.5+02:00")
        );
        assert!(!is_timestamp("2024-01-01"));
        assert!(!is_timestamp("2024-01-01T00:00:0éé"));
        assert!(is_base64("YWJj") && is_base64("YWI=") && is_base64("YWI") && is_base64("-_-_"));
    }
}
