//! The OpenAI surface's request reader (`/v1/chat/completions`,
//! `/v1/embeddings`): content type, UTF-8, the JSON object and the fields
//! dispatch reads. Input: one byte choosing the endpoint (bit 0) and the
//! content type (bits 1–2), then the body.
#![no_main]

use airlock_gateway::fuzzing::openai_request;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let embeddings = choice & 1 == 1;
    let content_type = CONTENT_TYPES[usize::from(choice >> 1) & 3];
    if let Ok(read) = openai_request(content_type, body, embeddings) {
        assert!(content_type.is_none_or(|t| t.starts_with("application/json")));
        assert!(!read.model.is_empty(), "a request names its model");
        assert_eq!(read.body_len, body.len(), "the body is passed on whole");
        assert!(std::str::from_utf8(body).is_ok(), "only UTF-8 is read");
        if embeddings {
            assert_eq!(read.max_output, Some(0));
        }
    }
});
