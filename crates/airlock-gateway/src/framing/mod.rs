//! The stream framers: how each kind of upstream stream reaches the client.
//!
//! Upstream Gemini streams are always requested as SSE; a client that asked
//! for Google's JSON-array stream gets the same chunks reframed as one.
//!
//! Each framer reports the usage it sees, and what it generated
//! (`generated.rs`): the characters of generated content it relays, from
//! which the output of a stream the client left before the usage came is
//! estimated, and the digest of the answer's text, for its receipt.

use airlock_providers::sse::{SseEvent, SseParser};
use airlock_providers::translate::responses::ResponsesStreamTranslator;
use airlock_providers::translate::{ChatStreamTranslator, gemini_error_to_openai};
use airlock_providers::usage::{self, Usage};
use bytes::Bytes;
use serde_json::Value;

use crate::constitution::refusal::StreamForm;
use crate::relay::Framer;

mod generated;
mod media;
pub use generated::Generated;
pub use media::{AudioBytes, GeminiToSpeechEvents, MediaSse};

fn parse_event(event: &SseEvent) -> Option<Value> {
    if event.data.is_empty() || event.data == "[DONE]" {
        return None;
    }
    serde_json::from_str(&event.data).ok()
}

/// The code of the error event that ends a client's stream the provider's
/// stream broke off.
const INTERRUPTED: &str = "stream_interrupted";

/// An error chunk as OpenAI's chat stream carries one (the SDK raises it).
pub fn openai_stream_error(message: &str) -> Bytes {
    sse_data(&serde_json::json!({
        "error": {"message": message, "type": "api_error", "param": null, "code": INTERRUPTED}
    }))
}

/// The Responses API's `error` event.
pub fn responses_stream_error(message: &str) -> Bytes {
    responses_event(&serde_json::json!({
        "type": "error", "code": INTERRUPTED, "message": message, "param": null
    }))
}

/// An error chunk as Google's streams carry one (the SDK raises it).
fn gemini_stream_error(message: &str) -> Value {
    serde_json::json!({"error": {"code": 503, "message": message, "status": "UNAVAILABLE"}})
}

/// OpenAI SSE forwarded event by event; usage read from the chunks. When
/// Airlock itself asked for the usage chunk, it is kept from the client.
pub struct OpenAiSse {
    parser: SseParser,
    hide_usage_chunk: bool,
    usage: Option<Usage>,
    generated: Generated,
}

impl OpenAiSse {
    pub fn new(hide_usage_chunk: bool) -> Self {
        OpenAiSse {
            parser: SseParser::new(),
            hide_usage_chunk,
            usage: None,
            generated: Generated::default(),
        }
    }
}

impl Framer for OpenAiSse {
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        vec![openai_stream_error(message)]
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            let Some(value) = parse_event(&event) else {
                out.push(event.raw);
                continue;
            };
            self.generated.openai_chunk(&value);
            if let Some(found) = usage::from_openai(&value) {
                self.usage = Some(found);
                let usage_only = value
                    .get("choices")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty);
                if self.hide_usage_chunk && usage_only {
                    continue;
                }
            }
            out.push(event.raw);
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        vec![Bytes::copy_from_slice(self.parser.remainder())]
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        self.generated.chars()
    }

    fn generated(&mut self) -> Option<&mut Generated> {
        Some(&mut self.generated)
    }

    fn stream_form(&self) -> Option<StreamForm> {
        Some(StreamForm::OpenAiChat)
    }
}

/// OpenAI Responses API SSE forwarded event by event; usage read from the
/// event that ends the response (`response.completed`, `.incomplete`,
/// `.failed`), which carries the whole response.
#[derive(Default)]
pub struct ResponsesSse {
    parser: SseParser,
    usage: Option<Usage>,
    generated: Generated,
}

impl Framer for ResponsesSse {
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        vec![responses_stream_error(message)]
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            if let Some(value) = parse_event(&event) {
                self.generated.responses_event(&value);
                if let Some(found) = usage::from_openai_responses(&value["response"]) {
                    self.usage = Some(found);
                }
            }
            out.push(event.raw);
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        vec![Bytes::copy_from_slice(self.parser.remainder())]
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        self.generated.chars()
    }

    fn generated(&mut self) -> Option<&mut Generated> {
        Some(&mut self.generated)
    }

    fn stream_form(&self) -> Option<StreamForm> {
        Some(StreamForm::Responses)
    }
}

