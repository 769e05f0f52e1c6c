//! The response cache's key: a SHA-256 over a request's canonical form,
//! and whether the request samples randomly.
//!
//! The canonical form keeps what changes the answer and nothing else: the
//! route's provider and upstream model (not the alias the client named),
//! the project, the operation, the stream flag, and the body with the
//! fields that do not change the answer left out, defaults made explicit,
//! object keys sorted and integral numbers written one way. Gemini bodies
//! have their field names in camelCase, as Google reads snake_case ones
//! alike. This module is pure: it reads no state and does no I/O.

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use crate::dispatch::Operation;
use crate::multipart::{Field, Form, Upload};
use crate::surface::gemini::GeminiMethod;

/// Changes whenever the canonical form does, so old entries miss.
const VERSION: &[u8] = b"airlock-cache-v1";

/// Sets [`raw_digest`]s apart from keys.
const RAW_VERSION: &[u8] = b"airlock-cache-raw-v1";

/// A cache key: SHA-256 of the request's canonical form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key as 64 lowercase hex digits.
    pub(crate) fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// The key [`CacheKey::hex`] wrote: exactly 64 lowercase hex digits.
    pub(crate) fn from_hex(text: &str) -> Option<CacheKey> {
        let text = text.as_bytes();
        if text.len() != 64 {
            return None;
        }
        let mut key = [0u8; 32];
        for (byte, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
            *byte = (lowercase_hex_digit(pair[0])? << 4) | lowercase_hex_digit(pair[1])?;
        }
        Some(CacheKey(key))
    }
}

fn lowercase_hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// What the key is made of.
pub(crate) struct KeyInput<'a> {
    /// The project the entry belongs to (`None` when the caller has none).
    pub project_id: Option<&'a str>,
    pub operation: Operation,
    /// The route's provider name.
    pub provider: &'a str,
    /// The route's upstream model (not the alias the client named).
    pub upstream_model: &'a str,
    /// The client's body (JSON, or multipart when `upload` is set).
    pub body: &'a [u8],
    /// A multipart request's form (image edits and transcriptions).
    pub upload: Option<&'a Upload>,
    /// The client asked for a stream: a stream and a complete answer are
    /// different entries.
    pub stream: bool,
    /// A Gemini stream asked for as server-sent events (`alt=sse`) rather
    /// than a JSON array: its replayed chunks are framed differently.
    pub sse: bool,
}

/// A request's key, and whether it samples randomly.
#[derive(Clone, Copy)]
pub(crate) struct Keyed {
    pub key: CacheKey,
    /// The request samples randomly (a temperature above zero and no
    /// seed): cached only when the project says so.
    pub random: bool,
}

/// Why a request is not cached (said in a debug log and the
/// `x-airlock-cache` answer header's reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotCacheable(pub &'static str);

const NOT_AN_OBJECT: NotCacheable = NotCacheable("the body is not a JSON object");

/// The key of a request, and whether it samples randomly; or why it is
/// not cached.
pub(crate) fn cache_key(input: &KeyInput<'_>) -> Result<Keyed, NotCacheable> {
    let body = canonical_body(input)?;
    let mut parts = Parts::default();
    parts.push(VERSION);
    push_request(&mut parts, input);
    let random = match body {
        Canonical::Json { bytes, random } => {
            parts.push(b"json");
            parts.push(&bytes);
            random
        }
        Canonical::Form(form) => {
            parts.push(b"form");
            push_form(&mut parts, form);
            false
        }
    };
    Ok(Keyed {
        key: parts.finish(),
        random,
    })
}

/// A digest of everything [`cache_key`] reads, the JSON body as the bytes
/// sent: two inputs with the same digest have the same key, so the key
/// worked out once can be looked up by it. `None` for a multipart form.
pub(crate) fn raw_digest(input: &KeyInput<'_>) -> Option<[u8; 32]> {
    if input.upload.is_some() {
        return None;
    }
    let mut parts = Parts::default();
    parts.push(RAW_VERSION);
    push_request(&mut parts, input);
    parts.push(input.body);
    Some(parts.finish().0)
}

/// Everything but the body.
fn push_request(parts: &mut Parts, input: &KeyInput<'_>) {
    match input.project_id {
        None => parts.push(b"no project"),
        Some(project_id) => {
            parts.push(b"project");
            parts.push(project_id.as_bytes());
        }
    }
    parts.push(input.operation.name().as_bytes());
    parts.push(input.provider.as_bytes());
    parts.push(input.upstream_model.as_bytes());
    parts.push(match (input.stream, input.sse) {
        (false, _) => b"complete",
        (true, false) => b"stream",
        (true, true) => b"stream-sse",
    });
}

