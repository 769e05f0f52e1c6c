//! A batch's requests as the job's items: read from an OpenAI batch input
//! file (JSON Lines of `{"custom_id", "method", "url", "body"}`), a Gemini
//! batch file (JSON Lines of `{"key", "request"}`) or Gemini's inline
//! requests (`{"request", "metadata"}`). A line that is not a request the
//! batch can run is rejected by its number, with a reason; the others run.
//!
//! Every item is stored as `{"line", "id", "metadata", "url", "body"}`:
//! where its request goes in Airlock's own API, and what its answer is
//! reported under (OpenAI's `custom_id`, Gemini's `key` or `metadata`).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The most requests a batch holds, as OpenAI allows.
pub const MAX_REQUESTS: usize = 50_000;

/// The OpenAI endpoints a batch may name (those Airlock serves of the
/// ones OpenAI batches).
pub const OPENAI_ENDPOINTS: [&str; 4] = [
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/images/generations",
];

/// A line that is not a request the batch can run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// From 1 (for inline requests: the request's place, from 1).
    pub line: usize,
    /// OpenAI's error code for it.
    pub code: String,
    pub message: String,
    /// The line's `custom_id` or `key`, when it had one.
    pub id: Option<String>,
    /// An inline request's metadata, given back with its error.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
}

/// The items and the rejected lines of a batch's input.
#[derive(Debug, Default)]
pub struct Input {
    pub items: Vec<Value>,
    pub rejected: Vec<Rejected>,
}

impl Input {
    /// The batch's lines, runnable or not.
    pub fn total(&self) -> usize {
        self.items.len() + self.rejected.len()
    }

    /// Why a batch of this input cannot be made, when none of its lines
    /// can run: the first few lines' reasons.
    pub fn nothing_to_run(&self) -> Option<String> {
        if !self.items.is_empty() {
            return None;
        }
        if self.rejected.is_empty() {
            return Some("it holds no requests".into());
        }
        let reasons: Vec<String> = self
            .rejected
            .iter()
            .take(3)
            .map(|rejected| format!("line {}: {}", rejected.line, rejected.message))
            .collect();
        Some(reasons.join("; "))
    }

    fn reject(&mut self, line: usize, code: &'static str, message: String, id: Option<String>) {
        self.rejected.push(Rejected {
            line,
            code: code.to_string(),
            message,
            id,
            metadata: Value::Null,
        });
    }
}

/// An OpenAI batch input file for `endpoint`: each line must be a `POST` of
/// that endpoint with a unique `custom_id` and an object `body`.
pub fn openai_lines(bytes: &[u8], endpoint: &str) -> Result<Input, String> {
    let (objects, mut input) = object_lines(bytes)?;
    let mut seen = HashSet::new();
    for (line, request) in objects {
        let custom_id = request.get("custom_id").and_then(Value::as_str);
        let id = custom_id.map(str::to_string);
        let checked = check_openai_line(&request, endpoint).and_then(|body| match custom_id {
            Some(custom_id) if !seen.insert(custom_id.to_string()) => Err((
                "duplicate_custom_id",
                format!("custom_id {custom_id:?} is used by an earlier line; each must be unique"),
            )),
            _ => Ok(body),
        });
        match checked {
            Ok(body) => input
                .items
                .push(item(line, id, Value::Null, endpoint, body)),
            Err((code, message)) => input.reject(line, code, message, id),
        }
    }
    Ok(input)
}

