//! Strict validation of an OpenAI request body (or Realtime client event)
//! against a [`super::params`] description, stopping at the first problem and reporting it as OpenAI
//! does: unknown top-level arguments (chat completions and embeddings:
//! "Unrecognized request argument supplied"; the Responses API: "Unknown
//! parameter", like nested ones), unknown nested parameters, missing
//! required parameters, wrong types, unsupported values and out-of-range
//! numbers, each naming the parameter's path (`messages[0].role`).

use serde_json::{Map, Value};

use super::errors::ApiError;
use super::params::{Field, Ty};

fn body_object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object().ok_or_else(|| {
        ApiError::invalid(
            format!(
                "Invalid type for body: expected an object, but got {} instead.",
                got(body)
            ),
            None,
            Some("invalid_type"),
        )
    })
}

/// Checks `body` against the top-level `fields`, refusing unknown
/// top-level arguments as chat completions and embeddings do.
pub fn check(fields: &'static [Field], body: &Value) -> Result<(), ApiError> {
    let obj = body_object(body)?;
    let unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !fields.iter().any(|f| f.name == *k))
        .collect();
    match unknown.as_slice() {
        [] => {}
        [one] => {
            return Err(ApiError::invalid(
                format!("Unrecognized request argument supplied: {one}"),
                None,
                None,
            ));
        }
        many => {
            return Err(ApiError::invalid(
                format!(
                    "Unrecognized request arguments supplied: {}",
                    many.join(", ")
                ),
                None,
                None,
            ));
        }
    }
    members(fields, obj, "", None)
}

/// Checks `body` against the top-level `fields`, refusing an unknown
/// top-level parameter as the Responses API does: `Unknown parameter:
/// 'foo'.`, with `param` and code `unknown_parameter`.
pub fn check_parameters(fields: &'static [Field], body: &Value) -> Result<(), ApiError> {
    members(fields, body_object(body)?, "", None)
}