/// Gemini SSE forwarded unchanged; usage read from each chunk.
pub struct GeminiSse {
    parser: SseParser,
    usage: Option<Usage>,
    generated: Generated,
}

impl GeminiSse {
    pub fn new() -> Self {
        GeminiSse {
            parser: SseParser::new(),
            usage: None,
            generated: Generated::default(),
        }
    }
}

impl Framer for GeminiSse {
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        vec![Bytes::from(format!(
            "data: {}\r\n\r\n",
            gemini_stream_error(message)
        ))]
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let events = self.parser.push(chunk);
        for value in events.iter().filter_map(parse_event) {
            self.generated.gemini_chunk(&value);
            if let Some(found) = usage::from_gemini(&value) {
                self.usage = Some(found);
            }
        }
        events.into_iter().map(|event| event.raw).collect()
    }

    fn finish(&mut self) -> Vec<Bytes> {
        vec![Bytes::copy_from_slice(self.parser.remainder())]
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        self.generated.chars()
    }

    fn generated(&mut self) -> Option<&mut Generated> {
        Some(&mut self.generated)
    }

    fn stream_form(&self) -> Option<StreamForm> {
        Some(StreamForm::GeminiSse)
    }
}

/// Gemini SSE reframed as Google's streamed JSON array: `[{..}\n,\r\n{..}\n]`.
pub struct GeminiJsonArray {
    parser: SseParser,
    started: bool,
    usage: Option<Usage>,
    generated: Generated,
}

impl GeminiJsonArray {
    pub fn new() -> Self {
        GeminiJsonArray {
            parser: SseParser::new(),
            started: false,
            usage: None,
            generated: Generated::default(),
        }
    }
}

impl Framer for GeminiJsonArray {
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        let separator = if self.started { ",\r\n" } else { "[" };
        vec![Bytes::from(format!(
            "{separator}{}\n]",
            gemini_stream_error(message)
        ))]
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            let Some(value) = parse_event(&event) else {
                continue;
            };
            self.generated.gemini_chunk(&value);
            if let Some(found) = usage::from_gemini(&value) {
                self.usage = Some(found);
            }
            let separator = if std::mem::replace(&mut self.started, true) {
                ",\r\n"
            } else {
                "["
            };
            out.push(Bytes::from(format!("{separator}{}\n", event.data)));
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        let close = if self.started { "]" } else { "[]" };
        vec![Bytes::from_static(close.as_bytes())]
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        self.generated.chars()
    }

    fn generated(&mut self) -> Option<&mut Generated> {
        Some(&mut self.generated)
    }

    fn stream_form(&self) -> Option<StreamForm> {
        Some(StreamForm::GeminiJsonArray)
    }
}

/// Gemini SSE translated into OpenAI chat.completion.chunk SSE.
pub struct GeminiToOpenAiChat {
    parser: SseParser,
    translator: ChatStreamTranslator,
    usage: Option<Usage>,
    generated: Generated,
}

impl GeminiToOpenAiChat {
    pub fn new(translator: ChatStreamTranslator) -> Self {
        GeminiToOpenAiChat {
            parser: SseParser::new(),
            translator,
            usage: None,
            generated: Generated::default(),
        }
    }
}

fn sse_data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// A Gemini stream event on its way to translation.
enum GeminiEvent {
    /// An error Google sent inside the stream, in OpenAI's words.
    Error(Value),
    /// A chunk to translate (its usage already noted).
    Chunk(Value),
}

/// Reads a Gemini SSE event for a translating framer, noting its usage and
/// adding what it generated to `generated`.
fn read_gemini_event(
    event: &SseEvent,
    usage: &mut Option<Usage>,
    generated: &mut Generated,
) -> Option<GeminiEvent> {
    let value = parse_event(event)?;
    if value.get("error").is_some() {
        let body = serde_json::to_vec(&value).unwrap_or_default();
        let status = value["error"]["code"].as_u64().unwrap_or(500) as u16;
        return Some(GeminiEvent::Error(gemini_error_to_openai(status, &body)));
    }
    if let Some(found) = usage::from_gemini(&value) {
        *usage = Some(found);
    }
    generated.gemini_chunk(&value);
    Some(GeminiEvent::Chunk(value))
}