/// A body in canonical form.
enum Canonical<'a> {
    /// Canonical JSON, and whether the request samples randomly.
    Json { bytes: Vec<u8>, random: bool },
    /// A multipart form, hashed field by field.
    Form(&'a Form),
}

fn canonical_body<'a>(input: &KeyInput<'a>) -> Result<Canonical<'a>, NotCacheable> {
    let rules = match input.operation {
        Operation::Responses => return Err(NotCacheable("responses keep conversation state")),
        Operation::GeminiMethod(GeminiMethod::CountTokens) => {
            return Err(NotCacheable("countTokens is not a generation"));
        }
        Operation::ImageEdits | Operation::Transcriptions => {
            return match input.upload {
                Some(upload) => Ok(Canonical::Form(&upload.form)),
                None => Err(NotCacheable("the multipart form is missing")),
            };
        }
        Operation::ChatCompletions => &CHAT,
        Operation::Embeddings => &EMBEDDINGS,
        Operation::ImageGenerations => &IMAGE_GENERATIONS,
        Operation::Speech => &SPEECH,
        Operation::GeminiMethod(method) => {
            let mut body = gemini_camel_case(json_object(input.body)?)?;
            let random = match method {
                GeminiMethod::BatchEmbedContents => {
                    drop_batch_models(&mut body);
                    false
                }
                GeminiMethod::GenerateContent | GeminiMethod::StreamGenerateContent => {
                    body.remove("labels");
                    gemini_samples_randomly(&body)
                }
                GeminiMethod::EmbedContent | GeminiMethod::CountTokens => false,
            };
            return Ok(canonical_json(body, random));
        }
    };
    let mut body = json_object(input.body)?;
    rules.apply(&mut body, input.stream);
    let random = rules.sampled && openai_samples_randomly(&body);
    Ok(canonical_json(body, random))
}

fn canonical_json(body: Map<String, Value>, random: bool) -> Canonical<'static> {
    let mut bytes = Vec::new();
    write_canonical(&Value::Object(body), &mut bytes);
    Canonical::Json { bytes, random }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, NotCacheable> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(NOT_AN_OBJECT),
    }
}

/// How an OpenAI JSON body is made canonical.
struct OpenAiRules {
    /// Fields that do not change the answer (or that the key holds apart:
    /// the model, the stream flag).
    dropped: &'static [&'static str],
    /// Fields kept only when streaming (they change the stream alone).
    stream_only: &'static [&'static str],
    /// Defaults made explicit when a field is absent or null.
    defaults: &'static [(&'static str, DefaultValue)],
    /// The operation samples with a temperature.
    sampled: bool,
}

/// A default value.
enum DefaultValue {
    Number(i64),
    Text(&'static str),
}

impl DefaultValue {
    fn value(&self) -> Value {
        match self {
            DefaultValue::Number(number) => Value::from(*number),
            DefaultValue::Text(text) => Value::from(*text),
        }
    }
}

const CHAT: OpenAiRules = OpenAiRules {
    dropped: &[
        "model",
        "user",
        "metadata",
        "store",
        "stream",
        "safety_identifier",
        "prompt_cache_key",
        "service_tier",
    ],
    stream_only: &["stream_options"],
    defaults: &[
        ("n", DefaultValue::Number(1)),
        ("temperature", DefaultValue::Number(1)),
        ("top_p", DefaultValue::Number(1)),
        ("presence_penalty", DefaultValue::Number(0)),
        ("frequency_penalty", DefaultValue::Number(0)),
    ],
    sampled: true,
};

const EMBEDDINGS: OpenAiRules = OpenAiRules {
    dropped: &["model", "user"],
    stream_only: &[],
    defaults: &[("encoding_format", DefaultValue::Text("float"))],
    sampled: false,
};

const IMAGE_GENERATIONS: OpenAiRules = OpenAiRules {
    dropped: &["model", "user", "stream"],
    stream_only: &[],
    defaults: &[("n", DefaultValue::Number(1))],
    sampled: false,
};

const SPEECH: OpenAiRules = OpenAiRules {
    dropped: &["model"],
    stream_only: &[],
    defaults: &[
        ("response_format", DefaultValue::Text("mp3")),
        ("speed", DefaultValue::Number(1)),
        ("stream_format", DefaultValue::Text("audio")),
    ],
    sampled: false,
};

impl OpenAiRules {
    fn apply(&self, body: &mut Map<String, Value>, stream: bool) {
        for field in self.dropped {
            body.remove(*field);
        }
        if !stream {
            for field in self.stream_only {
                body.remove(*field);
            }
        }
        for (field, default) in self.defaults {
            if given(body, field).is_none() {
                body.insert((*field).to_string(), default.value());
            }
        }
    }
}

/// A field's value, unless it is absent or null.
fn given<'v>(object: &'v Map<String, Value>, field: &str) -> Option<&'v Value> {
    object.get(field).filter(|value| !value.is_null())
}

