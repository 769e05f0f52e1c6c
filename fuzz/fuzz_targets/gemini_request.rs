//! The Gemini surface's request readers: the `model:method` path of
//! `POST /{version}/models/{path}` and its body, and the Interactions API's
//! create body. Input: the path on the first line (`interactions` for the
//! Interactions API), then the body.
#![no_main]

use airlock_gateway::fuzzing::{gemini_request, interactions_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (path, body) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (data, &[][..]),
    };
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    if path == "interactions" {
        if let Ok(request) = interactions_request(Some("application/json"), body) {
            // The engine's request: a Responses request, with its model.
            assert!(serde_json::to_string(&request).is_ok());
        }
        return;
    }
    if let Ok(read) = gemini_request(path, None, body) {
        let model = read.model.as_str();
        assert!(!model.is_empty() && !model.contains("..") && !model.contains('/'));
        assert!(path.starts_with(model), "the model is the path's own");
        assert_eq!(read.body_len, body.len());
        assert!(serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok());
    }
});
