//! Token usage as each protocol reports it.
//!
//! Both providers count cached and media tokens inside their totals: Gemini's
//! `promptTokenCount` includes `cachedContentTokenCount` (and every
//! modality of `promptTokensDetails`), OpenAI's `prompt_tokens` includes
//! `prompt_tokens_details.cached_tokens` and `.audio_tokens`. So do the
//! fields here: `cached_input`, `input_audio` and `input_image` are parts of
//! `input`; `output_audio` and `output_image` parts of `output`. Gemini's
//! `toolUsePromptTokenCount` (what the URL context tool read) is billed as
//! input and counted in `input`.
//!
//! Web searches are counted from the answer, for
//! [`pricing`](crate::pricing): a Gemini candidate's
//! `groundingMetadata.webSearchQueries` (one search step for all
//! candidates, so the largest count), and whether any ran (a grounded
//! prompt); an OpenAI Responses answer's `web_search_call` items, told
//! apart by the tool the request offered (`web_search_preview` is priced
//! apart). In a Gemini stream the grounding comes with the last chunk,
//! whose usage the framers keep.

use serde_json::Value;

use crate::pricing::Searches;

/// Tokens in and out of one generation, as far as the provider said.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input: Option<u64>,
    pub output: Option<u64>,
    /// Input tokens read from the provider's prompt cache.
    pub cached_input: Option<u64>,
    /// Input tokens of audio, and of images (Gemini reports both by
    /// modality; OpenAI audio only).
    pub input_audio: Option<u64>,
    pub input_image: Option<u64>,
    /// Output tokens of generated audio and images.
    pub output_audio: Option<u64>,
    pub output_image: Option<u64>,
    /// Images generated (for models priced per image).
    pub images: Option<u64>,
    /// Milliseconds of audio (for models priced by time: whisper-1).
    pub audio_ms: Option<u64>,
    /// Requests grounded with Google Search (1 when the answer ran a
    /// search, else 0; `None` when the answer says nothing of it).
    pub grounded_prompts: Option<u64>,
    /// Web searches run: Gemini's queries, OpenAI's `web_search` calls.
    pub web_searches: Option<u64>,
    /// OpenAI calls of the `web_search_preview` tool.
    pub preview_web_searches: Option<u64>,
}

impl Usage {
    /// The web searches reported, when the answer said anything of them.
    pub fn searches(&self) -> Option<Searches> {
        let counts = [
            self.grounded_prompts,
            self.web_searches,
            self.preview_web_searches,
        ];
        counts.iter().any(Option::is_some).then(|| Searches {
            grounded_prompts: self.grounded_prompts.unwrap_or(0),
            web_searches: self.web_searches.unwrap_or(0),
            preview_web_searches: self.preview_web_searches.unwrap_or(0),
        })
    }
}

/// The `tokenCount` of `modality` in a Gemini `ModalityTokenCount` list;
/// `None` when the list is missing, 0 when it lacks the modality.
fn gemini_modality(details: Option<&Value>, modality: &str) -> Option<u64> {
    let details = details?.as_array()?;
    Some(
        details
            .iter()
            .filter(|d| d["modality"] == modality)
            .filter_map(|d| d["tokenCount"].as_u64())
            .sum(),
    )
}

