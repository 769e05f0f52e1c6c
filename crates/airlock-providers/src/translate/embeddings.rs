//! OpenAI `/v1/embeddings` ⇄ Gemini `batchEmbedContents`.
//!
//! Request: `input` (a string or an array of strings; token arrays have no
//! Gemini equivalent) becomes one request per text, `dimensions` becomes
//! `outputDimensionality`, `encoding_format` is remembered for the answer,
//! `model` is the caller's business and `user` is ignored.
//! Response: `embeddings[i].values` → `data[i].embedding`, as floats or, for
//! `encoding_format: "base64"` (what the openai SDK sends by default), as
//! base64 of little-endian f32s.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::params::{Params, TranslateError};

/// A translated embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct GeminiEmbeddingsRequest {
    /// The `batchEmbedContents` body.
    pub body: Value,
    /// Answer with base64 strings instead of float arrays.
    pub encoding_format_base64: bool,
}

const ARGUMENTS: [&str; 5] = ["input", "model", "encoding_format", "dimensions", "user"];

/// OpenAI /v1/embeddings request → Gemini batchEmbedContents body for
/// `upstream_model` (e.g. "gemini-embedding-001").
pub fn embeddings_request_to_gemini(
    openai: &Value,
    upstream_model: &str,
) -> Result<GeminiEmbeddingsRequest, TranslateError> {
    let request = match openai {
        Value::Object(_) => Params::of(openai, "")?,
        _ => {
            return Err(TranslateError::new(
                "The request body must be a JSON object.",
                None,
            ));
        }
    };
    if let Some(key) = request.keys().find(|k| !ARGUMENTS.contains(&k.as_str())) {
        return Err(TranslateError::unrecognized(key));
    }
    let texts = texts(request.required("input")?)?;
    let encoding_format_base64 = match request.string("encoding_format")? {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(TranslateError::invalid_value(
                "encoding_format",
                other,
                &["float", "base64"],
            ));
        }
    };
    let dimensions = request.integer("dimensions")?;
    if dimensions.is_some_and(|d| d < 1) {
        return Err(TranslateError::new(
            "Invalid value for 'dimensions': must be at least 1.",
            Some("dimensions"),
        ));
    }
    request.string("user")?;

    let model = if upstream_model.contains('/') {
        upstream_model.to_owned()
    } else {
        format!("models/{upstream_model}")
    };
    let requests: Vec<Value> = texts
        .into_iter()
        .map(|text| {
            let mut item = json!({"model": model, "content": {"parts": [{"text": text}]}});
            if let Some(dimensions) = dimensions {
                item["outputDimensionality"] = json!(dimensions);
            }
            item
        })
        .collect();
    Ok(GeminiEmbeddingsRequest {
        body: json!({"requests": requests}),
        encoding_format_base64,
    })
}

/// `input` → the texts to embed. Empty texts are rejected like OpenAI does.
fn texts(input: &Value) -> Result<Vec<&str>, TranslateError> {
    let items: Vec<&Value> = match input {
        Value::String(_) => vec![input],
        Value::Array(items) if items.is_empty() => {
            return Err(TranslateError::new(
                "Invalid value for 'input': must not be empty.",
                Some("input"),
            ));
        }
        Value::Array(items) => items.iter().collect(),
        other => {
            return Err(TranslateError::invalid_type(
                "input",
                "a string or an array of strings",
                other,
            ));
        }
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(text) if text.is_empty() => Err(TranslateError::new(
                "Invalid value for 'input': texts must not be empty.",
                Some("input"),
            )),
            Value::String(text) => Ok(text.as_str()),
            Value::Number(_) | Value::Array(_) => Err(TranslateError::new(
                "Token-array input is not supported with this model; send the text instead.",
                Some("input"),
            )),
            other => Err(TranslateError::invalid_type(
                "input",
                "a string or an array of strings",
                other,
            )),
        })
        .collect()
}