/// Checks a whole value against `ty`, reporting unknown members at the top
/// level as "Unknown parameter" too (Realtime's client events).
pub fn check_value(ty: &'static Ty, value_: &Value) -> Result<(), ApiError> {
    value(ty, value_, "")
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn got(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How OpenAI names a type in "expected ..." (bare: without the article).
fn noun(ty: &Ty, bare: bool) -> String {
    let (article, name) = match ty {
        Ty::Str | Ty::Lit(_) => ("a ", "string".to_owned()),
        Ty::Bool => ("a ", "boolean".to_owned()),
        Ty::Int { .. } => ("an ", "integer".to_owned()),
        Ty::Num { .. } => ("a ", "decimal".to_owned()),
        Ty::Arr { item, .. } => match item {
            Ty::Obj(_) | Ty::Tagged { .. } | Ty::Switch { .. } | Ty::AnyObj | Ty::Map(_) => {
                ("an ", "array of objects".to_owned())
            }
            Ty::Str | Ty::Lit(_) => ("an ", "array of strings".to_owned()),
            _ => ("an ", "array".to_owned()),
        },
        Ty::Obj(_) | Ty::Tagged { .. } | Ty::Switch { .. } | Ty::Map(_) | Ty::AnyObj => {
            ("an ", "object".to_owned())
        }
        Ty::Any => ("a ", "value".to_owned()),
        Ty::OneOf(alts) => (
            "",
            format!(
                "one of {}",
                alts.iter()
                    .enumerate()
                    .map(|(i, a)| noun(a, i > 0))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ),
        Ty::Null(inner) => return noun(inner, bare),
    };
    if bare {
        name
    } else {
        format!("{article}{name}")
    }
}

fn invalid_type(path: &str, ty: &Ty, v: &Value) -> ApiError {
    ApiError::invalid(
        format!(
            "Invalid type for '{path}': expected {}, but got {} instead.",
            noun(ty, false),
            got(v)
        ),
        Some(path),
        Some("invalid_type"),
    )
}

fn quoted_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

/// `Invalid value: 'x'. Supported values are: 'a', 'b', and 'c'.`
pub fn invalid_value(path: &str, value: &str, supported: &[&str]) -> ApiError {
    ApiError::invalid(
        format!(
            "Invalid value: '{value}'. Supported values are: {}.",
            quoted_list(supported)
        ),
        Some(path),
        Some("invalid_value"),
    )
}

/// Checks an object's members; `tag` is a discriminator already checked.
fn members(
    fields: &'static [Field],
    obj: &Map<String, Value>,
    path: &str,
    tag: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(k) = obj
        .keys()
        .find(|k| Some(k.as_str()) != tag && !fields.iter().any(|f| f.name == k.as_str()))
    {
        let p = join(path, k);
        return Err(ApiError::invalid(
            format!("Unknown parameter: '{p}'."),
            Some(&p),
            Some("unknown_parameter"),
        ));
    }
    for field in fields {
        let p = join(path, field.name);
        match obj.get(field.name) {
            None => {
                if field.required {
                    return Err(missing(&p));
                }
            }
            Some(Value::Null) if !field.required => {}
            Some(v) => value(&field.ty, v, &p)?,
        }
    }
    Ok(())
}

fn missing(path: &str) -> ApiError {
    ApiError::invalid(
        format!("Missing required parameter: '{path}'."),
        Some(path),
        Some("missing_required_parameter"),
    )
}

fn bound_error(path: &str, what: &str, above: bool, limit: String, v: &Value) -> ApiError {
    let (dir, cmp, code) = match (what, above) {
        ("decimal", true) => ("above maximum", "<=", "decimal_above_max_value"),
        ("decimal", false) => ("below minimum", ">=", "decimal_below_min_value"),
        (_, true) => ("above maximum", "<=", "integer_above_max_value"),
        (_, false) => ("below minimum", ">=", "integer_below_min_value"),
    };
    ApiError::invalid(
        format!(
            "Invalid '{path}': {what} {dir} value. Expected a value {cmp} {limit}, but got {v} instead."
        ),
        Some(path),
        Some(code),
    )
}

fn value(ty: &'static Ty, v: &Value, path: &str) -> Result<(), ApiError> {
    match (ty, v) {
        (Ty::Null(_), Value::Null) | (Ty::Any, _) => Ok(()),
        (Ty::Null(inner), _) => value(inner, v, path),
        (Ty::Str, Value::String(_))
        | (Ty::Bool, Value::Bool(_))
        | (Ty::AnyObj, Value::Object(_)) => Ok(()),
        (Ty::Int { min, max }, Value::Number(n)) => {
            let Some(i) = n.as_i64() else {
                return if n.is_u64() {
                    Err(bound_error(
                        path,
                        "integer",
                        true,
                        max.map_or(i64::MAX.to_string(), |m| m.to_string()),
                        v,
                    ))
                } else {
                    Err(invalid_type(path, ty, v))
                };
            };
            if let Some(m) = min.filter(|m| i < *m) {
                return Err(bound_error(path, "integer", false, m.to_string(), v));
            }
            if let Some(m) = max.filter(|m| i > *m) {
                return Err(bound_error(path, "integer", true, m.to_string(), v));
            }
            Ok(())
        }
        (Ty::Num { min, max }, Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(0.0);
            if let Some(m) = min.filter(|m| f < *m) {
                return Err(bound_error(path, "decimal", false, m.to_string(), v));
            }
            if let Some(m) = max.filter(|m| f > *m) {
                return Err(bound_error(path, "decimal", true, m.to_string(), v));
            }
            Ok(())
        }
        (Ty::Lit(values), Value::String(s)) => {
            if values.contains(&s.as_str()) {
                Ok(())
            } else {
                Err(invalid_value(path, s, values))
            }
        }
        (Ty::Arr { item, min, max }, Value::Array(items)) => {
            if items.len() < *min {
                return Err(if items.is_empty() {
                    ApiError::invalid(
                        format!(
                            "Invalid '{path}': empty array. Expected an array with minimum length {min}, but got an empty array instead."
                        ),
                        Some(path),
                        Some("empty_array"),
                    )
                } else {
                    ApiError::invalid(
                        format!(
                            "Invalid '{path}': array too short. Expected an array with minimum length {min}, but got an array with length {} instead.",
                            items.len()
                        ),
                        Some(path),
                        Some("array_below_min_length"),
                    )
                });
            }
            if let Some(max) = max.filter(|m| items.len() > *m) {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid '{path}': array too long. Expected an array with maximum length {max}, but got an array with length {} instead.",
                        items.len()
                    ),
                    Some(path),
                    Some("array_above_max_length"),
                ));
            }
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, item_v)| value(item, item_v, &format!("{path}[{i}]")))
        }
        (Ty::Obj(fields), Value::Object(obj)) => members(fields, obj, path, None),
        (Ty::Tagged { tag, variants }, Value::Object(obj)) => {
            let tag_path = join(path, tag);
            let Some(tag_value) = obj.get(*tag) else {
                return Err(missing(&tag_path));
            };
            let Value::String(name) = tag_value else {
                return Err(invalid_type(&tag_path, &Ty::Str, tag_value));
            };
            let Some((_, fields)) = variants.iter().find(|(n, _)| n == name) else {
                let supported: Vec<&str> = variants.iter().map(|(n, _)| *n).collect();
                return Err(invalid_value(&tag_path, name, &supported));
            };
            members(fields, obj, path, Some(tag))
        }
        (
            Ty::Switch {
                tag,
                default,
                variants,
            },
            Value::Object(obj),
        ) => {
            let name = match obj.get(*tag) {
                None => *default,
                Some(Value::String(name)) => name.as_str(),
                Some(other) => return Err(invalid_type(&join(path, tag), &Ty::Str, other)),
            };
            match variants.iter().find(|(n, _)| *n == name) {
                Some((_, variant)) => value(variant, v, path),
                None => {
                    let supported: Vec<&str> = variants.iter().map(|(n, _)| *n).collect();
                    Err(invalid_value(&join(path, tag), name, &supported))
                }
            }
        }
        (Ty::Map(inner), Value::Object(obj)) => obj
            .iter()
            .try_for_each(|(k, item)| value(inner, item, &format!("{path}.{k}"))),
        (Ty::OneOf(alts), _) => match alts.iter().find(|a| accepts_json_type(a, v)) {
            Some(alt) => value(alt, v, path),
            None => Err(invalid_type(path, ty, v)),
        },
        _ => Err(invalid_type(path, ty, v)),
    }
}

