//! `embedContent` and `batchEmbedContents`: deterministic unit vectors of
//! the model's size (3072 for gemini-embedding-001, 768 for
//! text-embedding-004), or `outputDimensionality` long.

use serde_json::{Value, json};

use super::catalog::GeminiModel;
use super::errors;
use super::request::content_problems;
use crate::delivery::Payload;
use crate::embedding;

/// The text a content is embedded from: its parts' texts (other parts as
/// their JSON), one per line.
fn embedded_text(content: &Value) -> String {
    content["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .map(|p| {
                    p["text"]
                        .as_str()
                        .map_or_else(|| p.to_string(), str::to_owned)
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Checks one `EmbedContentRequest` found at `path`; returns its vector.
fn vector(
    req: &Value,
    model: &GeminiModel,
    seed: u64,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<f32>> {
    let native = model.embedding_dimensions.unwrap_or(768);
    let before = problems.len();
    match req.get("content") {
        None => problems.push(format!("{path}.content: content is not specified")),
        Some(content) => content_problems(content, &format!("{path}.content"), problems),
    }
    let dims = match req.get("outputDimensionality").and_then(Value::as_i64) {
        None => native,
        Some(d) if d >= 1 && d as u64 <= native as u64 => d as usize,
        Some(_) => {
            problems.push(format!("{path}.output_dimensionality: Output dimensionality must be between 1 and {native}."));
            native
        }
    };
    (problems.len() == before).then(|| {
        embedding::unit_vector(
            seed,
            model.id,
            embedded_text(&req["content"]).as_bytes(),
            native,
            dims,
        )
    })
}

fn reply(value: &Value) -> Payload {
    let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    Payload::json(http::StatusCode::OK, errors::CONTENT_TYPE, bytes).paced(1)
}

pub fn single(req: &Value, model: &GeminiModel, seed: u64) -> Payload {
    let mut problems = Vec::new();
    match vector(req, model, seed, "EmbedContentRequest", &mut problems) {
        Some(values) if problems.is_empty() => reply(&json!({ "embedding": { "values": values } })),
        _ => errors::failed_checks(&problems),
    }
}

/// Every request must name the URL's model as `models/{id}`.
pub fn batch(req: &Value, model: &GeminiModel, seed: u64) -> Payload {
    let requests = req["requests"].as_array().map_or(&[][..], Vec::as_slice);
    let mut problems = Vec::new();
    if requests.is_empty() {
        problems.push("BatchEmbedContentsRequest.requests: requests is not specified".to_owned());
    }
    let expected = format!("models/{}", model.id);
    let mut embeddings = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let path = format!("BatchEmbedContentsRequest.requests[{i}]");
        match r["model"].as_str() {
            None | Some("") => problems.push(format!("{path}.model: model is not specified")),
            Some(m) if !m.starts_with("models/") => {
                problems.push(format!("{path}.model: unexpected model name format"));
            }
            Some(m) if m != expected => problems.push(format!(
                "{path}.model: model in the request ({m}) does not match the model in the URL ({expected})."
            )),
            Some(_) => {}
        }
        if let Some(values) = vector(r, model, seed, &path, &mut problems) {
            embeddings.push(json!({ "values": values }));
        }
    }
    if problems.is_empty() {
        reply(&json!({ "embeddings": embeddings }))
    } else {
        errors::failed_checks(&problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Body;
    use crate::gemini::catalog;

    fn body(p: &Payload) -> Value {
        let Body::Whole { bytes, .. } = &p.body else {
            panic!()
        };
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn sizes_and_checks() {
        let m = catalog::find("text-embedding-004").unwrap();
        let one = single(&json!({"content": {"parts": [{"text": "hi"}]}}), m, 0);
        assert_eq!(
            body(&one)["embedding"]["values"].as_array().unwrap().len(),
            768
        );
        let short = single(
            &json!({"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 8}),
            m,
            0,
        );
        assert_eq!(
            body(&short)["embedding"]["values"]
                .as_array()
                .unwrap()
                .len(),
            8
        );
        assert_eq!(
            single(
                &json!({"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 769}),
                m,
                0
            )
            .status,
            400
        );
        assert_eq!(single(&json!({}), m, 0).status, 400);
        let g = catalog::find("gemini-embedding-001").unwrap();
        let ok = batch(
            &json!({"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}}]}),
            g,
            0,
        );
        assert_eq!(
            body(&ok)["embeddings"][0]["values"]
                .as_array()
                .unwrap()
                .len(),
            3072
        );
        for bad in [
            json!({"requests": []}),
            json!({"requests": [{"content": {"parts": [{"text": "a"}]}}]}),
            json!({"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}}]}),
            json!({"requests": [{"model": "gemini-embedding-001", "content": {"parts": [{"text": "a"}]}}]}),
        ] {
            let p = batch(&bad, g, 0);
            assert_eq!(p.status, 400, "{bad}");
            assert!(
                body(&p)["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("* BatchEmbedContentsRequest.")
            );
        }
    }
}