/// Gemini batchEmbedContents response → OpenAI embeddings list. `model` is
/// the name the client asked for; Gemini reports no token counts here, so the
/// caller supplies `prompt_tokens`.
pub fn gemini_embeddings_to_openai(
    gemini: &Value,
    model: &str,
    encoding_format_base64: bool,
    prompt_tokens: u64,
) -> Value {
    let embeddings = gemini["embeddings"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let data: Vec<Value> = embeddings
        .iter()
        .enumerate()
        .map(|(index, embedding)| {
            let values = embedding["values"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let embedding = if encoding_format_base64 {
                json!(base64_f32(values))
            } else {
                Value::Array(values.to_vec())
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    })
}

/// Base64 of the values as little-endian f32 (non-numbers count as 0).
fn base64_f32(values: &[Value]) -> String {
    let bytes: Vec<u8> = values
        .iter()
        // Narrowing to f32 is the point: it is OpenAI's base64 wire format.
        .flat_map(|v| (v.as_f64().unwrap_or(0.0) as f32).to_le_bytes())
        .collect();
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_string_request() {
        let request = embeddings_request_to_gemini(
            &json!({"model": "text-embedding-3-small", "input": "hello", "encoding_format": "base64", "user": "u"}),
            "gemini-embedding-001",
        )
        .unwrap();
        assert_eq!(
            request,
            GeminiEmbeddingsRequest {
                body: json!({"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "hello"}]}}]}),
                encoding_format_base64: true,
            }
        );
    }

    #[test]
    fn array_request_with_dimensions() {
        let request = embeddings_request_to_gemini(
            &json!({"model": "m", "input": ["a", "b"], "dimensions": 256, "encoding_format": "float"}),
            "models/gemini-embedding-001",
        )
        .unwrap();
        assert_eq!(
            request.body,
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 256},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 256}
            ]})
        );
        assert!(!request.encoding_format_base64);
    }

    #[test]
    fn request_errors() {
        let cases = [
            (
                json!({"input": [1, 2, 3]}),
                Some("input"),
                "Token-array input is not supported with this model; send the text instead.",
            ),
            (
                json!({"input": [[1, 2], [3]]}),
                Some("input"),
                "Token-array input is not supported with this model; send the text instead.",
            ),
            (
                json!({"input": []}),
                Some("input"),
                "Invalid value for 'input': must not be empty.",
            ),
            (
                json!({"input": ""}),
                Some("input"),
                "Invalid value for 'input': texts must not be empty.",
            ),
            (
                json!({"input": {"text": "x"}}),
                Some("input"),
                "Invalid type for 'input': expected a string or an array of strings, but got an object instead.",
            ),
            (
                json!({"input": [null]}),
                Some("input"),
                "Invalid type for 'input': expected a string or an array of strings, but got null instead.",
            ),
            (
                json!({"model": "m"}),
                Some("input"),
                "Missing required parameter: 'input'.",
            ),
            (
                json!({"input": "x", "encoding_format": "int8"}),
                Some("encoding_format"),
                "Invalid value: 'int8'. Supported values are: 'float' and 'base64'.",
            ),
            (
                json!({"input": "x", "dimensions": 0}),
                Some("dimensions"),
                "Invalid value for 'dimensions': must be at least 1.",
            ),
            (
                json!({"input": "x", "dimensions": "8"}),
                Some("dimensions"),
                "Invalid type for 'dimensions': expected an integer, but got a string instead.",
            ),
            (
                json!({"input": "x", "task": "q"}),
                None,
                "Unrecognized request argument supplied: task",
            ),
            (json!("x"), None, "The request body must be a JSON object."),
        ];
        for (body, param, message) in cases {
            let err = embeddings_request_to_gemini(&body, "gemini-embedding-001").unwrap_err();
            assert_eq!(
                (err.param.as_deref(), err.message.as_str()),
                (param, message),
                "{body}"
            );
        }
    }

    #[test]
    fn float_response() {
        let gemini = json!({"embeddings": [{"values": [0.5, -1.25]}, {"values": [1]}]});
        assert_eq!(
            gemini_embeddings_to_openai(&gemini, "text-embedding-3-small", false, 7),
            json!({
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 0, "embedding": [0.5, -1.25]},
                    {"object": "embedding", "index": 1, "embedding": [1]}
                ],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 7, "total_tokens": 7}
            })
        );
    }

    #[test]
    fn base64_response_is_little_endian_f32() {
        let gemini = json!({"embeddings": [{"values": [1.0, -2.0]}]});
        let out = gemini_embeddings_to_openai(&gemini, "m", true, 0);
        let encoded = out["data"][0]["embedding"].as_str().unwrap();
        let bytes = STANDARD.decode(encoded).unwrap();
        let mut expected = 1.0f32.to_le_bytes().to_vec();
        expected.extend((-2.0f32).to_le_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(encoded, "AACAPwAAAMA=");
    }

    #[test]
    fn odd_responses_do_not_panic() {
        for gemini in [
            json!(null),
            json!({"embeddings": "x"}),
            json!({"embeddings": [null, {"values": ["a"]}]}),
        ] {
            let out = gemini_embeddings_to_openai(&gemini, "m", true, 1);
            assert_eq!(out["object"], json!("list"));
        }
        let out = gemini_embeddings_to_openai(&json!({"embeddings": [{}]}), "m", false, 1);
        assert_eq!(out["data"][0]["embedding"], json!([]));
    }
}