/// Whether a value's JSON type fits `ty` (deciding `OneOf` alternatives).
fn accepts_json_type(ty: &Ty, v: &Value) -> bool {
    match ty {
        Ty::Str | Ty::Lit(_) => v.is_string(),
        Ty::Bool => v.is_boolean(),
        Ty::Int { .. } => v.is_i64() || v.is_u64(),
        Ty::Num { .. } => v.is_number(),
        Ty::Arr { .. } => v.is_array(),
        Ty::Obj(_) | Ty::Tagged { .. } | Ty::Switch { .. } | Ty::Map(_) | Ty::AnyObj => {
            v.is_object()
        }
        Ty::Any => true,
        Ty::OneOf(alts) => alts.iter().any(|a| accepts_json_type(a, v)),
        Ty::Null(inner) => v.is_null() || accepts_json_type(inner, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::params::CHAT_COMPLETION;
    use serde_json::json;

    fn err(body: Value) -> (String, Option<String>, Option<&'static str>) {
        let e = check(CHAT_COMPLETION, &body).unwrap_err();
        (e.message, e.param, e.code)
    }

    fn ok(extra: Value) {
        let mut body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        check(CHAT_COMPLETION, &body).unwrap();
    }

    #[test]
    fn accepts_what_the_sdk_sends() {
        ok(json!({}));
        ok(json!({
            "temperature": 0.5, "top_p": 1, "max_tokens": 5, "max_completion_tokens": 5, "stop": ["a"], "n": 2,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": true}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}}, "parallel_tool_calls": false,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": true}},
            "seed": 1, "user": "u", "metadata": {"a": "b"}, "stream": true, "stream_options": {"include_usage": true},
            "logprobs": true, "top_logprobs": 2, "modalities": ["text"], "reasoning_effort": "low", "service_tier": null,
            "messages": [
                {"role": "developer", "content": "d"},
                {"role": "user", "content": [{"type": "text", "text": "t"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA==", "detail": "low"}}, {"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "r"}
            ]
        }));
    }

    #[test]
    fn reports_like_openai() {
        assert_eq!(
            err(json!({"model": "m", "messages": [], "foo": 1})).0,
            "Unrecognized request argument supplied: foo"
        );
        assert_eq!(
            err(json!({"model": "m"})),
            (
                "Missing required parameter: 'messages'.".into(),
                Some("messages".into()),
                Some("missing_required_parameter")
            )
        );
        assert_eq!(
            err(json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]})),
            (
                "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.".into(),
                Some("messages[0].role".into()),
                Some("invalid_value")
            )
        );
        assert_eq!(
            err(
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"})
            ),
            (
                "Invalid type for 'temperature': expected a decimal, but got a string instead."
                    .into(),
                Some("temperature".into()),
                Some("invalid_type")
            )
        );
        assert_eq!(
            err(json!({"model": "m", "messages": [{"role": "user", "content": 5}]})).0,
            "Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer instead."
        );
        assert_eq!(
            err(json!({"model": "m", "messages": [{"role": "user", "content": "x", "foo": 1}]})),
            (
                "Unknown parameter: 'messages[0].foo'.".into(),
                Some("messages[0].foo".into()),
                Some("unknown_parameter")
            )
        );
        assert_eq!(
            err(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3})).0,
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead."
        );
        assert_eq!(
            err(json!({"model": "m", "messages": []})).2,
            Some("empty_array")
        );
        assert_eq!(
            err(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 1.5})).2,
            Some("invalid_type")
        );
        assert_eq!(err(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 99999999999999999999u128 as f64})).2, Some("invalid_type"));
        assert_eq!(err(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]})).2, Some("array_above_max_length"));
        assert_eq!(
            err(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}]})).1,
            Some("messages[0].content[0].type".into())
        );
        assert_eq!(err(json!([])).2, Some("invalid_type"));
    }
}