/// From a Gemini response's `usageMetadata` (thinking tokens count as
/// output). A count Gemini leaves out is 0 when the prompt was counted
/// (proto3 JSON leaves zeros out): a response without
/// `cachedContentTokenCount` read nothing from the cache.
pub fn from_gemini(response: &Value) -> Option<Usage> {
    let meta = response.get("usageMetadata")?;
    let count = |field: &str| meta.get(field).and_then(Value::as_u64);
    let output = match (count("candidatesTokenCount"), count("thoughtsTokenCount")) {
        (None, None) => None,
        (candidates, thoughts) => Some(candidates.unwrap_or(0) + thoughts.unwrap_or(0)),
    };
    let input = count("promptTokenCount")
        .map(|prompt| prompt.saturating_add(count("toolUsePromptTokenCount").unwrap_or(0)));
    let prompt_details = meta.get("promptTokensDetails");
    let output_details = meta.get("candidatesTokensDetails");
    let queries = gemini_search_queries(response);
    Some(Usage {
        input,
        output,
        cached_input: input.map(|_| count("cachedContentTokenCount").unwrap_or(0)),
        input_audio: gemini_modality(prompt_details, "AUDIO"),
        input_image: gemini_modality(prompt_details, "IMAGE"),
        output_audio: gemini_modality(output_details, "AUDIO"),
        output_image: gemini_modality(output_details, "IMAGE"),
        grounded_prompts: queries.map(|n| u64::from(n > 0)),
        web_searches: queries,
        preview_web_searches: None,
        images: None,
        audio_ms: None,
    })
}

/// `usage` with the web searches a complete answer's `body` reports, for
/// a relayed answer whose usage was read from its usage members alone. The
/// body is parsed whole only when it mentions grounding or a search call,
/// so answers without a search cost a scan and no more.
pub fn with_searches(mut usage: Usage, body: &[u8]) -> Usage {
    let Ok(text) = std::str::from_utf8(body) else {
        return usage;
    };
    if !text.contains("\"groundingMetadata\"") && !text.contains("\"web_search_call\"") {
        return usage;
    }
    let Ok(answer) = serde_json::from_str::<Value>(text) else {
        return usage;
    };
    if answer.get("candidates").is_some() {
        let queries = gemini_search_queries(&answer);
        usage.grounded_prompts = queries.map(|n| u64::from(n > 0));
        usage.web_searches = queries;
    } else if let Some((web, preview)) = openai_web_searches(&answer) {
        usage.web_searches = Some(web);
        usage.preview_web_searches = Some(preview);
    }
    usage
}

/// The search queries of a Gemini answer's grounding (the most any
/// candidate reports); `None` when no candidate is grounded.
fn gemini_search_queries(response: &Value) -> Option<u64> {
    response["candidates"]
        .as_array()?
        .iter()
        .filter_map(|c| c.get("groundingMetadata").filter(|m| m.is_object()))
        .map(|m| {
            m["webSearchQueries"]
                .as_array()
                .map_or(0, |q| q.len() as u64)
        })
        .max()
}

/// From an OpenAI response's `usage` (chat completions and embeddings; a
/// stream's usage chunk has the same shape). Details an OpenAI-compatible
/// server does not send stay `None`.
pub fn from_openai(response: &Value) -> Option<Usage> {
    let usage = response.get("usage").filter(|u| u.is_object())?;
    let count = |field: &str| usage.get(field).and_then(Value::as_u64);
    let detail = |details: &str, field: &str| usage[details].get(field).and_then(Value::as_u64);
    Some(Usage {
        input: count("prompt_tokens"),
        output: count("completion_tokens"),
        cached_input: detail("prompt_tokens_details", "cached_tokens"),
        input_audio: detail("prompt_tokens_details", "audio_tokens"),
        input_image: None,
        output_audio: detail("completion_tokens_details", "audio_tokens"),
        output_image: None,
        ..Usage::default()
    })
}

/// From an OpenAI images answer (or its stream's
/// `image_generation.completed` event): the images in `data`, and the
/// `usage` tokens gpt-image models report, every output token an image's.
pub fn from_openai_images(response: &Value) -> Option<Usage> {
    let images = response
        .get("data")
        .and_then(Value::as_array)
        .map(|data| data.len() as u64);
    let usage = media_usage(response);
    if images.is_none() && usage.is_none() {
        return None;
    }
    let usage = usage.unwrap_or_default();
    Some(Usage {
        output_image: usage.output,
        images,
        ..usage
    })
}

/// From the `usage` of OpenAI's `speech.audio.done` event: every output
/// token is audio.
pub fn from_openai_speech(response: &Value) -> Option<Usage> {
    let usage = media_usage(response)?;
    Some(Usage {
        output_audio: usage.output,
        ..usage
    })
}

