//! A `generateContent` request's [`Generation`]: Google's model-specific
//! refusals (thinking config, thought signatures), then per candidate the
//! thinking, the answer, its signature and the media part.
//!
//! Thinking is spent before the answer: it counts against
//! `maxOutputTokens` (see [`super::thinking`]), so the answer's limit is
//! what thinking left. The thought summary (with `includeThoughts`, when the
//! model thought) is prose drawn from the conversation. Image models answer
//! text and a picture unless `responseModalities` asks for `IMAGE` alone;
//! speech models read the last user text aloud.

use serde_json::Value;

use super::catalog::{GeminiModel, Output};
use super::generate::{self, Generation, Media, Placement, Reply, Signature};
use super::thinking::{self, Plan, Thinking};
use super::{media, request, signatures};
use crate::prng::Digest;
use crate::reply::{self, Answer, Ask};
use crate::textgen;

/// Google's 400 message when the model refuses the request as configured.
pub fn refusal(req: &Value, model: &GeminiModel) -> Option<String> {
    let config = req["generationConfig"].get("thinkingConfig");
    if let Err(message) = thinking::plan(model.thinking, config) {
        return Some(message);
    }
    match model.thinking {
        Thinking::Levels(l) if l.strict_signatures => signatures::check(&req["contents"]).err(),
        _ => None,
    }
}

/// The generation for an accepted request.
pub fn generation(req: &Value, model: &'static GeminiModel, seed: u64, serial: u64) -> Generation {
    let ask = request::ask(req, seed, model.id);
    let config = req["generationConfig"].get("thinkingConfig");
    let plan = thinking::plan(model.thinking, config).unwrap_or(Plan {
        effort: thinking::Effort::None,
        include_thoughts: false,
        gemini3: false,
    });
    let candidates = (0..request::candidate_count(req))
        .map(|i| reply(req, model, &ask, &plan, i))
        .collect();
    Generation {
        model: model.id,
        response_id: generate::response_id(seed, serial),
        prompt: request::prompt_tokens(req),
        cached: request::PromptTokens::default(),
        candidates,
        digest: ask.digest,
    }
}

fn reply(req: &Value, model: &GeminiModel, ask: &Ask<'_>, plan: &Plan, index: u64) -> Reply {
    let digest = ask.digest.number(index);
    let thought_tokens = plan.thought_tokens(digest, ask.max_tokens);
    let mut limited = ask.clone();
    limited.max_tokens = ask.max_tokens.map(|max| max.saturating_sub(thought_tokens));
    let answer = reply::answer(&limited, index);
    let thought = (plan.include_thoughts && thought_tokens > 0)
        .then(|| textgen::prose(&mut digest.part("thought-summary").rng()));
    let signature = if plan.gemini3 {
        let at = match answer {
            Answer::Call { .. } => Placement::Call,
            Answer::Text { .. } => Placement::Last,
        };
        Some(at)
    } else {
        (thought_tokens > 0).then_some(Placement::First)
    }
    .map(|at| Signature {
        value: signatures::issue(ask.digest, index),
        at,
    });
    let media = match answer {
        Answer::Call { .. } => None,
        Answer::Text { .. } => media_of(req, model, ask, digest),
    };
    Reply {
        answer,
        thought,
        thought_tokens,
        signature,
        media,
    }
}

