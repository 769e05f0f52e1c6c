//! A `generateContent` request's [`Generation`]: Google's model-specific
//! refusals (thinking config, thought signatures, grounding tools, an image
//! model's `imageConfig`, a speech model's modalities and `speechConfig`),
//! then per candidate the thinking, the answer, its signature, the media
//! part and its grounding.
//!
//! Thinking is spent before the answer: it counts against
//! `maxOutputTokens` (see [`super::thinking`]), so the answer's limit is
//! what thinking left. The thought summary (with `includeThoughts`, when the
//! model thought) is prose drawn from the conversation. Image models answer
//! text and a picture (see [`super::imaging`]) unless `responseModalities`
//! asks for `IMAGE` alone; speech models read the last user text aloud (see
//! [`super::speech`]). A text model asked for the transcript of the audio in
//! the last user turn answers it (see [`super::listening`]), cut to the
//! output limit, unless it calls a tool or answers JSON. With the `googleSearch` or
//! `urlContext` tool, the request is grounded once (see
//! [`super::grounding`]) and every candidate that shows a text answer
//! carries its grounding; a searched prose answer opens with its search
//! (cut again to the output limit).

use serde_json::Value;

use super::catalog::{GeminiModel, Output};
use super::generate::{self, Generation, Placement, Reply, Signature};
use super::grounding::{self, Tools};
use super::media::{self, Media};
use super::speech::{self, Cast};
use super::thinking::{self, Plan, Thinking};
use super::{listening, request, signatures};
use crate::audio::Voice;
use crate::prng::Digest;
use crate::reply::{self, Answer, Ask, Finish, Format};
use crate::{textgen, tokens};

/// Google's 400 message when the model refuses the request as configured.
pub fn refusal(req: &Value, model: &GeminiModel) -> Option<String> {
    let config = req["generationConfig"].get("thinkingConfig");
    if let Err(message) = thinking::plan(model.thinking, config) {
        return Some(message);
    }
    let gemini3 = matches!(model.thinking, Thinking::Levels(_));
    if let Some(message) = grounding::refusal(req, gemini3, &request::last_user_text(req)) {
        return Some(message);
    }
    let media = match model.output {
        Output::Text => None,
        Output::Image(canvas) => canvas.picture(req).err().map(|p| format!("* {p}\n")),
        Output::Speech => speech::refusal(req, model.id),
    };
    if media.is_some() {
        return media;
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
    let grounded = grounding::Plan::new(req, &ask.last_user_text, seed);
    let heard = match (model.output, ask.format) {
        (Output::Text, Format::Text) => listening::transcript(req, seed),
        _ => None,
    };
    let candidates = (0..request::candidate_count(req))
        .map(|i| {
            let reply = reply(req, model, &ask, &plan, heard.as_deref(), i);
            match &grounded {
                Some(g) => ground(reply, g, Tools::of(req), &ask, ask.digest.number(i)),
                None => reply,
            }
        })
        .collect();
    Generation {
        model: model.id,
        response_id: generate::response_id(seed, serial),
        prompt: request::prompt_tokens(req),
        cached: request::PromptTokens::default(),
        tool_use_prompt: grounded
            .as_ref()
            .map_or(0, grounding::Plan::tool_use_tokens),
        candidates,
        digest: ask.digest,
    }
}

/// A reply with its grounding: a text answer shown to the reader cites the
/// pages (a searched prose answer opening with its search, within the
/// output limit thinking left); every reply reports the pages read.
fn ground(
    mut reply: Reply,
    plan: &grounding::Plan,
    tools: Tools,
    ask: &Ask<'_>,
    digest: Digest,
) -> Reply {
    reply.url_context = plan.url_context_metadata(tools);
    if !reply.shows_text() {
        return reply;
    }
    let Answer::Text { text, finish } = &mut reply.answer else {
        return reply;
    };
    if let (Format::Text, Some(lead)) = (ask.format, plan.lead()) {
        text.insert_str(0, &lead);
        let limit = ask
            .max_tokens
            .map(|max| max.saturating_sub(reply.thought_tokens));
        if let Some(cut) = limit.and_then(|max| tokens::truncate(text, max)) {
            *text = cut;
            *finish = Finish::Length;
        }
    }
    reply.grounding = plan.metadata(text, digest.part("grounding"));
    reply
}

fn reply(
    req: &Value,
    model: &GeminiModel,
    ask: &Ask<'_>,
    plan: &Plan,
    heard: Option<&str>,
    index: u64,
) -> Reply {
    let digest = ask.digest.number(index);
    let thought_tokens = plan.thought_tokens(digest, ask.max_tokens);
    let mut limited = ask.clone();
    limited.max_tokens = ask.max_tokens.map(|max| max.saturating_sub(thought_tokens));
    let mut answer = reply::answer(&limited, index);
    if let (Some(transcript), Answer::Text { text, finish }) = (heard, &mut answer) {
        let cut = limited
            .max_tokens
            .and_then(|max| tokens::truncate(transcript, max));
        *finish = if cut.is_some() {
            Finish::Length
        } else {
            Finish::Stop
        };
        *text = cut.unwrap_or_else(|| transcript.to_owned());
    }
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
        grounding: None,
        url_context: None,
    }
}

