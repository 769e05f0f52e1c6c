//! The framers of OpenAI's media streams: image generation and speech
//! events (SSE, passed through with their usage read), speech as audio
//! bytes (passed through as they arrive), and Gemini's speech stream
//! translated into OpenAI's `speech.audio.*` events.

use airlock_providers::sse::SseParser;
use airlock_providers::translate::{
    gemini_speech_chunk_to_openai_events, openai_speech_done_event,
};
use airlock_providers::usage::Usage;
use bytes::Bytes;
use serde_json::Value;

use super::{
    GeminiEvent, Generated, openai_stream_error, parse_event, read_gemini_event, sse_data,
};
use crate::dispatch::UsageReader;
use crate::relay::Framer;

/// OpenAI media events (`image_generation.*`, `speech.audio.*`,
/// `transcript.text.*`) forwarded event by event; the usage read by
/// `usage` from the event that carries it.
pub struct MediaSse {
    parser: SseParser,
    read_usage: UsageReader,
    usage: Option<Usage>,
}

impl MediaSse {
    pub fn new(read_usage: UsageReader) -> Self {
        MediaSse {
            parser: SseParser::new(),
            read_usage,
            usage: None,
        }
    }
}

impl Framer for MediaSse {
    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let events = self.parser.push(chunk);
        for value in events.iter().filter_map(parse_event) {
            if let Some(found) = (self.read_usage)(&value) {
                self.usage = Some(found);
            }
        }
        events.into_iter().map(|event| event.raw).collect()
    }

    fn finish(&mut self) -> Vec<Bytes> {
        vec![Bytes::copy_from_slice(self.parser.remainder())]
    }

    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        vec![openai_stream_error(message)]
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        0
    }
}

/// Audio bytes passed through as they arrive, with the usage known before
/// the call (OpenAI reports none with audio bytes). A stream that breaks
/// off just ends: audio has no error event, and the client's decoder sees
/// the cut.
pub struct AudioBytes {
    pub usage: Option<Usage>,
}

impl Framer for AudioBytes {
    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        vec![Bytes::copy_from_slice(chunk)]
    }

    fn finish(&mut self) -> Vec<Bytes> {
        Vec::new()
    }

    fn fail(&mut self, _message: &str) -> Vec<Bytes> {
        Vec::new()
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        0
    }
}

/// A Gemini TTS stream (`streamGenerateContent`) as OpenAI's speech
/// events: each chunk's audio as `speech.audio.delta`, then
/// `speech.audio.done` with the stream's usage.
pub struct GeminiToSpeechEvents {
    parser: SseParser,
    usage: Option<Usage>,
    /// The last `usageMetadata` seen, for the done event.
    usage_metadata: Value,
    generated: Generated,
}

impl GeminiToSpeechEvents {
    pub fn new() -> Self {
        GeminiToSpeechEvents {
            parser: SseParser::new(),
            usage: None,
            usage_metadata: Value::Null,
            generated: Generated::default(),
        }
    }
}

impl Framer for GeminiToSpeechEvents {
    fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            match read_gemini_event(&event, &mut self.usage, &mut self.generated) {
                Some(GeminiEvent::Error(error)) => out.push(sse_data(&error)),
                Some(GeminiEvent::Chunk(value)) => {
                    if let Some(metadata) = value.get("usageMetadata") {
                        self.usage_metadata = metadata.clone();
                    }
                    let events = gemini_speech_chunk_to_openai_events(&value);
                    out.extend(events.iter().map(sse_data));
                }
                None => {}
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        vec![sse_data(&openai_speech_done_event(&self.usage_metadata))]
    }

    fn fail(&mut self, message: &str) -> Vec<Bytes> {
        vec![openai_stream_error(message)]
    }

    fn take_usage(&mut self) -> Option<Usage> {
        self.usage.take()
    }

    fn output_chars(&self) -> u64 {
        self.generated.chars()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_providers::usage;

    #[test]
    fn media_events_pass_through_and_their_usage_is_read() {
        let mut framer = MediaSse::new(usage::from_openai_speech);
        let delta = b"data: {\"type\":\"speech.audio.delta\",\"audio\":\"AAAA\"}\n\n";
        let done = b"data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":3,\"output_tokens\":40,\"total_tokens\":43}}\n\n";
        let out: Vec<u8> = framer.push(delta).concat();
        assert_eq!(out, delta);
        assert_eq!(framer.take_usage(), None);
        let out: Vec<u8> = [framer.push(&done[..20]), framer.push(&done[20..])]
            .concat()
            .concat();
        assert_eq!(out, done);
        let usage = framer.take_usage().unwrap();
        assert_eq!((usage.input, usage.output_audio), (Some(3), Some(40)));
        let error = String::from_utf8(framer.fail("cut").concat()).unwrap();
        assert!(
            error.contains("\"error\"") && error.contains("cut"),
            "{error}"
        );
    }

    #[test]
    fn gemini_speech_chunks_become_speech_events_with_the_usage_at_the_end() {
        let mut framer = GeminiToSpeechEvents::new();
        let chunk = |data: &str, usage: &str| {
            format!(
                "data: {{\"candidates\":[{{\"content\":{{\"role\":\"model\",\"parts\":[{{\"inlineData\":{{\"mimeType\":\"audio/L16;codec=pcm;rate=24000\",\"data\":\"{data}\"}}}}]}}}}]{usage}}}\r\n\r\n"
            )
        };
        let first = framer.push(chunk("AAAA", "").as_bytes());
        let last = framer.push(
            chunk(
                "BBBB",
                ",\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":18,\"totalTokenCount\":23}",
            )
            .as_bytes(),
        );
        let events: Vec<Value> = [first, last, framer.finish()]
            .concat()
            .iter()
            .map(|bytes| {
                let text = std::str::from_utf8(bytes).unwrap();
                serde_json::from_str(text.trim().strip_prefix("data: ").unwrap()).unwrap()
            })
            .collect();
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[0]["type"], "speech.audio.delta");
        assert_eq!(events[0]["audio"], "AAAA");
        assert_eq!(events[1]["audio"], "BBBB");
        assert_eq!(events[2]["type"], "speech.audio.done");
        assert_eq!(events[2]["usage"]["output_tokens"], 18);
        let usage = framer.take_usage().unwrap();
        assert_eq!((usage.input, usage.output), (Some(5), Some(18)));
    }

    #[test]
    fn audio_bytes_pass_through_unchanged_with_the_usage_known_before() {
        let known = Usage {
            input: Some(12),
            ..Usage::default()
        };
        let mut framer = AudioBytes { usage: Some(known) };
        assert_eq!(
            framer.push(b"\xff\xfb\x90"),
            [Bytes::from_static(b"\xff\xfb\x90")]
        );
        assert!(framer.finish().is_empty() && framer.fail("cut").is_empty());
        assert_eq!(framer.take_usage(), Some(known));
    }
}