fn media_of(req: &Value, model: &GeminiModel, ask: &Ask<'_>, digest: Digest) -> Option<Media> {
    match model.output {
        Output::Text => None,
        Output::Image => {
            let modalities: Vec<&str> = req["generationConfig"]["responseModalities"]
                .as_array()
                .map(|m| m.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            Some(Media {
                part: media::image_part(digest),
                tokens: media::IMAGE_OUTPUT_TOKENS,
                modality: "IMAGE",
                with_text: modalities != ["IMAGE"],
            })
        }
        Output::Speech => {
            let (part, tokens) = media::speech_part(&ask.last_user_text);
            Some(Media {
                part,
                tokens,
                modality: "AUDIO",
                with_text: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::catalog;
    use serde_json::json;

    fn generate(model: &str, body: &Value) -> Generation {
        generation(body, catalog::find(model).unwrap(), 0, 1)
    }

    #[test]
    fn gemini_3_signs_and_thinks_by_default() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
        let g = generate("gemini-3-pro-preview", &body);
        let r = &g.candidates[0];
        assert!(r.thought_tokens > 0 && r.thought.is_none());
        assert_eq!(r.signature.as_ref().unwrap().at, Placement::Last);
        let with_thoughts = json!({"contents": body["contents"], "generationConfig": {"thinkingConfig": {"includeThoughts": true, "thinkingLevel": "LOW"}}});
        let low = &generate("gemini-3-pro-preview", &with_thoughts).candidates[0];
        assert!(low.thought.is_some());
        assert_eq!(
            low.thought_tokens * 4,
            r.thought_tokens,
            "LOW thinks a quarter of HIGH"
        );
    }

    #[test]
    fn calls_are_signed_on_the_call_and_2_5_only_when_thinking() {
        let body = json!({
            "contents": [{"role": "user", "parts": [{"text": "use get_weather"}]}],
            "tools": [{"functionDeclarations": [{"name": "get_weather"}]}]
        });
        let r = &generate("gemini-3-flash-preview", &body).candidates[0];
        assert!(matches!(r.answer, Answer::Call { .. }));
        assert_eq!(r.signature.as_ref().unwrap().at, Placement::Call);
        let flash = &generate("gemini-2.5-flash", &body).candidates[0];
        assert!(
            flash.signature.is_none() && flash.thought_tokens == 0,
            "2.5 left to decide does not think"
        );
        let mut asked = body.clone();
        asked["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 1024}});
        let thinking = &generate("gemini-2.5-flash", &asked).candidates[0];
        assert!(thinking.thought_tokens > 0);
        assert_eq!(thinking.signature.as_ref().unwrap().at, Placement::First);
        assert!(
            generate("gemini-2.0-flash", &asked).candidates[0]
                .signature
                .is_none()
        );
    }

    #[test]
    fn thinking_leaves_room_for_the_answer() {
        let body = json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 10}});
        let r = &generate("gemini-3-pro-preview", &body).candidates[0];
        assert_eq!(r.thought_tokens, 5);
        assert!(r.answer.tokens() <= 5);
    }

    #[test]
    fn refusals_by_model() {
        let unsigned = json!({"contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}
        ]});
        let strict = refusal(&unsigned, catalog::find("gemini-3.1-pro-preview").unwrap()).unwrap();
        assert!(strict.starts_with("Function call is missing a thought_signature"));
        assert_eq!(
            refusal(&unsigned, catalog::find("gemini-2.5-flash").unwrap()),
            None
        );
        assert_eq!(
            refusal(&unsigned, catalog::find("gemini-3-pro-image").unwrap()),
            None
        );
        let level = json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": {"thinkingLevel": "MINIMAL"}}});
        assert!(
            refusal(&level, catalog::find("gemini-3.1-pro-preview").unwrap())
                .unwrap()
                .starts_with("Thinking level MINIMAL")
        );
        assert_eq!(
            refusal(&level, catalog::find("gemini-3-flash-preview").unwrap()),
            None
        );
    }

    #[test]
    fn media_models() {
        let body = json!({"contents": [{"parts": [{"text": "Say hello"}]}]});
        let image = &generate("gemini-3.1-flash-image", &body).candidates[0];
        let m = image.media.as_ref().unwrap();
        assert!(m.with_text && m.modality == "IMAGE");
        let only = json!({"contents": body["contents"], "generationConfig": {"responseModalities": ["IMAGE"]}});
        assert!(
            !generate("gemini-2.5-flash-image", &only).candidates[0]
                .media
                .as_ref()
                .unwrap()
                .with_text
        );
        let speech = &generate("gemini-3.8-flash-tts", &body).candidates[0];
        let m = speech.media.as_ref().unwrap();
        assert_eq!((m.modality, m.with_text), ("AUDIO", false));
        assert_eq!(m.tokens, media::speech_part("Say hello").1);
        assert!(
            generate("gemini-2.5-flash", &body).candidates[0]
                .media
                .is_none()
        );
    }
}
