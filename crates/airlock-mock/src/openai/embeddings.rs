//! `POST /v1/embeddings`: deterministic unit vectors for a string, a list of
//! strings, a token array or a list of token arrays; `dimensions` shortens
//! (text-embedding-3 models only); `encoding_format: "base64"` sends the
//! little-endian f32 bytes in base64, as the openai SDK requests by default.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::catalog::{Kind, OpenAiModel};
use super::errors::ApiError;
use crate::{embedding, tokens};

const MAX_INPUTS: usize = 2048;
const MAX_INPUT_TOKENS: u64 = 8192;

enum Input<'a> {
    Text(&'a str),
    Tokens(&'a [Value]),
}

fn is_token(v: &Value) -> bool {
    v.as_u64().is_some_and(|t| t <= u64::from(u32::MAX))
}

fn token_list(v: &Value) -> Option<&[Value]> {
    v.as_array()
        .filter(|t| !t.is_empty() && t.iter().all(is_token))
        .map(Vec::as_slice)
}

fn inputs(input: &Value) -> Option<Vec<Input<'_>>> {
    match input {
        Value::String(s) if !s.is_empty() => Some(vec![Input::Text(s)]),
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_INPUTS => {
            if let Some(tokens) = token_list(input) {
                return Some(vec![Input::Tokens(tokens)]);
            }
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) if !s.is_empty() => Some(Input::Text(s)),
                    other => token_list(other).map(Input::Tokens),
                })
                .collect()
        }
        _ => None,
    }
}

impl Input<'_> {
    fn tokens(&self) -> u64 {
        match self {
            Input::Text(s) => tokens::text_tokens(s),
            Input::Tokens(t) => t.len() as u64,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Input::Text(s) => s.as_bytes().to_vec(),
            Input::Tokens(t) => Value::from(t.to_vec()).to_string().into_bytes(),
        }
    }
}

/// The `list` of embeddings for a validated body.
pub fn respond(body: &Value, model: &OpenAiModel, seed: u64) -> Result<Value, ApiError> {
    let Kind::Embedding {
        dimensions: native,
        shortenable,
    } = model.kind
    else {
        return Err(ApiError::invalid(
            "This model does not support embeddings.",
            Some("model"),
            None,
        ));
    };
    let Some(inputs) = inputs(&body["input"]) else {
        return Err(ApiError::invalid(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            None,
            None,
        ));
    };
    let dims = match body["dimensions"].as_u64() {
        None => native,
        Some(_) if !shortenable => {
            return Err(ApiError::invalid(
                "This model does not support specifying dimensions.",
                None,
                None,
            ));
        }
        Some(d) if d > native as u64 => {
            return Err(ApiError::invalid(
                format!(
                    "Invalid 'dimensions': integer above maximum value. Expected a value <= {native}, but got {d} instead."
                ),
                Some("dimensions"),
                Some("integer_above_max_value"),
            ));
        }
        Some(d) => d as usize,
    };
    if let Some(n) = inputs
        .iter()
        .map(Input::tokens)
        .find(|n| *n > MAX_INPUT_TOKENS)
    {
        return Err(ApiError::invalid(
            format!(
                "This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested {n} tokens ({n} in your prompt; 0 for the completion). Please reduce your prompt; or completion length."
            ),
            None,
            None,
        ));
    }
    let base64 = body["encoding_format"] == "base64";
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let v = embedding::unit_vector(seed, model.id, &input.bytes(), native, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    let used: u64 = inputs.iter().map(Input::tokens).sum();
    Ok(json!({
        "object": "list",
        "data": data,
        "model": model.id,
        "usage": { "prompt_tokens": used, "total_tokens": used }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::catalog;

    fn small() -> &'static OpenAiModel {
        catalog::find("text-embedding-3-small").unwrap()
    }

    #[test]
    fn input_forms() {
        for input in [
            json!("a"),
            json!(["a", "b"]),
            json!([1, 2, 3]),
            json!([[1, 2], [3]]),
        ] {
            let out = respond(
                &json!({"input": input, "encoding_format": "float"}),
                small(),
                0,
            )
            .unwrap();
            assert_eq!(
                out["data"][0]["embedding"].as_array().unwrap().len(),
                1536,
                "{input}"
            );
        }
        assert_eq!(
            respond(&json!({"input": [[1], [2]]}), small(), 0).unwrap()["data"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        for bad in [
            json!(""),
            json!([]),
            json!([""]),
            json!([1, "a"]),
            json!([[]]),
            json!(5),
            json!([-1]),
        ] {
            assert!(
                respond(&json!({"input": bad}), small(), 0).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let f = respond(
            &json!({"input": "x", "dimensions": 4, "encoding_format": "float"}),
            small(),
            0,
        )
        .unwrap();
        let b = respond(
            &json!({"input": "x", "dimensions": 4, "encoding_format": "base64"}),
            small(),
            0,
        )
        .unwrap();
        let bytes = STANDARD
            .decode(b["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        let decoded: Vec<f64> = bytes
            .chunks(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        let floats: Vec<f64> = f["data"][0]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(decoded.len(), 4);
        for (a, b) in decoded.iter().zip(&floats) {
            assert!((a - b).abs() < 1e-6);
        }
        assert_eq!(f["usage"]["prompt_tokens"], 1);
    }

    #[test]
    fn dimensions_rules() {
        let ada = catalog::find("text-embedding-ada-002").unwrap();
        assert!(respond(&json!({"input": "x", "dimensions": 8}), ada, 0).is_err());
        assert_eq!(
            respond(&json!({"input": "x", "dimensions": 2000}), small(), 0)
                .unwrap_err()
                .code,
            Some("integer_above_max_value")
        );
        assert!(respond(&json!({"input": "x"}), catalog::find("gpt-4o").unwrap(), 0).is_err());
    }
}
