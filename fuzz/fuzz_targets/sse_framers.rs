//! The SSE parser and every stream framer, fed an upstream stream in
//! arbitrary pieces. Input: one byte seeding the piece sizes, then the
//! stream. Properties: the parser keeps every byte (its events' raw bytes
//! and the tail are the input), the passthrough framers change nothing, the
//! JSON-array framer writes one JSON array, and the translating framers
//! write only events whose data is JSON.
#![no_main]

use airlock_gateway::fuzzing::framers;
use airlock_providers::sse::SseParser;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Splits `stream` into pieces of 1 to 64 bytes, sizes drawn from `seed`.
fn pieces(seed: u8, stream: &[u8]) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 0x100;
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = (state % 64 + 1) as usize;
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let pieces = pieces(seed, stream);

    let mut parser = SseParser::new();
    let mut kept = Vec::new();
    for piece in &pieces {
        for event in parser.push(piece) {
            kept.extend_from_slice(&event.raw);
        }
    }
    kept.extend_from_slice(parser.remainder());
    assert_eq!(kept, stream, "the parser keeps every byte");

    for (name, mut framer) in framers() {
        let mut out = Vec::new();
        for piece in &pieces {
            for bytes in framer.push(piece) {
                out.extend_from_slice(&bytes);
            }
        }
        for bytes in framer.finish() {
            out.extend_from_slice(&bytes);
        }
        let _ = framer.take_usage();
        match name {
            "openai_sse" | "gemini_sse" | "responses_sse" => {
                assert_eq!(out, stream, "{name} passes the stream through");
            }
            "gemini_json_array" => {
                let array: Value = serde_json::from_slice(&out).expect("one JSON array");
                assert!(array.is_array());
            }
            "openai_sse_hiding_usage" => {}
            _ => {
                let text = String::from_utf8(out).expect("translated events are UTF-8");
                for line in text.lines() {
                    if let Some(data) = line.strip_prefix("data: ")
                        && data != "[DONE]"
                    {
                        let value: Value =
                            serde_json::from_str(data).expect("translated events are JSON");
                        assert!(value.is_object(), "{name}: {data}");
                    }
                }
            }
        }
    }
});