/// One OpenAI line's body, or why the line cannot run.
fn check_openai_line(
    request: &Map<String, Value>,
    endpoint: &str,
) -> Result<Map<String, Value>, (&'static str, String)> {
    match request.get("custom_id") {
        Some(Value::String(id)) if !id.is_empty() => {}
        Some(_) => {
            return Err((
                "invalid_request",
                "custom_id must be a non-empty string".into(),
            ));
        }
        None => return Err(("missing_required_parameter", "custom_id is required".into())),
    }
    match request.get("method").and_then(Value::as_str) {
        Some("POST") => {}
        Some(other) => {
            return Err((
                "invalid_method",
                format!("method must be POST, not {other:?}"),
            ));
        }
        None => {
            return Err((
                "missing_required_parameter",
                "method is required (POST)".into(),
            ));
        }
    }
    match request.get("url").and_then(Value::as_str) {
        Some(url) if url == endpoint => {}
        Some(url) => {
            return Err((
                "mismatched_endpoint",
                format!("url {url:?} is not the batch's endpoint {endpoint:?}"),
            ));
        }
        None => return Err(("missing_required_parameter", "url is required".into())),
    }
    match request.get("body") {
        Some(Value::Object(body)) => Ok(body.clone()),
        Some(_) => Err(("invalid_request", "body must be a JSON object".into())),
        None => Err(("missing_required_parameter", "body is required".into())),
    }
}

/// A Gemini batch file for `model`: each line `{"key", "request"}`, the
/// request a `GenerateContentRequest`.
pub fn gemini_lines(bytes: &[u8], model_path: &str) -> Result<Input, String> {
    let (objects, mut input) = object_lines(bytes)?;
    for (line, entry) in objects {
        let key = entry.get("key").and_then(Value::as_str).map(str::to_string);
        match entry.get("request") {
            Some(Value::Object(request)) => {
                let body = without_model(request);
                input
                    .items
                    .push(item(line, key, Value::Null, model_path, body));
            }
            _ => input.reject(
                line,
                "invalid_request",
                "request must be a GenerateContentRequest object".into(),
                key,
            ),
        }
    }
    Ok(input)
}

/// A line of a JSON Lines file that is a JSON object, by its number.
type ObjectLine = (usize, Map<String, Value>);

/// A JSON Lines file's objects by line, the lines that are not JSON
/// objects already rejected; an error for a file that is not UTF-8 or
/// holds too many lines.
fn object_lines(bytes: &[u8]) -> Result<(Vec<ObjectLine>, Input), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the input file is not UTF-8 text")?;
    let mut input = Input::default();
    let mut objects = Vec::new();
    for (line, text) in numbered_lines(text)? {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => objects.push((line, object)),
            Ok(_) => {
                let message = "a line must be a JSON object".to_string();
                input.reject(line, "invalid_json_line", message, None);
            }
            Err(error) => {
                let message = format!("the line is not JSON: {error}");
                input.reject(line, "invalid_json_line", message, None);
            }
        }
    }
    Ok((objects, input))
}

/// Gemini's inline requests (`inputConfig.requests.requests`), each
/// `{"request", "metadata"}`.
pub fn gemini_inline(requests: &[Value], model_path: &str) -> Result<Input, String> {
    if requests.len() > MAX_REQUESTS {
        return Err(too_many(requests.len()));
    }
    let mut input = Input::default();
    for (index, entry) in requests.iter().enumerate() {
        let line = index + 1;
        let metadata = entry.get("metadata").cloned().unwrap_or(Value::Null);
        match entry.get("request") {
            Some(Value::Object(request)) => {
                let body = without_model(request);
                input
                    .items
                    .push(item(line, None, metadata, model_path, body));
            }
            _ => input.rejected.push(Rejected {
                line,
                code: "invalid_request".into(),
                message: format!(
                    "requests[{index}].request must be a GenerateContentRequest object"
                ),
                id: None,
                metadata,
            }),
        }
    }
    Ok(input)
}

/// A request's body without its own `model` (the batch's model is the
/// one it runs on, as Google does).
fn without_model(request: &Map<String, Value>) -> Map<String, Value> {
    let mut body = request.clone();
    body.remove("model");
    body
}

/// The non-blank lines of a file, numbered from 1; too many is an error.
fn numbered_lines(text: &str) -> Result<Vec<(usize, &str)>, String> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| (index + 1, line))
        .collect();
    if lines.len() > MAX_REQUESTS {
        return Err(too_many(lines.len()));
    }
    Ok(lines)
}