impl Framer for GeminiToOpenAiChat {
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        vec![openai_stream_error(message)]
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            match read_gemini_event(&event, &mut self.usage, &mut self.generated) {
                Some(GeminiEvent::Error(error)) => out.push(sse_data(&error)),
                Some(GeminiEvent::Chunk(value)) => {
                    out.extend(self.translator.push(&value).iter().map(sse_data));
                }
                None => {}
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = self.translator.finish().iter().map(sse_data).collect();
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        self.generated.chars()
    }

    fn generated(&mut self) -> Option<&mut Generated> {
        Some(&mut self.generated)
    }

    fn stream_form(&self) -> Option<StreamForm> {
        Some(StreamForm::OpenAiChat)
    }
}

/// Gemini SSE translated into OpenAI Responses API events, by way of chat
/// chunks (the chat translation carries thought signatures and tool calls).
pub struct GeminiToResponses {
    parser: SseParser,
    chat: ChatStreamTranslator,
    responses: ResponsesStreamTranslator,
    usage: Option<Usage>,
    generated: Generated,
}

impl GeminiToResponses {
    pub fn new(chat: ChatStreamTranslator, responses: ResponsesStreamTranslator) -> Self {
        GeminiToResponses {
            parser: SseParser::new(),
            chat,
            responses,
            usage: None,
            generated: Generated::default(),
        }
    }

    fn events(&mut self, chat_chunks: Vec<Value>) -> Vec<Bytes> {
        chat_chunks
            .iter()
            .flat_map(|chunk| self.responses.push(chunk))
            .map(|event| responses_event(&event))
            .collect()
    }
}

/// A Responses API event as SSE: its type as the event name.
fn responses_event(event: &Value) -> Bytes {
    let kind = event["type"].as_str().unwrap_or("message");
    Bytes::from(format!("event: {kind}\ndata: {event}\n\n"))
}

impl Framer for GeminiToResponses {
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        vec![responses_stream_error(message)]
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            match read_gemini_event(&event, &mut self.usage, &mut self.generated) {
                Some(GeminiEvent::Error(error)) => {
                    out.push(responses_event(&serde_json::json!({
                        "type": "error",
                        "code": error["error"]["code"],
                        "message": error["error"]["message"],
                        "param": error["error"]["param"],
                    })));
                }
                Some(GeminiEvent::Chunk(value)) => {
                    // Its grounding first: the chat chunks may close the text.
                    self.responses.read_gemini(&value);
                    let chat_chunks = self.chat.push(&value);
                    out.extend(self.events(chat_chunks));
                }
                None => {}
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        let chat_chunks = self.chat.finish();
        let mut out = self.events(chat_chunks);
        out.extend(self.responses.finish().iter().map(responses_event));
        out
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        self.generated.chars()
    }

    fn generated(&mut self) -> Option<&mut Generated> {
        Some(&mut self.generated)
    }

    fn stream_form(&self) -> Option<StreamForm> {
        Some(StreamForm::Responses)
    }
}

/// An OpenAI-compatible server's chat completion stream as the Responses
/// API's typed events (for servers that serve chat completions only); usage
/// read from the chunks.
pub struct ChatToResponses {
    parser: SseParser,
    responses: ResponsesStreamTranslator,
    usage: Option<Usage>,
    generated: Generated,
}

impl ChatToResponses {
    pub fn new(responses: ResponsesStreamTranslator) -> Self {
        ChatToResponses {
            parser: SseParser::new(),
            responses,
            usage: None,
            generated: Generated::default(),
        }
    }
}