/// A temperature above zero (its default made explicit) and no seed.
fn openai_samples_randomly(body: &Map<String, Value>) -> bool {
    samples_randomly(body, "temperature", "seed")
}

/// `generationConfig.temperature` (1 when absent) above zero and no
/// `generationConfig.seed`.
fn gemini_samples_randomly(body: &Map<String, Value>) -> bool {
    match given(body, "generationConfig").and_then(Value::as_object) {
        Some(config) => samples_randomly(config, "temperature", "seed"),
        None => true,
    }
}

fn samples_randomly(object: &Map<String, Value>, temperature: &str, seed: &str) -> bool {
    let temperature = given(object, temperature)
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    temperature > 0.0 && given(object, seed).is_none()
}

/// Gemini fields whose values are free-form user data: kept as sent.
const GEMINI_FREE_FORM: [&str; 8] = [
    "args",
    "response",
    "partMetadata",
    "responseJsonSchema",
    "parametersJsonSchema",
    "example",
    "default",
    "additionalProperties",
];

/// Gemini fields that map user-chosen names to schemas: the names kept as
/// sent, the schemas' own fields in camelCase.
const GEMINI_SCHEMA_MAPS: [&str; 2] = ["properties", "defs"];

/// A Gemini body with every field name in camelCase, except inside
/// free-form values; a field named twice (`generation_config` and
/// `generationConfig`) is not cached, as which one Google reads is unknown.
fn gemini_camel_case(body: Map<String, Value>) -> Result<Map<String, Value>, NotCacheable> {
    let mut out = Map::new();
    for (name, value) in body {
        let name = camel_case(&name);
        let value = if GEMINI_FREE_FORM.contains(&name.as_str()) {
            value
        } else if GEMINI_SCHEMA_MAPS.contains(&name.as_str()) {
            gemini_schema_map(value)?
        } else {
            gemini_value(value)?
        };
        if out.insert(name, value).is_some() {
            return Err(NotCacheable("a field is named twice"));
        }
    }
    Ok(out)
}

