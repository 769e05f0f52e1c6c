//! Entry points for the fuzz targets under `fuzz/` (`cargo fuzz`): the
//! readers that untrusted bytes reach (request bodies of both surfaces, the
//! stream framers, the realtime dialects, end users' tokens), each called as
//! the server calls it, with no network or disk I/O. Hidden from the
//! documentation and not an API: nothing but the fuzz targets uses it.

use std::sync::LazyLock;
use std::time::Duration;

use airlock_providers::translate::ChatStreamTranslator;
use airlock_providers::translate::responses::ResponsesStreamTranslator;
use axum::body::Body;
use bytes::Bytes;
use futures_util::FutureExt;
use http::HeaderMap;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::body::{check_json_syntax, parse_json_object, read_json_bytes};
use crate::dispatch::{ClientRequest, Operation};
use crate::end_user::{EndUser, JwtError};
use crate::framing::{
    ChatToResponses, GeminiJsonArray, GeminiSse, GeminiToOpenAiChat, GeminiToResponses, OpenAiSse,
    ResponsesSse,
};
use crate::realtime::gemini::{GeminiDialect, parse_setup};
use crate::realtime::openai::OpenAiDialect;
use crate::realtime::pump::{ClientVerdict, Delivery, Dialect};
use crate::realtime::session::{Notes, Speaker};
use crate::realtime::tools::{ServerTool, ServerTools, ToolAnswer};
use crate::surface::gemini::interactions::InteractionsSse;
use crate::surface::gemini::{GeminiMethod, ModelPath, parse_model_path};

pub use crate::relay::Framer;

/// The body size limit the readers are given (the server's default).
const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// What a surface read of a request found: the fields dispatch reads.
#[derive(Debug)]
pub struct Read {
    pub model: String,
    pub stream: bool,
    pub max_output: Option<u64>,
    pub body_len: usize,
}

impl From<ClientRequest> for Read {
    fn from(request: ClientRequest) -> Self {
        Read {
            model: request.model,
            stream: request.stream,
            max_output: request.cost.max_output,
            body_len: request.body.len(),
        }
    }
}

/// A request body as the server reads it first, whatever the API: the
/// content type, the size limit and UTF-8.
fn read_body(content_type: Option<&str>, body: &[u8]) -> Result<Bytes, String> {
    let mut headers = HeaderMap::new();
    if let Some(content_type) = content_type.and_then(|t| t.parse().ok()) {
        headers.insert(http::header::CONTENT_TYPE, content_type);
    }
    read_json_bytes(&headers, Body::from(body.to_vec()), MAX_BODY_BYTES)
        .now_or_never()
        .expect("a body held in memory is read at once")
        .map_err(|error| error.to_string())
}

/// `POST /v1/chat/completions` (or, with `embeddings`, `/v1/embeddings`):
/// the body read into what dispatch serves.
pub fn openai_request(
    content_type: Option<&str>,
    body: &[u8],
    embeddings: bool,
) -> Result<Read, String> {
    let bytes = read_body(content_type, body)?;
    let operation = if embeddings {
        Operation::Embeddings
    } else {
        Operation::ChatCompletions
    };
    crate::surface::openai::client_request(bytes, operation)
        .map(Read::from)
        .map_err(|error| error.to_string())
}

/// `POST /{version}/models/{path}`: the `model:method` path, then the body
/// as read for dispatch and checked by its planner.
pub fn gemini_request(path: &str, content_type: Option<&str>, body: &[u8]) -> Result<Read, String> {
    let ModelPath::Method { model, method } =
        parse_model_path(path).map_err(|error| error.to_string())?
    else {
        return Err("a model, not a method".into());
    };
    let bytes = read_body(content_type, body)?;
    check_json_syntax(&bytes).map_err(|error| error.to_string())?;
    Ok(Read {
        model: model.to_string(),
        stream: method == GeminiMethod::StreamGenerateContent,
        max_output: None,
        body_len: bytes.len(),
    })
}

/// `POST /{version}/interactions`: the body read and translated into the
/// Responses request the conversation engine runs.
pub fn interactions_request(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, String> {
    let bytes = read_body(content_type, body)?;
    let interaction = Value::Object(parse_json_object(&bytes).map_err(|e| e.to_string())?);
    airlock_providers::translate::interactions::interaction_request_to_responses(&interaction)
        .map_err(|error| error.message)
}

/// Every stream framer, by name, as dispatch builds them (translating ones
/// for a Responses request with a web search tool, so grounding is read).
pub fn framers() -> Vec<(&'static str, Box<dyn Framer>)> {
    let chat = || ChatStreamTranslator::new("gemini-2.5-flash", "chatcmpl-fuzz", 1, true);
    let request = json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]});
    let responses = || ResponsesStreamTranslator::new(&request, "resp_fuzz", 1);
    vec![
        ("openai_sse", Box::new(OpenAiSse::new(false))),
        ("openai_sse_hiding_usage", Box::new(OpenAiSse::new(true))),
        ("responses_sse", Box::new(ResponsesSse::default())),
        ("gemini_sse", Box::new(GeminiSse::new())),
        ("gemini_json_array", Box::new(GeminiJsonArray::new())),
        ("gemini_to_chat", Box::new(GeminiToOpenAiChat::new(chat()))),
        (
            "gemini_to_responses",
            Box::new(GeminiToResponses::new(chat(), responses())),
        ),
        (
            "chat_to_responses",
            Box::new(ChatToResponses::new(responses())),
        ),
        (
            "responses_to_interactions",
            Box::new(InteractionsSse::new(Box::new(ResponsesSse::default()))),
        ),
    ]
}