fn too_many(count: usize) -> String {
    format!("the batch holds {count} requests; a batch holds at most {MAX_REQUESTS}")
}

fn item(
    line: usize,
    id: Option<String>,
    metadata: Value,
    url: &str,
    body: Map<String, Value>,
) -> Value {
    json!({
        "line": line,
        "id": id,
        "metadata": metadata,
        "url": url,
        "body": Value::Object(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_lines_run_and_bad_ones_are_rejected_by_number_with_a_code() {
        let file = concat!(
            r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}"#,
            "\n\n",
            "not json\n",
            r#"{"custom_id":"b","method":"POST","url":"/v1/embeddings","body":{}}"#,
            "\n",
            r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}"#,
            "\n",
            r#"{"method":"POST","url":"/v1/chat/completions","body":{}}"#,
            "\n",
            r#"{"custom_id":"c","method":"GET","url":"/v1/chat/completions","body":{}}"#,
            "\n",
            r#"{"custom_id":"d","method":"POST","url":"/v1/chat/completions","body":[]}"#,
            "\n",
            r#"{"custom_id":"e","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}"#,
        );
        let input = openai_lines(file.as_bytes(), "/v1/chat/completions").unwrap();
        assert_eq!(input.total(), 8);
        let ran: Vec<(u64, &str)> = input
            .items
            .iter()
            .map(|item| (item["line"].as_u64().unwrap(), item["id"].as_str().unwrap()))
            .collect();
        assert_eq!(ran, [(1, "a"), (9, "e")]);
        assert_eq!(input.items[0]["url"], "/v1/chat/completions");
        assert_eq!(input.items[0]["body"], json!({"model": "m"}));
        let rejected: Vec<(usize, &str)> = input
            .rejected
            .iter()
            .map(|rejected| (rejected.line, rejected.code.as_str()))
            .collect();
        assert_eq!(
            rejected,
            [
                (3, "invalid_json_line"),
                (4, "mismatched_endpoint"),
                (5, "duplicate_custom_id"),
                (6, "missing_required_parameter"),
                (7, "invalid_method"),
                (8, "invalid_request"),
            ]
        );
        assert_eq!(input.rejected[1].id.as_deref(), Some("b"));
        assert!(openai_lines(b"\xff", "/v1/embeddings").is_err());
    }

    #[test]
    fn gemini_requests_run_on_the_batchs_model_and_keep_their_key_or_metadata() {
        let path = "/v1beta/models/gemini-2.5-flash:generateContent";
        let file = concat!(
            r#"{"key":"k1","request":{"model":"models/other","contents":[]}}"#,
            "\n",
            r#"{"key":"k2","request":"hi"}"#,
        );
        let input = gemini_lines(file.as_bytes(), path).unwrap();
        assert_eq!(input.items.len(), 1);
        assert_eq!(input.items[0]["id"], "k1");
        assert_eq!(input.items[0]["url"], path);
        assert_eq!(input.items[0]["body"], json!({"contents": []}));
        assert_eq!(input.rejected[0].line, 2);
        assert_eq!(input.rejected[0].id.as_deref(), Some("k2"));

        let inline = [
            json!({"request": {"contents": []}, "metadata": {"n": "1"}}),
            json!({"metadata": {"n": "2"}}),
        ];
        let input = gemini_inline(&inline, path).unwrap();
        assert_eq!(input.items[0]["metadata"], json!({"n": "1"}));
        assert_eq!(input.rejected[0].line, 2);
        assert!(input.rejected[0].message.contains("requests[1].request"));
        assert_eq!(input.rejected[0].metadata, json!({"n": "2"}));
    }

    #[test]
    fn a_batch_over_the_request_limit_is_refused_whole() {
        let file = "{}\n".repeat(MAX_REQUESTS + 1);
        let error = openai_lines(file.as_bytes(), "/v1/embeddings").unwrap_err();
        assert!(error.contains("at most 50000"), "{error}");
    }
}