fn gemini_value(value: Value) -> Result<Value, NotCacheable> {
    Ok(match value {
        Value::Object(object) => Value::Object(gemini_camel_case(object)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(gemini_value)
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

fn gemini_schema_map(value: Value) -> Result<Value, NotCacheable> {
    match value {
        Value::Object(schemas) => schemas
            .into_iter()
            .map(|(name, schema)| Ok((name, gemini_value(schema)?)))
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        other => gemini_value(other),
    }
}

/// A proto field name in its JSON (lowerCamelCase) spelling.
fn camel_case(name: &str) -> String {
    if !name.contains('_') {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper_next = false;
    for character in name.chars() {
        match character {
            '_' => upper_next = true,
            _ if upper_next => {
                out.extend(character.to_uppercase());
                upper_next = false;
            }
            _ => out.push(character),
        }
    }
    out
}

/// A batch names the model in each request too; the key holds the
/// upstream model (the planner renames these for an alias).
fn drop_batch_models(body: &mut Map<String, Value>) {
    if let Some(Value::Array(requests)) = body.get_mut("requests") {
        for request in requests.iter_mut().filter_map(Value::as_object_mut) {
            request.remove("model");
        }
    }
}

/// Form fields that do not change the answer (or that the key holds apart).
const FORM_DROPPED: [&str; 3] = ["model", "user", "stream"];

/// The form's fields sorted by name (in the order sent within a name):
/// each text field's value, each file's declared type and bytes (not its
/// name).
fn push_form(parts: &mut Parts, form: &Form) {
    let mut names: Vec<&str> = form
        .names()
        .filter(|name| !FORM_DROPPED.contains(name))
        .collect();
    names.sort_unstable();
    names.dedup();
    let fields: Vec<&Field> = names
        .iter()
        .flat_map(|name| form.all(std::slice::from_ref(name)))
        .collect();
    parts.push(&(fields.len() as u64).to_be_bytes());
    for field in fields {
        parts.push(field.name.as_bytes());
        match (&field.file_name, &field.content_type) {
            (None, _) => parts.push(b"text"),
            (Some(_), None) => parts.push(b"file"),
            (Some(_), Some(content_type)) => {
                parts.push(b"typed file");
                parts.push(content_type.as_bytes());
            }
        }
        parts.push(&field.bytes);
    }
}

/// A SHA-256 over length-prefixed parts, so no two inputs collide by
/// concatenation.
#[derive(Default)]
struct Parts(Sha256);

impl Parts {
    fn push(&mut self, part: &[u8]) {
        self.0.update((part.len() as u64).to_be_bytes());
        self.0.update(part);
    }

    fn finish(self) -> CacheKey {
        CacheKey(self.0.finalize().into())
    }
}

/// Writes JSON with object keys sorted at every depth and integral
/// numbers written as integers (`1.0` as `1`).
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(number, out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (index, (name, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
    }
}

/// 2^63 and 2^64: the bounds of integral floats written as integers.
const I64_END: f64 = 9_223_372_036_854_775_808.0;
const U64_END: f64 = 18_446_744_073_709_551_616.0;

fn write_number(number: &Number, out: &mut Vec<u8>) {
    let text = if let Some(integer) = number.as_i64() {
        integer.to_string()
    } else if let Some(integer) = number.as_u64() {
        integer.to_string()
    } else {
        let float = number.as_f64().unwrap_or(f64::NAN);
        if float.fract() == 0.0 && (-I64_END..I64_END).contains(&float) {
            (float as i64).to_string()
        } else if float.fract() == 0.0 && (0.0..U64_END).contains(&float) {
            (float as u64).to_string()
        } else {
            // The shortest text that reads back as the same float.
            float.to_string()
        }
    };
    out.extend_from_slice(text.as_bytes());
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    // Runs of bytes that need no escape are copied whole (UTF-8 as it is).
    let mut run_start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let control;
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x00..=0x1f => {
                control = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0x0f)],
                ];
                &control
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..index]);
        out.extend_from_slice(escaped);
        run_start = index + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::HeaderMap;

    use super::*;
    use crate::multipart::read_upload;

    const CHAT_OP: Operation = Operation::ChatCompletions;
    const GENERATE: Operation = Operation::GeminiMethod(GeminiMethod::GenerateContent);

    fn input(operation: Operation, body: &str) -> KeyInput<'_> {
        KeyInput {
            project_id: Some("project-1"),
            operation,
            provider: "openai",
            upstream_model: "gpt-4o",
            body: body.as_bytes(),
            upload: None,
            stream: false,
            sse: false,
        }
    }

    fn keyed(operation: Operation, body: &str) -> Keyed {
        cache_key(&input(operation, body)).unwrap()
    }

    fn key(operation: Operation, body: &str) -> CacheKey {
        keyed(operation, body).key
    }

    const HELLO: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}"#;

    #[test]
    fn strings_are_written_with_quotes_backslashes_and_controls_escaped() {
        let written = |text: &str| {
            let mut out = Vec::new();
            write_string(text, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(written(""), r#""""#);
        assert_eq!(written("plain"), r#""plain""#);
        assert_eq!(
            written("a\"b\\c\u{0}\n\u{1f} é😀\u{7f}"),
            "\"a\\\"b\\\\c\\u0000\\u000a\\u001f é😀\u{7f}\""
        );
        // Canonical text reads back as the same string.
        let text = "tab\there \"quoted\" \\ \u{1} ünï";
        let back: String = serde_json::from_str(&written(text)).unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn hex_is_64_lowercase_digits_that_read_back_as_the_key() {
        let key = key(CHAT_OP, HELLO);
        let hex = key.hex();
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(CacheKey::from_hex(&hex), Some(key));
    }

    #[test]
    fn from_hex_refuses_wrong_lengths_uppercase_and_other_characters() {
        let hex = key(CHAT_OP, HELLO).hex();
        assert_eq!(CacheKey::from_hex(&hex[..62]), None);
        assert_eq!(CacheKey::from_hex(&format!("{hex}00")), None);
        assert_eq!(CacheKey::from_hex(&"A".repeat(64)), None);
        assert_eq!(CacheKey::from_hex(&"g".repeat(64)), None);
        assert_eq!(CacheKey::from_hex(""), None);
    }

    #[test]
    fn key_order_does_not_matter_at_any_depth() {
        let one = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],"response_format":{"type":"json_object","x":1}}"#;
        let two = r#"{"response_format":{"x":1,"type":"json_object"},"messages":[{"content":"hello","role":"user"}],"model":"gpt-4o"}"#;
        assert_eq!(key(CHAT_OP, one), key(CHAT_OP, two));
    }

    #[test]
    fn the_content_of_a_message_changes_the_key() {
        let other = HELLO.replace("hello", "goodbye");
        assert_ne!(key(CHAT_OP, HELLO), key(CHAT_OP, &other));
    }

    #[test]
    fn chat_fields_that_do_not_change_the_answer_leave_the_key_alone() {
        let noisy = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],
            "user":"u-1","metadata":{"a":"b"},"store":true,"stream":false,
            "safety_identifier":"s","prompt_cache_key":"k","service_tier":"flex"}"#;
        assert_eq!(key(CHAT_OP, HELLO), key(CHAT_OP, noisy));
    }

    #[test]
    fn the_model_the_client_named_does_not_change_the_key() {
        let alias = HELLO.replace("gpt-4o", "my-alias");
        assert_eq!(key(CHAT_OP, HELLO), key(CHAT_OP, &alias));
    }

    #[test]
    fn explicit_chat_defaults_equal_their_absence() {
        let explicit = r#"{"messages":[{"role":"user","content":"hello"}],"n":1,"temperature":1,
            "top_p":1,"presence_penalty":0,"frequency_penalty":0}"#;
        let nulls =
            r#"{"messages":[{"role":"user","content":"hello"}],"n":null,"temperature":null}"#;
        assert_eq!(key(CHAT_OP, HELLO), key(CHAT_OP, explicit));
        assert_eq!(key(CHAT_OP, HELLO), key(CHAT_OP, nulls));
    }

    #[test]
    fn an_integral_float_equals_its_integer() {
        let integer = r#"{"messages":[],"temperature":1,"top_p":0,"max_tokens":100}"#;
        let float = r#"{"messages":[],"temperature":1.0,"top_p":0.0,"max_tokens":1e2}"#;
        assert_eq!(key(CHAT_OP, integer), key(CHAT_OP, float));
    }

    #[test]
    fn different_fractions_give_different_keys() {
        let low = r#"{"messages":[],"temperature":0.7}"#;
        let high = r#"{"messages":[],"temperature":0.75}"#;
        assert_ne!(key(CHAT_OP, low), key(CHAT_OP, high));
    }

    #[test]
    fn the_provider_upstream_model_project_and_stream_flag_each_change_the_key() {
        let base = key(CHAT_OP, HELLO);
        let variants = [
            KeyInput {
                provider: "azure",
                ..input(CHAT_OP, HELLO)
            },
            KeyInput {
                upstream_model: "gpt-4o-mini",
                ..input(CHAT_OP, HELLO)
            },
            KeyInput {
                project_id: Some("project-2"),
                ..input(CHAT_OP, HELLO)
            },
            KeyInput {
                project_id: None,
                ..input(CHAT_OP, HELLO)
            },
            KeyInput {
                stream: true,
                sse: false,
                ..input(CHAT_OP, HELLO)
            },
        ];
        for variant in variants {
            assert_ne!(cache_key(&variant).unwrap().key, base);
        }
    }

    #[test]
    fn no_project_differs_from_an_empty_project_id() {
        let none = KeyInput {
            project_id: None,
            ..input(CHAT_OP, HELLO)
        };
        let empty = KeyInput {
            project_id: Some(""),
            ..input(CHAT_OP, HELLO)
        };
        assert_ne!(
            cache_key(&none).unwrap().key,
            cache_key(&empty).unwrap().key
        );
    }

    #[test]
    fn moving_text_between_provider_and_model_changes_the_key() {
        let one = KeyInput {
            provider: "ab",
            upstream_model: "c",
            ..input(CHAT_OP, HELLO)
        };
        let two = KeyInput {
            provider: "a",
            upstream_model: "bc",
            ..input(CHAT_OP, HELLO)
        };
        assert_ne!(cache_key(&one).unwrap().key, cache_key(&two).unwrap().key);
    }

    #[test]
    fn the_same_body_for_another_operation_has_another_key() {
        let body = r#"{"input":"hello"}"#;
        assert_ne!(
            key(Operation::Embeddings, body),
            key(Operation::Speech, body)
        );
    }

    #[test]
    fn stream_options_change_the_key_only_when_streaming() {
        let with_options = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],
            "stream_options":{"include_usage":true}}"#;
        assert_eq!(key(CHAT_OP, HELLO), key(CHAT_OP, with_options));
        let streamed = |body| {
            let input = KeyInput {
                stream: true,
                sse: false,
                ..input(CHAT_OP, body)
            };
            cache_key(&input).unwrap().key
        };
        assert_ne!(streamed(HELLO), streamed(with_options));
    }

    #[test]
    fn chat_at_temperature_zero_is_not_random() {
        let body = r#"{"messages":[],"temperature":0}"#;
        assert!(!keyed(CHAT_OP, body).random);
    }

    #[test]
    fn chat_at_the_default_temperature_is_random() {
        assert!(keyed(CHAT_OP, HELLO).random);
    }

    #[test]
    fn chat_with_a_seed_is_not_random() {
        let body = r#"{"messages":[],"temperature":0.9,"seed":7}"#;
        assert!(!keyed(CHAT_OP, body).random);
    }

    #[test]
    fn chat_asking_for_several_choices_is_cacheable() {
        let body = r#"{"messages":[],"temperature":0,"n":3}"#;
        assert_ne!(
            key(CHAT_OP, body),
            key(CHAT_OP, r#"{"messages":[],"temperature":0}"#)
        );
    }

    #[test]
    fn embeddings_drop_user_and_default_to_float() {
        let plain = r#"{"model":"text-embedding-3-small","input":"hi"}"#;
        let explicit = r#"{"input":"hi","encoding_format":"float","user":"u-1"}"#;
        let base64 = r#"{"input":"hi","encoding_format":"base64"}"#;
        let embeddings = Operation::Embeddings;
        assert_eq!(key(embeddings, plain), key(embeddings, explicit));
        assert_ne!(key(embeddings, plain), key(embeddings, base64));
        assert!(!keyed(embeddings, plain).random);
    }

    #[test]
    fn image_generations_drop_user_and_stream_and_default_to_one_image() {
        let plain = r#"{"model":"gpt-image-1","prompt":"a cat"}"#;
        let explicit = r#"{"prompt":"a cat","n":1,"user":"u-1","stream":true}"#;
        let images = Operation::ImageGenerations;
        assert_eq!(key(images, plain), key(images, explicit));
        assert!(!keyed(images, plain).random);
    }

    #[test]
    fn speech_defaults_are_explicit_and_speech_is_never_random() {
        let plain = r#"{"model":"tts-1","input":"hi","voice":"alloy"}"#;
        let explicit = r#"{"input":"hi","voice":"alloy","response_format":"mp3","speed":1.0,"stream_format":"audio"}"#;
        let wav = r#"{"input":"hi","voice":"alloy","response_format":"wav"}"#;
        assert_eq!(
            key(Operation::Speech, plain),
            key(Operation::Speech, explicit)
        );
        assert_ne!(key(Operation::Speech, plain), key(Operation::Speech, wav));
        assert!(!keyed(Operation::Speech, plain).random);
    }

    #[test]
    fn responses_are_not_cacheable() {
        let error = cache_key(&input(Operation::Responses, r#"{"input":"hi"}"#)).err();
        assert_eq!(
            error,
            Some(NotCacheable("responses keep conversation state"))
        );
    }

    #[test]
    fn count_tokens_is_not_cacheable() {
        let count = Operation::GeminiMethod(GeminiMethod::CountTokens);
        let error = cache_key(&input(count, r#"{"contents":[]}"#)).err();
        assert_eq!(error, Some(NotCacheable("countTokens is not a generation")));
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_not_cacheable() {
        for body in ["[1,2]", "\"text\"", "{\"broken\":", ""] {
            for operation in [CHAT_OP, GENERATE] {
                let error = cache_key(&input(operation, body)).err();
                assert_eq!(error, Some(NOT_AN_OBJECT), "{body}");
            }
        }
    }

    #[test]
    fn a_multipart_operation_without_its_form_is_not_cacheable() {
        let error = cache_key(&input(Operation::Transcriptions, "")).err();
        assert_eq!(error, Some(NotCacheable("the multipart form is missing")));
    }

    const GEMINI_CAMEL: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"},
        {"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}],
        "systemInstruction":{"parts":[{"text":"be brief"}]},
        "generationConfig":{"maxOutputTokens":50,"responseMimeType":"application/json",
        "thinkingConfig":{"thinkingBudget":0}}}"#;
    const GEMINI_SNAKE: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"},
        {"inline_data":{"mime_type":"image/png","data":"AAAA"}}]}],
        "system_instruction":{"parts":[{"text":"be brief"}]},
        "generation_config":{"max_output_tokens":50,"response_mime_type":"application/json",
        "thinking_config":{"thinking_budget":0}}}"#;

    #[test]
    fn gemini_snake_case_and_camel_case_bodies_give_one_key() {
        assert_eq!(key(GENERATE, GEMINI_CAMEL), key(GENERATE, GEMINI_SNAKE));
    }

    #[test]
    fn gemini_function_call_args_keys_are_kept_as_sent() {
        let call = |args: &str| {
            format!(
                r#"{{"contents":[{{"role":"model","parts":[{{"function_call":{{"name":"f","args":{args}}}}}]}}]}}"#
            )
        };
        assert_ne!(
            key(GENERATE, &call(r#"{"my_arg":1}"#)),
            key(GENERATE, &call(r#"{"myArg":1}"#))
        );
    }

    #[test]
    fn gemini_function_response_keys_are_kept_as_sent() {
        let reply = |response: &str| {
            format!(
                r#"{{"contents":[{{"role":"user","parts":[{{"functionResponse":{{"name":"f","response":{response}}}}}]}}]}}"#
            )
        };
        assert_ne!(
            key(GENERATE, &reply(r#"{"the_result":1}"#)),
            key(GENERATE, &reply(r#"{"theResult":1}"#))
        );
    }

    #[test]
    fn gemini_schema_property_names_are_kept_as_sent_and_its_fields_renamed() {
        let schema = |property: &str, max_items: &str| {
            format!(
                r#"{{"contents":[],"generationConfig":{{"responseSchema":{{"type":"OBJECT",
                "properties":{{"{property}":{{"type":"ARRAY","{max_items}":3}}}}}}}}}}"#
            )
        };
        let snake = key(GENERATE, &schema("my_field", "max_items"));
        assert_eq!(snake, key(GENERATE, &schema("my_field", "maxItems")));
        assert_ne!(snake, key(GENERATE, &schema("myField", "max_items")));
    }

    #[test]
    fn gemini_json_schemas_are_kept_as_sent() {
        let schema = |name: &str| {
            format!(
                r#"{{"contents":[],"generationConfig":{{"responseJsonSchema":{{"type":"object",
                "properties":{{"a":{{"type":"string","{name}":3}}}}}}}}}}"#
            )
        };
        assert_ne!(
            key(GENERATE, &schema("min_length")),
            key(GENERATE, &schema("minLength"))
        );
    }

    #[test]
    fn gemini_labels_do_not_change_the_key() {
        let labelled = GEMINI_CAMEL.replacen('{', r#"{"labels":{"team":"story"},"#, 1);
        assert_eq!(key(GENERATE, GEMINI_CAMEL), key(GENERATE, &labelled));
    }

    #[test]
    fn gemini_cached_content_changes_the_key() {
        let cached = GEMINI_CAMEL.replacen('{', r#"{"cachedContent":"cachedContents/1","#, 1);
        assert_ne!(key(GENERATE, GEMINI_CAMEL), key(GENERATE, &cached));
    }

    #[test]
    fn a_gemini_field_named_in_both_spellings_is_not_cacheable() {
        let body = r#"{"contents":[],"generation_config":{"temperature":0},"generationConfig":{"temperature":1}}"#;
        let error = cache_key(&input(GENERATE, body)).err();
        assert_eq!(error, Some(NotCacheable("a field is named twice")));
    }

    #[test]
    fn gemini_at_the_default_temperature_is_random() {
        assert!(keyed(GENERATE, GEMINI_SNAKE).random);
    }

    #[test]
    fn gemini_at_temperature_zero_is_not_random() {
        let body = r#"{"contents":[],"generation_config":{"temperature":0.0}}"#;
        assert!(!keyed(GENERATE, body).random);
    }

    #[test]
    fn gemini_with_a_seed_is_not_random() {
        let body = r#"{"contents":[],"generationConfig":{"temperature":1.5,"seed":3}}"#;
        assert!(!keyed(GENERATE, body).random);
    }

    #[test]
    fn gemini_embeddings_are_never_random_and_renamed_to_camel_case() {
        let embed = Operation::GeminiMethod(GeminiMethod::EmbedContent);
        let camel = r#"{"content":{"parts":[{"text":"hi"}]},"taskType":"RETRIEVAL_QUERY"}"#;
        let snake = r#"{"content":{"parts":[{"text":"hi"}]},"task_type":"RETRIEVAL_QUERY"}"#;
        assert_eq!(key(embed, camel), key(embed, snake));
        assert!(!keyed(embed, camel).random);
    }

    #[test]
    fn a_batch_embedding_s_per_request_model_does_not_change_the_key() {
        let batch = Operation::GeminiMethod(GeminiMethod::BatchEmbedContents);
        let body = |model: &str| {
            format!(
                r#"{{"requests":[{{"model":"models/{model}","content":{{"parts":[{{"text":"hi"}}]}}}}]}}"#
            )
        };
        assert_eq!(
            key(batch, &body("alias")),
            key(batch, &body("gemini-embedding-001"))
        );
        assert!(!keyed(batch, &body("alias")).random);
    }

    /// A form field: name, file name and declared type (for a file), bytes.
    type TestField<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

    async fn upload(fields: &[TestField<'_>]) -> Upload {
        let mut body = Vec::new();
        for (name, file, bytes) in fields {
            body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"");
            body.extend_from_slice(name.as_bytes());
            body.push(b'"');
            if let Some((file_name, content_type)) = file {
                body.extend_from_slice(format!("; filename=\"{file_name}\"").as_bytes());
                if !content_type.is_empty() {
                    body.extend_from_slice(format!("\r\nContent-Type: {content_type}").as_bytes());
                }
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        let mut headers = HeaderMap::new();
        let content_type = "multipart/form-data; boundary=XyZ".parse().unwrap();
        headers.insert(http::header::CONTENT_TYPE, content_type);
        read_upload(&headers, Body::from(body), 1 << 20)
            .await
            .unwrap()
            .1
    }

    fn form_key(upload: &Upload) -> Keyed {
        let input = KeyInput {
            upload: Some(upload),
            ..input(Operation::ImageEdits, "")
        };
        cache_key(&input).unwrap()
    }

    const PNG: Option<(&str, &str)> = Some(("a.png", "image/png"));

    #[tokio::test]
    async fn multipart_field_order_does_not_matter() {
        let one = upload(&[("prompt", None, b"a hat"), ("image", PNG, b"PNG1")]).await;
        let two = upload(&[("image", PNG, b"PNG1"), ("prompt", None, b"a hat")]).await;
        assert_eq!(form_key(&one).key, form_key(&two).key);
    }

    #[tokio::test]
    async fn multipart_order_within_a_name_changes_the_key() {
        let one = upload(&[("image[]", PNG, b"PNG1"), ("image[]", PNG, b"PNG2")]).await;
        let two = upload(&[("image[]", PNG, b"PNG2"), ("image[]", PNG, b"PNG1")]).await;
        assert_ne!(form_key(&one).key, form_key(&two).key);
    }

    #[tokio::test]
    async fn multipart_file_bytes_change_the_key() {
        let one = upload(&[("prompt", None, b"a hat"), ("image", PNG, b"PNG1")]).await;
        let two = upload(&[("prompt", None, b"a hat"), ("image", PNG, b"PNG2")]).await;
        assert_ne!(form_key(&one).key, form_key(&two).key);
    }

    #[tokio::test]
    async fn multipart_file_type_changes_the_key_and_its_name_does_not() {
        let base = upload(&[("image", PNG, b"IMG")]).await;
        let renamed = upload(&[("image", Some(("b.png", "image/png")), b"IMG")]).await;
        let retyped = upload(&[("image", Some(("a.png", "image/webp")), b"IMG")]).await;
        assert_eq!(form_key(&base).key, form_key(&renamed).key);
        assert_ne!(form_key(&base).key, form_key(&retyped).key);
    }

    #[tokio::test]
    async fn multipart_text_and_file_fields_with_the_same_bytes_differ() {
        let text = upload(&[("image", None, b"IMG")]).await;
        let file = upload(&[("image", Some(("a.png", "")), b"IMG")]).await;
        assert_ne!(form_key(&text).key, form_key(&file).key);
    }

    #[tokio::test]
    async fn multipart_model_user_and_stream_fields_do_not_change_the_key() {
        let plain = upload(&[("prompt", None, b"a hat"), ("image", PNG, b"PNG1")]).await;
        let noisy = upload(&[
            ("model", None, b"my-alias"),
            ("prompt", None, b"a hat"),
            ("user", None, b"u-1"),
            ("stream", None, b"true"),
            ("image", PNG, b"PNG1"),
        ])
        .await;
        assert_eq!(form_key(&plain).key, form_key(&noisy).key);
        assert!(!form_key(&noisy).random);
    }
}