impl Framer for ChatToResponses {
    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        vec![responses_stream_error(message)]
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            let Some(value) = parse_event(&event) else {
                continue;
            };
            if let Some(error) = value.get("error") {
                out.push(responses_event(&serde_json::json!({
                    "type": "error",
                    "code": error["code"],
                    "message": error["message"],
                    "param": error["param"],
                })));
                continue;
            }
            if let Some(found) = usage::from_openai(&value) {
                self.usage = Some(found);
            }
            self.generated.openai_chunk(&value);
            out.extend(self.responses.push(&value).iter().map(responses_event));
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        self.responses
            .finish()
            .iter()
            .map(responses_event)
            .collect()
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        self.generated.chars()
    }

    fn generated(&mut self) -> Option<&mut Generated> {
        Some(&mut self.generated)
    }

    fn stream_form(&self) -> Option<StreamForm> {
        Some(StreamForm::Responses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framer: &mut dyn Framer, input: &[u8]) -> String {
        let mut out: Vec<u8> = Vec::new();
        for piece in input.chunks(7) {
            for bytes in framer.push(piece) {
                out.extend_from_slice(&bytes);
            }
        }
        for bytes in framer.finish() {
            out.extend_from_slice(&bytes);
        }
        String::from_utf8(out).unwrap()
    }

    const GEMINI: &[u8] = b"data: {\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":3}}\r\n\r\n\
data: {\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":5}}\r\n\r\n";

    #[test]
    fn gemini_sse_passes_bytes_unchanged_and_reads_usage() {
        let mut framer = GeminiSse::new();
        assert_eq!(run(&mut framer, GEMINI).as_bytes(), GEMINI);
        assert_eq!(
            framer.take_usage(),
            Some(Usage {
                input: Some(3),
                output: Some(5),
                cached_input: Some(0),
                ..Usage::default()
            })
        );
    }

    #[test]
    fn gemini_json_array_is_valid_json() {
        let mut framer = GeminiJsonArray::new();
        let text = run(&mut framer, GEMINI);
        let parsed: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(run(&mut GeminiJsonArray::new(), b""), "[]");
    }

    #[test]
    fn openai_sse_hides_only_an_injected_usage_chunk() {
        let input = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";
        let mut hiding = OpenAiSse::new(true);
        let text = run(&mut hiding, input);
        assert!(!text.contains("prompt_tokens"));
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert_eq!(
            hiding.take_usage(),
            Some(Usage {
                input: Some(2),
                output: Some(1),
                ..Usage::default()
            })
        );
        let mut keeping = OpenAiSse::new(false);
        assert_eq!(run(&mut keeping, input).as_bytes(), input);
    }

    #[test]
    fn framers_count_the_generated_characters_they_relay() {
        // OpenAI chat: content (é is one character), refusal and tool-call
        // argument deltas; roles, ids and usage are not content.
        let chat = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Héllo\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"refusal\":\"no\"}},{\"delta\":{\"tool_calls\":[{\"id\":\"call_1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";
        let mut openai = OpenAiSse::new(true);
        run(&mut openai, chat.as_bytes());
        assert_eq!(openai.output_chars(), 5 + 2 + 7);
        let mut responses = ChatToResponses::new(ResponsesStreamTranslator::new(
            &serde_json::json!({"model": "m"}),
            "resp_1",
            0,
        ));
        run(&mut responses, chat.as_bytes());
        assert_eq!(responses.output_chars(), 14);

        // Gemini: text parts (thoughts too) and function calls (name and
        // compact arguments), in every framing of its stream.
        let gemini = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"plan\",\"thought\":true},{\"text\":\"Hi there\"}]}}]}\r\n\r\n\
data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}}]}}],\"usageMetadata\":{\"promptTokenCount\":3}}\r\n\r\n";
        let expected = 4 + 8 + 1 + 7;
        let framers: Vec<Box<dyn Framer>> = vec![
            Box::new(GeminiSse::new()),
            Box::new(GeminiJsonArray::new()),
            Box::new(GeminiToOpenAiChat::new(ChatStreamTranslator::new(
                "m",
                "chatcmpl-1",
                0,
                true,
            ))),
            Box::new(GeminiToResponses::new(
                ChatStreamTranslator::new("m", "chatcmpl-1", 0, true),
                ResponsesStreamTranslator::new(&serde_json::json!({"model": "m"}), "resp_1", 0),
            )),
        ];
        for mut framer in framers {
            run(framer.as_mut(), gemini.as_bytes());
            assert_eq!(framer.output_chars(), expected);
        }

        // The Responses API: its deltas, not the `.done` events that repeat them.
        let events = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hey\"}\n\n\
event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"text\":\"Hey\"}\n\n\
event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"delta\":\"{}\"}\n\n";
        let mut responses = ResponsesSse::default();
        run(&mut responses, events.as_bytes());
        assert_eq!(responses.output_chars(), 5);
    }
}
