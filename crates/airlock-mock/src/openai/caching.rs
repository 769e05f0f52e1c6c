//! OpenAI's prompt caching, as OpenAI documents it
//! (<https://developers.openai.com/api/docs/guides/prompt-caching>: "enabled
//! for all recent models, gpt-4o and newer", "automatically for prompts
//! that are 1024 tokens or longer"; the Prompt Caching 201 cookbook: "cache
//! hits occurring in increments of 128 tokens"), for every chat model the
//! simulator serves.
//!
//! Hits are reported as `usage.prompt_tokens_details.cached_tokens` (the
//! Responses API: `usage.input_tokens_details.cached_tokens`; 0 on a miss,
//! as OpenAI always sends it), in the complete answer and in a stream's
//! usage chunk (or final event); the prompt tokens still count them. The
//! cached prefix (see [`crate::prompt_cache`]) is read as the model reads
//! the prompt (each API's reader: chat's tool declarations then messages;
//! the Responses API's tools, instructions, then items); it is counted in
//! whole blocks of 128 tokens, so a hit is 1,024, 1,152, 1,280, ... tokens.

use super::catalog::OpenAiModel;
use crate::prompt_cache::Prefix;
use crate::server::MockServer;
use crate::tokens::Tally;

/// The fewest prompt tokens cached, and the shortest hit.
pub const MINIMUM: u64 = 1_024;

/// How many of a request's prompt tokens (`prompt`, as `read` reads them)
/// come from the cache; the request's prefix is remembered for the next
/// ones.
pub fn cached_tokens(
    server: &MockServer,
    model: &OpenAiModel,
    prompt: &Tally,
    read: impl FnOnce(&mut Prefix),
) -> u64 {
    if prompt.total() < MINIMUM {
        return 0;
    }
    let mut prefix = Prefix::new(model.id);
    read(&mut prefix);
    let hit = server.prompt_cache().read_through(&prefix).total();
    if hit >= MINIMUM { hit } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::request;
    use crate::tokens::Tokens;

    #[test]
    fn prompt_and_prefix_agree() {
        let body = serde_json::json!({
            "messages": [
                {"role": "system", "content": "s".repeat(5_000)},
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}]
        });
        let mut prefix = Prefix::new("gpt-4o");
        request::read_prompt(&body, &mut prefix);
        let mut tally = Tally::default();
        request::read_prompt(&body, &mut tally);
        assert_eq!(prefix.tokens(), tally);
        assert_eq!(tally, request::prompt_tokens(&body));
        assert_eq!(tally.audio, crate::tokens::MEDIA_PART_TOKENS);
        tally.mark(b"nothing");
        assert_eq!(tally, request::prompt_tokens(&body));
    }
}
