//! The realtime relay's frame readers: a Gemini Live or OpenAI Realtime
//! session's frames read by the protocol's dialect (the Gemini setup
//! first), tool calls answered. Input: lines; the first names the protocol
//! (`openai`, else Gemini Live), each later one is a frame, `>` from the
//! client or `<` from the provider. Properties: no panic, and every frame
//! Airlock writes itself is a JSON object.
#![no_main]

use airlock_gateway::fuzzing::{Frame, Realtime, realtime_session};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let protocol = match lines.next() {
        Some(b"openai") => Realtime::OpenAiRealtime,
        _ => Realtime::GeminiLive,
    };
    let frames: Vec<Frame<'_>> = lines
        .filter_map(|line| match line.split_first() {
            Some((b'>', frame)) => Some(Frame::FromClient(frame)),
            Some((b'<', frame)) => Some(Frame::FromProvider(frame)),
            _ => None,
        })
        .collect();
    let (_noted, written, _closed) = realtime_session(protocol, &frames);
    for message in written {
        let text = message.to_text().expect("Airlock writes text frames");
        let value: Value = serde_json::from_str(text).expect("Airlock writes JSON");
        assert!(value.is_object());
    }
});