/// The realtime protocols.
#[derive(Debug, Clone, Copy)]
pub enum Realtime {
    GeminiLive,
    OpenAiRealtime,
}

/// A frame of a realtime session.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    FromClient(&'a [u8]),
    FromProvider(&'a [u8]),
}

/// The server-side tool the dialects may see called: `lookup`, for every
/// project (never called here: only its calls are read).
static TOOLS: LazyLock<ServerTools> = LazyLock::new(|| {
    airlock_providers::install_crypto_provider();
    ServerTools::new(vec![ServerTool {
        name: "lookup".into(),
        project: None,
        url: "http://127.0.0.1:9/lookup".parse().expect("a valid URL"),
        secret: "fuzz".into(),
        timeout: Duration::from_secs(1),
    }])
    .expect("a tool with a valid URL")
});

/// What a session's reading noted, as the session would keep it.
#[derive(Debug, Default)]
pub struct Noted {
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub transcript: Vec<(Speaker, String)>,
    /// The provider said the session's key is out of quota.
    pub quota_spent: bool,
}

impl Notes for Noted {
    fn project_name(&self) -> Option<&str> {
        Some("fuzz")
    }

    fn add_usage(&mut self, usage: airlock_providers::usage::Usage) {
        for (total, more) in [
            (&mut self.tokens_in, usage.input),
            (&mut self.tokens_out, usage.output),
        ] {
            if let Some(more) = more {
                *total = Some(total.unwrap_or(0).saturating_add(more));
            }
        }
    }

    fn transcribe(&mut self, speaker: Speaker, text: &str) {
        self.transcript.push((speaker, text.to_string()));
    }

    fn quota_spent(&mut self) {
        self.quota_spent = true;
    }
}

