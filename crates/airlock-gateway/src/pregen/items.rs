//! A pre-generation job's file: JSON Lines or a JSON array of requests,
//! each like an OpenAI Batch API line (`{"custom_id", "method", "url",
//! "body"}`), for the routes whose answers the cache keeps: OpenAI chat
//! completions, embeddings, image generations and speech, and Gemini's
//! `generateContent`, `streamGenerateContent`, `embedContent` and
//! `batchEmbedContents`. A line that is not such a request is rejected by
//! its number; the others make the job.

use serde_json::{Map, Value, json};

/// The OpenAI routes an item may name.
const OPENAI_PATHS: [&str; 4] = [
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/images/generations",
    "/v1/audio/speech",
];
/// The Gemini API versions and methods an item may name.
const GEMINI_VERSIONS: [&str; 3] = ["v1", "v1beta", "v1alpha"];
const GEMINI_METHODS: [&str; 4] = [
    "generateContent",
    "streamGenerateContent",
    "embedContent",
    "batchEmbedContents",
];
/// The most items a job may hold.
pub const MAX_ITEMS: usize = 100_000;

/// A line of the file that is not a request the job can run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// From 1 (for a JSON array: the element's place, from 1).
    pub line: usize,
    pub error: String,
}

/// The file's requests as the job's items (each with its line), and the
/// lines rejected. `as_array`: the body is a JSON array, else JSON Lines.
pub fn read_items(body: &[u8], as_array: bool) -> Result<(Vec<Value>, Vec<Rejected>), String> {
    let text = std::str::from_utf8(body).map_err(|_| "the file is not UTF-8 text".to_string())?;
    let entries: Vec<(usize, Result<Value, String>)> = if as_array {
        let array: Vec<Value> = serde_json::from_str(text)
            .map_err(|error| format!("the body is not a JSON array: {error}"))?;
        array
            .into_iter()
            .enumerate()
            .map(|(index, value)| (index + 1, Ok(value)))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(index, line)| {
                let parsed = serde_json::from_str::<Value>(line)
                    .map_err(|error| format!("not JSON: {error}"));
                (index + 1, parsed)
            })
            .collect()
    };
    if entries.len() > MAX_ITEMS {
        return Err(format!(
            "the file holds {} requests; a job holds at most {MAX_ITEMS}",
            entries.len()
        ));
    }
    let mut items = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for (line, parsed) in entries {
        match parsed.and_then(|value| item_of(value, line)) {
            Ok(item) => items.push(item),
            Err(error) => rejected.push(Rejected { line, error }),
        }
    }
    Ok((items, rejected))
}

/// One request checked, as the item stored: its path, body, custom id and line.
fn item_of(value: Value, line: usize) -> Result<Value, String> {
    let Value::Object(mut request) = value else {
        return Err("a request must be a JSON object".into());
    };
    if let Some(method) = request.get("method")
        && method.as_str() != Some("POST")
    {
        return Err("method must be POST".into());
    }
    let url = match request.remove("url") {
        Some(Value::String(url)) => url,
        Some(_) => return Err("url must be a string".into()),
        None => return Err("url is required (e.g. /v1/chat/completions)".into()),
    };
    if !runnable(&url) {
        return Err(format!(
            "url {url:?} is not a route pre-generation runs: {} or /v1beta/models/MODEL:{{{}}}",
            OPENAI_PATHS.join(", "),
            GEMINI_METHODS.join(",")
        ));
    }
    let body = match request.remove("body") {
        Some(Value::Object(body)) => body,
        Some(_) => return Err("body must be a JSON object".into()),
        None => return Err("body is required".into()),
    };
    let custom_id = match request.remove("custom_id") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(id)) => Value::String(id),
        Some(_) => return Err("custom_id must be a string".into()),
    };
    Ok(json!({
        "line": line,
        "custom_id": custom_id,
        "url": url,
        "body": Value::Object(body),
    }))
}

/// Whether `url` is a route pre-generation runs.
fn runnable(url: &str) -> bool {
    if OPENAI_PATHS.contains(&url) {
        return true;
    }
    let Some((version, rest)) = url.trim_start_matches('/').split_once("/models/") else {
        return false;
    };
    let Some((model, method)) = rest.rsplit_once(':') else {
        return false;
    };
    GEMINI_VERSIONS.contains(&version)
        && GEMINI_METHODS.contains(&method)
        && !model.is_empty()
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// A stored item's path and body.
pub(crate) fn request_of(item: &Value) -> Option<(&str, &Map<String, Value>)> {
    Some((item.get("url")?.as_str()?, item.get("body")?.as_object()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_read_and_bad_lines_rejected_by_number() {
        let file = concat!(
            r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}"#,
            "\n\n",
            "not json\n",
            r#"{"url":"/v1/files","body":{}}"#,
            "\n",
            r#"{"url":"/v1beta/models/gemini-2.5-flash:generateContent","body":{"contents":[]}}"#,
            "\n",
            r#"{"url":"/v1/embeddings","body":[1]}"#,
            "\n",
            r#"{"url":"/v1/audio/speech","method":"GET","body":{}}"#,
            "\n",
        );
        let (items, rejected) = read_items(file.as_bytes(), false).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["line"], 1);
        assert_eq!(items[0]["custom_id"], "a");
        assert_eq!(items[1]["line"], 5);
        assert_eq!(items[1]["custom_id"], Value::Null);
        let lines: Vec<usize> = rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 6, 7]);
        assert!(rejected[0].error.starts_with("not JSON"));
        assert!(rejected[1].error.contains("/v1/files"));
        assert!(rejected[2].error.contains("body must be a JSON object"));
        assert!(rejected[3].error.contains("POST"));
    }

    #[test]
    fn a_json_array_is_read_with_places_for_lines() {
        let file = r#"[{"url":"/v1/images/generations","body":{"prompt":"p"}}, 7]"#;
        let (items, rejected) = read_items(file.as_bytes(), true).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            rejected,
            [Rejected {
                line: 2,
                error: "a request must be a JSON object".into()
            }]
        );
        assert!(read_items(b"{}", true).unwrap_err().contains("JSON array"));
    }

    #[test]
    fn gemini_paths_name_a_known_version_a_model_and_a_generation_method() {
        assert!(runnable(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
        ));
        assert!(runnable("/v1/models/text-embedding-004:batchEmbedContents"));
        assert!(!runnable("/v1beta/models/gemini-2.5-flash:countTokens"));
        assert!(!runnable("/v2/models/gemini-2.5-flash:generateContent"));
        assert!(!runnable("/v1beta/models/../x:generateContent"));
        assert!(!runnable("/v1beta/models/:generateContent"));
    }
}