/// From the `usage` of an OpenAI transcription: tokens, or whisper-1's
/// `duration` usage (seconds of audio).
pub fn from_openai_transcription(response: &Value) -> Option<Usage> {
    let usage = response.get("usage")?;
    if usage["type"] == "duration" {
        let seconds = usage["seconds"].as_f64()?;
        return Some(Usage {
            audio_ms: Some((seconds.max(0.0) * 1000.0).round() as u64),
            ..Usage::default()
        });
    }
    media_usage(response)
}

/// `input_tokens`, `output_tokens` and the input's modalities, as OpenAI's
/// image, speech and transcription usages report them (transcriptions say
/// `input_token_details`, images `input_tokens_details`).
fn media_usage(response: &Value) -> Option<Usage> {
    let usage = response
        .get("usage")
        .filter(|u| u.is_object() && u["type"] != "duration")?;
    let details = ["input_tokens_details", "input_token_details"]
        .iter()
        .map(|field| &usage[field])
        .find(|details| details.is_object())
        .unwrap_or(&Value::Null);
    Some(Usage {
        input: usage["input_tokens"].as_u64(),
        output: usage["output_tokens"].as_u64(),
        input_audio: details["audio_tokens"].as_u64(),
        input_image: details["image_tokens"].as_u64(),
        ..Usage::default()
    })
}

/// From an OpenAI Responses API response's `usage` (`input_tokens`,
/// `output_tokens` and their details; reasoning tokens are part of the
/// output). A stream's `response.completed` event carries the same object.
pub fn from_openai_responses(response: &Value) -> Option<Usage> {
    let usage = response.get("usage").filter(|u| u.is_object())?;
    let count = |field: &str| usage.get(field).and_then(Value::as_u64);
    let searches = openai_web_searches(response);
    Some(Usage {
        input: count("input_tokens"),
        output: count("output_tokens"),
        cached_input: usage["input_tokens_details"]
            .get("cached_tokens")
            .and_then(Value::as_u64),
        web_searches: searches.map(|(web, _)| web),
        preview_web_searches: searches.map(|(_, preview)| preview),
        ..Usage::default()
    })
}