fn media_of(req: &Value, model: &GeminiModel, ask: &Ask<'_>, digest: Digest) -> Option<Media> {
    match model.output {
        Output::Text => None,
        Output::Image(canvas) => {
            let modalities: Vec<&str> = req["generationConfig"]["responseModalities"]
                .as_array()
                .map(|m| m.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let picture = canvas.picture(req).ok()?;
            Some(media::image(digest, picture, modalities != ["IMAGE"]))
        }
        Output::Speech => {
            let cast = speech::cast(req).unwrap_or(Cast::Single(Voice::DEFAULT));
            Some(media::speech(&ask.last_user_text, &cast))
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
    fn grounded_answers_open_with_their_search_and_cite_it() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "Who won the Euro 2024?"}]}],
                          "tools": [{"googleSearch": {}}], "generationConfig": {"candidateCount": 2}});
        let g = generate("gemini-2.5-flash", &body);
        for r in &g.candidates {
            let Answer::Text { text, .. } = &r.answer else {
                panic!("a text answer")
            };
            assert!(text.starts_with("On “who won the euro 2024”: "), "{text}");
            let m = r.grounding.as_ref().unwrap();
            assert_eq!(m["webSearchQueries"][0], "who won the euro 2024");
            let last = m["groundingSupports"].as_array().unwrap().last().unwrap();
            assert_eq!(
                last["segment"]["endIndex"].as_u64().unwrap() as usize,
                text.len()
            );
            assert!(r.url_context.is_none());
        }
        assert_eq!(
            g.candidates[0].grounding.as_ref().unwrap()["groundingChunks"],
            g.candidates[1].grounding.as_ref().unwrap()["groundingChunks"],
            "one search for all candidates"
        );
        assert_eq!(g.tool_use_prompt, 0);
        let whole = g.whole();
        assert_eq!(
            whole["candidates"][0]["groundingMetadata"],
            *g.candidates[0].grounding.as_ref().unwrap()
        );
        let chunks = g.chunks();
        let grounded: Vec<usize> = chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| c["candidates"][0].get("groundingMetadata").is_some())
            .map(|(k, _)| k)
            .collect();
        assert_eq!(grounded.len(), 2, "once per candidate, on its last chunk");
        for k in grounded {
            assert!(chunks[k]["candidates"][0]["finishReason"].is_string());
        }

        let mut short = body.clone();
        short["generationConfig"] = json!({"maxOutputTokens": 5});
        let cut = &generate("gemini-2.5-flash", &short).candidates[0];
        assert_eq!(
            cut.answer,
            Answer::Text {
                text: "On “who won the euro".into(),
                finish: Finish::Length
            }
        );
    }

    #[test]
    fn url_context_reads_the_prompts_pages() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "Summarise https://docs.example/a please"}]}],
                          "tools": [{"urlContext": {}}]});
        let g = generate("gemini-3-flash-preview", &body);
        assert!(g.tool_use_prompt >= 500);
        let r = &g.candidates[0];
        assert_eq!(
            r.url_context.as_ref().unwrap()["urlMetadata"][0]["urlRetrievalStatus"],
            "URL_RETRIEVAL_STATUS_SUCCESS"
        );
        let m = r.grounding.as_ref().unwrap();
        assert_eq!(
            m["groundingChunks"][0]["web"]["uri"],
            "https://docs.example/a"
        );
        let usage = &g.whole()["usageMetadata"];
        assert_eq!(usage["toolUsePromptTokenCount"], g.tool_use_prompt);
        assert_eq!(
            usage["totalTokenCount"].as_u64().unwrap(),
            usage["promptTokenCount"].as_u64().unwrap()
                + usage["candidatesTokenCount"].as_u64().unwrap()
                + usage["thoughtsTokenCount"].as_u64().unwrap_or(0)
                + g.tool_use_prompt
        );
        let speech = generate("gemini-3.8-flash-tts", &body);
        assert!(speech.candidates[0].grounding.is_none());
        assert!(speech.candidates[0].url_context.is_some());
    }

    #[test]
    fn grounding_tools_are_refused_as_google_refuses_them() {
        let mixed = json!({"contents": [{"parts": [{"text": "x"}]}],
                           "tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "f"}]}]});
        assert_eq!(
            refusal(&mixed, catalog::find("gemini-2.5-flash").unwrap()).as_deref(),
            Some("Tool use with function calling is unsupported by the model.")
        );
        assert!(
            refusal(&mixed, catalog::find("gemini-3-flash-preview").unwrap())
                .unwrap()
                .contains("include_server_side_tool_invocations")
        );
        let mut allowed = mixed.clone();
        allowed["toolConfig"] = json!({"includeServerSideToolInvocations": true});
        assert_eq!(
            refusal(&allowed, catalog::find("gemini-3-flash-preview").unwrap()),
            None
        );
        let legacy = json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"googleSearchRetrieval": {}}]});
        assert!(
            refusal(&legacy, catalog::find("gemini-2.0-flash").unwrap())
                .unwrap()
                .starts_with("google_search_retrieval is not supported")
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
        assert_eq!(
            m,
            &media::speech("Say hello", &Cast::Single(Voice::DEFAULT))
        );
        assert!(
            generate("gemini-2.5-flash", &body).candidates[0]
                .media
                .is_none()
        );
    }

    #[test]
    fn media_configs_are_refused_as_google_refuses_them() {
        let with = |config: Value| json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": config});
        let image = catalog::find("gemini-2.5-flash-image").unwrap();
        assert_eq!(
            refusal(
                &with(json!({"imageConfig": {"aspectRatio": "16:9"}})),
                image
            ),
            None
        );
        assert!(
            refusal(&with(json!({"imageConfig": {"imageSize": "2K"}})), image)
                .unwrap()
                .starts_with(
                    "* GenerateContentRequest.generation_config.image_config.image_size: "
                )
        );
        let tts = catalog::find("gemini-2.5-pro-preview-tts").unwrap();
        assert!(
            refusal(&with(json!({})), tts)
                .unwrap()
                .starts_with("The requested combination")
        );
        let voice = json!({"responseModalities": ["AUDIO"], "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Bob"}}}});
        assert!(
            refusal(&with(voice), tts).unwrap().starts_with(
                "* GenerateContentRequest.generation_config.speech_config.voice_config."
            )
        );
        let text = catalog::find("gemini-2.5-flash").unwrap();
        assert_eq!(
            refusal(&with(json!({"imageConfig": {"aspectRatio": "9:9"}})), text),
            None
        );
    }

    #[test]
    fn a_transcript_asked_for_is_the_answer() {
        let pcm = crate::audio::Encoding::Pcm16 { rate: 24000 }.speak("It works, really");
        let audio = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pcm);
        let body = |config: Value| {
            json!({"contents": [{"role": "user", "parts": [
            {"text": "Transcribe the recording."},
            {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": audio}}
        ]}], "generationConfig": config})
        };
        let r = &generate("gemini-2.5-flash", &body(json!({"candidateCount": 2}))).candidates;
        for reply in r {
            assert_eq!(
                reply.answer,
                Answer::Text {
                    text: "It works, really".into(),
                    finish: Finish::Stop
                }
            );
        }
        let cut = &generate("gemini-2.5-flash", &body(json!({"maxOutputTokens": 2}))).candidates[0];
        assert_eq!(
            cut.answer,
            Answer::Text {
                text: "It works".into(),
                finish: Finish::Length
            }
        );
        let json_asked = generate(
            "gemini-2.5-flash",
            &body(json!({"responseMimeType": "application/json"})),
        );
        let Answer::Text { text, .. } = &json_asked.candidates[0].answer else {
            panic!("a text answer")
        };
        assert!(text.starts_with('{'), "JSON mode keeps its JSON: {text}");
        let g = generate("gemini-2.5-flash", &body(json!({})));
        assert_eq!(
            g.prompt.details(),
            json!([{"modality": "TEXT", "tokenCount": 7}, {"modality": "AUDIO", "tokenCount": 26}]),
            "0.8 s of audio at 32 tokens a second"
        );
    }
}