/// Reads a session's frames as the relay does (for Gemini Live, the first
/// client frame is the setup): every frame through the protocol's dialect,
/// each tool call it finds answered. Returns what was noted and the frames
/// Airlock itself wrote (rewritten frames, replies, tool answers, notices),
/// or why the session was closed.
pub fn realtime_session(
    protocol: Realtime,
    frames: &[Frame<'_>],
) -> (Noted, Vec<Message>, Option<String>) {
    let mut noted = Noted::default();
    let mut written = Vec::new();
    let mut frames = frames.iter();
    let mut dialect: Box<dyn Dialect> = match protocol {
        Realtime::GeminiLive => {
            let Some(Frame::FromClient(first)) = frames.next() else {
                return (noted, written, Some("no setup".into()));
            };
            match parse_setup(first) {
                Ok(setup) => {
                    assert!(!setup.model.is_empty(), "a setup names a model");
                    written.push(setup.for_upstream("gemini-live-2.5-flash"));
                }
                Err(ending) => return (noted, written, Some(ending.reason())),
            }
            Box::new(GeminiDialect::default())
        }
        Realtime::OpenAiRealtime => Box::new(OpenAiDialect::default()),
    };
    for frame in frames {
        match *frame {
            Frame::FromClient(data) => match dialect.client_frame(data, &mut noted) {
                ClientVerdict::Forward | ClientVerdict::Drop => {}
                ClientVerdict::Replace(message) | ClientVerdict::Reply(message) => {
                    written.push(message);
                }
                ClientVerdict::Close(ending) => return (noted, written, Some(ending.reason())),
            },
            Frame::FromProvider(data) => {
                let verdict = dialect.upstream_frame(data, &mut noted, &TOOLS);
                written.extend(verdict.to_upstream);
                for call in verdict.tool_calls {
                    let answer = ToolAnswer {
                        call,
                        response: json!({"ok": true}),
                        failed: false,
                    };
                    let Delivery {
                        to_upstream,
                        to_client,
                    } = dialect.tool_answer(&answer);
                    written.extend(to_upstream);
                    written.extend(to_client);
                }
            }
        }
    }
    written.extend(dialect.go_away(Duration::from_millis(1500)));
    (noted, written, None)
}

/// The issuer whose tokens [`verify_jwt`] accepts.
pub const JWT_ISSUER: &str = "https://issuer.example";
/// The audience [`verify_jwt`] accepts.
pub const JWT_AUDIENCE: &str = "airlock-app";
/// The time [`verify_jwt`] judges tokens at (Unix seconds).
pub const JWT_NOW: i64 = 1_700_000_000;

/// Verifies `token` as the end-user verifier does, for [`JWT_ISSUER`] with
/// the keys of the JWKS document `jwks`, at [`JWT_NOW`].
pub fn verify_jwt(jwks: &[u8], token: &str) -> Result<EndUser, JwtError> {
    crate::end_user::verify_with_keys(JWT_ISSUER, JWT_AUDIENCE, jwks, token, JWT_NOW)
}

/// The boundary of the multipart bodies [`media_form`] reads.
pub const MEDIA_FORM_BOUNDARY: &str = "fuzzboundary";

/// `POST /v1/images/edits` and `/v1/audio/transcriptions`: a multipart
/// body (boundary [`MEDIA_FORM_BOUNDARY`]) read within the size limit, its
/// form read as an image edit and as a transcription and translated for a
/// Gemini model. Each translation made is a `generateContent` body.
pub fn media_form(body: &[u8]) -> Result<(), String> {
    let mut headers = HeaderMap::new();
    let content_type = format!("multipart/form-data; boundary={MEDIA_FORM_BOUNDARY}");
    if let Ok(value) = content_type.parse() {
        headers.insert(http::header::CONTENT_TYPE, value);
    }
    let (_, upload) =
        crate::multipart::read_upload(&headers, Body::from(body.to_vec()), MAX_BODY_BYTES)
            .now_or_never()
            .expect("a body held in memory is read at once")
            .map_err(|error| error.to_string())?;
    if let Ok(form) = crate::dispatch::media_gemini::edit_form(&upload)
        && let Ok(gemini) = airlock_providers::translate::openai_image_edit_to_gemini(
            &form,
            "gemini-2.5-flash-image",
        )
    {
        assert!(gemini.body["contents"].is_array(), "{}", gemini.body);
    }
    if let Ok(form) = crate::dispatch::media_gemini::transcription_form(&upload)
        && let Ok(gemini) = airlock_providers::translate::openai_transcription_to_gemini(&form)
    {
        assert!(gemini.body["contents"].is_array(), "{}", gemini.body);
    }
    Ok(())
}

/// `GET /media/{id}`: the id, the signature of a URL (never valid for a
/// key the fuzzer does not have), and a `Range` header against an object
/// of `size` bytes, whose part must lie within it.
pub fn media_url(
    id: &str,
    expires: Option<&str>,
    signature: Option<&str>,
    range: Option<&str>,
    size: u64,
) {
    let _ = crate::media::content_type_of_id(id);
    let signer = crate::media::UrlSigner::new(b"a key the fuzzer cannot know");
    assert!(signer.check(id, None, expires, signature, 0).is_err());
    if let crate::media::range::Wanted::Part(part) = crate::media::range::wanted(range, size) {
        assert!(
            part.start < part.end && part.end <= size,
            "{part:?} of {size}"
        );
    }
}

/// A stored picture resized as a variant: any bytes, refused or rendered,
/// never a panic.
pub fn media_variant(bytes: &[u8]) {
    let thumb = crate::media::Variant {
        width: 16,
        format: crate::media::VariantFormat::Png,
    };
    let _ = crate::media::variants::render(bytes, thumb);
}

/// A request's cache key, as dispatch makes it for each operation (the
/// body as sent, streamed or not); the same body must give the same key.
pub fn cache_keys(body: &[u8]) {
    use crate::cache::key::{KeyInput, cache_key};
    let operations = [
        Operation::ChatCompletions,
        Operation::Embeddings,
        Operation::ImageGenerations,
        Operation::Speech,
        Operation::Responses,
        Operation::GeminiMethod(GeminiMethod::GenerateContent),
        Operation::GeminiMethod(GeminiMethod::StreamGenerateContent),
        Operation::GeminiMethod(GeminiMethod::EmbedContent),
        Operation::GeminiMethod(GeminiMethod::CountTokens),
    ];
    for operation in operations {
        for stream in [false, true] {
            let input = KeyInput {
                project_id: Some("proj"),
                operation,
                provider: "provider",
                upstream_model: "model",
                body,
                upload: None,
                stream,
                sse: stream,
            };
            let first = cache_key(&input).map(|keyed| (keyed.key, keyed.random));
            let again = cache_key(&input).map(|keyed| (keyed.key, keyed.random));
            assert_eq!(first, again, "a key is a function of its request");
        }
    }
}

/// A pre-generation job's file read as JSON Lines and as a JSON array:
/// every line is an item or rejected with its number, never both.
pub fn pregeneration_file(body: &[u8]) {
    for as_array in [false, true] {
        if let Ok((items, rejected)) = crate::pregen::items::read_items(body, as_array) {
            let mut lines: Vec<u64> = items
                .iter()
                .filter_map(|item| item["line"].as_u64())
                .chain(rejected.iter().map(|r| r.line as u64))
                .collect();
            assert_eq!(
                lines.len(),
                items.len() + rejected.len(),
                "every item has its line"
            );
            lines.sort_unstable();
            lines.dedup();
            assert_eq!(
                lines.len(),
                items.len() + rejected.len(),
                "a line is one item or one rejection"
            );
        }
    }
}