/// The `web_search_call` items of a Responses answer: of the `web_search`
/// tool, and of `web_search_preview` (when the answer's `tools` offer only
/// the preview); `None` without an `output` list.
fn openai_web_searches(response: &Value) -> Option<(u64, u64)> {
    let calls = response["output"]
        .as_array()?
        .iter()
        .filter(|i| i["type"] == "web_search_call")
        .count() as u64;
    let offered = |prefix: &str| {
        response["tools"].as_array().is_some_and(|tools| {
            tools.iter().any(|t| {
                t["type"].as_str().is_some_and(|kind| {
                    kind.strip_prefix(prefix)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with("_2"))
                })
            })
        })
    };
    Some(if offered("web_search_preview") && !offered("web_search") {
        (0, calls)
    } else {
        (calls, 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(input: u64, output: Option<u64>) -> Usage {
        Usage {
            input: Some(input),
            output,
            ..Usage::default()
        }
    }

    #[test]
    fn reads_responses_usage_with_cached_input() {
        let r = json!({"usage": {"input_tokens": 40, "input_tokens_details": {"cached_tokens": 32}, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 49}});
        assert_eq!(
            from_openai_responses(&r),
            Some(Usage {
                cached_input: Some(32),
                ..tokens(40, Some(9))
            })
        );
        assert_eq!(from_openai_responses(&json!({"usage": null})), None);
    }

    #[test]
    fn reads_gemini_usage_with_thoughts() {
        let r = json!({"usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2}});
        assert_eq!(
            from_gemini(&r),
            Some(Usage {
                cached_input: Some(0),
                ..tokens(7, Some(5))
            })
        );
        assert_eq!(from_gemini(&json!({})), None);
    }

    #[test]
    fn reads_gemini_cached_and_media_tokens() {
        let r = json!({"usageMetadata": {
            "promptTokenCount": 3000, "candidatesTokenCount": 1300, "totalTokenCount": 4300,
            "cachedContentTokenCount": 2432,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2742}, {"modality": "AUDIO", "tokenCount": 258}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 2432}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 10}, {"modality": "IMAGE", "tokenCount": 1290}]
        }});
        assert_eq!(
            from_gemini(&r),
            Some(Usage {
                input: Some(3000),
                output: Some(1300),
                cached_input: Some(2432),
                input_audio: Some(258),
                input_image: Some(0),
                output_audio: Some(0),
                output_image: Some(1290),
                ..Usage::default()
            })
        );
        // Nothing counted yet: no cache reading either.
        let early = json!({"usageMetadata": {"candidatesTokenCount": 1}});
        assert_eq!(from_gemini(&early).unwrap().cached_input, None);
    }

    #[test]
    fn reads_gemini_searches_and_tool_use_tokens() {
        let grounded = json!({
            "candidates": [
                {"groundingMetadata": {"webSearchQueries": ["a", "b"], "groundingChunks": []}},
                {"groundingMetadata": {"webSearchQueries": ["a", "b"]}}
            ],
            "usageMetadata": {"promptTokenCount": 10, "toolUsePromptTokenCount": 900, "candidatesTokenCount": 4}
        });
        let usage = from_gemini(&grounded).unwrap();
        assert_eq!(usage.input, Some(910), "tool-use tokens are input");
        assert_eq!(
            (usage.grounded_prompts, usage.web_searches),
            (Some(1), Some(2)),
            "one search step for all candidates"
        );
        let read_only = json!({"candidates": [{"groundingMetadata": {"groundingChunks": [{"web": {"uri": "u"}}]}}],
                               "usageMetadata": {"promptTokenCount": 3}});
        let usage = from_gemini(&read_only).unwrap();
        assert_eq!(
            (usage.grounded_prompts, usage.web_searches),
            (Some(0), Some(0)),
            "URL context alone is no search"
        );
        assert_eq!(
            usage.searches(),
            Some(Searches {
                grounded_prompts: 0,
                web_searches: 0,
                preview_web_searches: 0
            })
        );
        let plain =
            from_gemini(&json!({"candidates": [{}], "usageMetadata": {"promptTokenCount": 3}}))
                .unwrap();
        assert_eq!((plain.grounded_prompts, plain.web_searches), (None, None));
        assert_eq!(plain.searches(), None);
    }

    #[test]
    fn relayed_answers_get_their_searches_from_the_body() {
        let tokens = Usage {
            input: Some(5),
            ..Usage::default()
        };
        let gemini = br#"{"candidates": [{"content": {"parts": [{"text": "Hi."}]},
            "groundingMetadata": {"webSearchQueries": ["a", "b", "c"]}}], "usageMetadata": {}}"#;
        let found = with_searches(tokens, gemini);
        assert_eq!(
            (found.input, found.grounded_prompts, found.web_searches),
            (Some(5), Some(1), Some(3))
        );
        let openai = br#"{"tools": [{"type": "web_search"}], "output": [{"type": "web_search_call"}], "usage": {}}"#;
        let found = with_searches(tokens, openai);
        assert_eq!(
            (found.web_searches, found.preview_web_searches),
            (Some(1), Some(0))
        );
        for plain in [
            &br#"{"candidates": [{"content": {}}], "usageMetadata": {}}"#[..],
            br#"{"text": "the word "groundingMetadata" in prose", "usage": {}}"#,
            b"\xff not utf-8",
            br#"{"groundingMetadata" broken"#,
        ] {
            assert_eq!(with_searches(tokens, plain), tokens);
        }
    }

    #[test]
    fn reads_openai_web_search_calls_by_tool() {
        let answer = |tools: Value| {
            json!({"tools": tools, "usage": {"input_tokens": 5, "output_tokens": 2},
                   "output": [{"type": "web_search_call"}, {"type": "web_search_call"}, {"type": "message"}]})
        };
        let ga =
            from_openai_responses(&answer(json!([{"type": "web_search_2025_08_26"}]))).unwrap();
        assert_eq!(
            (ga.web_searches, ga.preview_web_searches),
            (Some(2), Some(0))
        );
        let preview =
            from_openai_responses(&answer(json!([{"type": "web_search_preview"}]))).unwrap();
        assert_eq!(
            (preview.web_searches, preview.preview_web_searches),
            (Some(0), Some(2))
        );
        let none =
            from_openai_responses(&json!({"usage": {"input_tokens": 5}, "output": []})).unwrap();
        assert_eq!(
            (none.web_searches, none.preview_web_searches),
            (Some(0), Some(0))
        );
        let unsaid = from_openai_responses(&json!({"usage": {"input_tokens": 5}})).unwrap();
        assert_eq!(
            (unsaid.web_searches, unsaid.preview_web_searches),
            (None, None)
        );
    }

    #[test]
    fn reads_openai_usage_and_ignores_null() {
        let r = json!({"usage": {"prompt_tokens": 4, "completion_tokens": 9, "total_tokens": 13}});
        assert_eq!(from_openai(&r), Some(tokens(4, Some(9))));
        assert_eq!(from_openai(&json!({"usage": null})), None);
        let embeddings = json!({"usage": {"prompt_tokens": 4, "total_tokens": 4}});
        assert_eq!(from_openai(&embeddings), Some(tokens(4, None)));
    }

    #[test]
    fn reads_openai_cached_and_audio_tokens() {
        let r = json!({"usage": {
            "prompt_tokens": 1500, "completion_tokens": 20, "total_tokens": 1520,
            "prompt_tokens_details": {"cached_tokens": 1408, "audio_tokens": 258},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 12,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        }});
        assert_eq!(
            from_openai(&r),
            Some(Usage {
                cached_input: Some(1408),
                input_audio: Some(258),
                output_audio: Some(12),
                ..tokens(1500, Some(20))
            })
        );
        let odd = json!({"usage": {"prompt_tokens": 5, "prompt_tokens_details": null}});
        assert_eq!(from_openai(&odd), Some(tokens(5, None)));
    }

    #[test]
    fn reads_media_usages_by_modality() {
        let images = json!({"usage": {"input_tokens": 50, "output_tokens": 1056, "total_tokens": 1106, "input_tokens_details": {"text_tokens": 10, "image_tokens": 40}}});
        let usage = from_openai_images(&images).unwrap();
        assert_eq!((usage.input, usage.output), (Some(50), Some(1056)));
        assert_eq!(usage.images, None, "no data list in a usage-only event");
        assert_eq!(
            (usage.input_image, usage.output_image),
            (Some(40), Some(1056))
        );
        let speech = json!({"type": "speech.audio.done", "usage": {"input_tokens": 14, "output_tokens": 101, "total_tokens": 115}});
        let usage = from_openai_speech(&speech).unwrap();
        assert_eq!((usage.output_audio, usage.output_image), (Some(101), None));
        let transcript = json!({"text": "hi", "usage": {"type": "tokens", "input_tokens": 20, "input_token_details": {"text_tokens": 2, "audio_tokens": 18}, "output_tokens": 3, "total_tokens": 23}});
        let usage = from_openai_transcription(&transcript).unwrap();
        assert_eq!(
            (usage.input, usage.input_audio, usage.output),
            (Some(20), Some(18), Some(3))
        );
        let whisper = json!({"text": "hi", "usage": {"type": "duration", "seconds": 3.5}});
        let usage = from_openai_transcription(&whisper).unwrap();
        assert_eq!((usage.input, usage.audio_ms), (None, Some(3500)));
        let dalle = json!({"created": 1, "data": [{"url": "https://x"}, {"url": "https://y"}]});
        let usage = from_openai_images(&dalle).unwrap();
        assert_eq!((usage.images, usage.output), (Some(2), None));
    }
}
