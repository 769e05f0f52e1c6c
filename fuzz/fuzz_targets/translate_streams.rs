//! Stream translation: Gemini chunks → chat chunks (and their grounding)
//! → Responses API events → Interactions API events, each translator also
//! fed the chunks directly as its own input. Input: JSON values, one per
//! line. Properties: no panic, and every event made is a JSON object.
#![no_main]

use airlock_providers::translate::ChatStreamTranslator;
use airlock_providers::translate::interactions::InteractionsStreamTranslator;
use airlock_providers::translate::responses::ResponsesStreamTranslator;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn rfc3339(secs: u64) -> String {
    format!("@{secs}")
}

fn objects(events: Vec<Value>) -> Vec<Value> {
    for event in &events {
        assert!(event.is_object(), "{event}");
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let chunks: Vec<Value> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect();
    let request = json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]});

    // Gemini chunks all the way to Interactions events.
    let mut chat = ChatStreamTranslator::new("gemini-2.5-flash", "chatcmpl-1", 1, true);
    let mut responses = ResponsesStreamTranslator::new(&request, "resp_1", 1);
    let mut interactions = InteractionsStreamTranslator::new(rfc3339);
    let mut events = Vec::new();
    for chunk in &chunks {
        responses.read_gemini(chunk);
        for chat_chunk in objects(chat.push(chunk)) {
            events.extend(objects(responses.push(&chat_chunk)));
        }
    }
    for chat_chunk in objects(chat.finish()) {
        events.extend(objects(responses.push(&chat_chunk)));
    }
    events.extend(objects(responses.finish()));
    for event in &events {
        objects(interactions.push(event));
    }

    // Each translator on the chunks as its own input.
    let mut responses = ResponsesStreamTranslator::new(&request, "resp_2", 1);
    let mut interactions = InteractionsStreamTranslator::new(rfc3339);
    for chunk in &chunks {
        objects(responses.push(chunk));
        objects(interactions.push(chunk));
    }
    objects(responses.finish());
});
