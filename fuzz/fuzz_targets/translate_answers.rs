//! Answer translation: a complete Gemini answer → a chat completion, a
//! Responses object and an embeddings list; a chat completion → a Responses
//! object; a Responses object → an Interaction (as created, and as stored);
//! error bodies → OpenAI's and the Interactions API's shapes; a Gemini
//! image, speech or transcript answer → OpenAI's images answer, audio
//! bytes or transcript (or the 400 saying why it has none). Input: any
//! bytes, read as JSON where a translation wants a value. Also an answer's
//! text as a constitution reads it, and its refusal. Properties: no
//! panic, each answer has its API's shape, and a refusal has no text.
#![no_main]

use airlock_providers::translate::interactions::{
    openai_error_to_interactions, responses_to_interaction, stored_interaction,
};
use airlock_providers::translate::responses::{
    chat_response_to_responses, gemini_response_to_responses,
};
use airlock_providers::translate::{
    FormFile, MediaAnswerError, TranscriptionForm, gemini_embeddings_to_openai,
    gemini_error_to_openai, gemini_images_to_openai, gemini_response_to_chat,
    gemini_speech_to_openai, gemini_transcript_to_openai, openai_image_generation_to_gemini,
    openai_speech_to_gemini, openai_transcription_to_gemini,
};
use airlock_providers::answer::{refuse, text as answer_text};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn rfc3339(secs: u64) -> String {
    format!("@{secs}")
}

fuzz_target!(|data: &[u8]| {
    let status = data.first().map_or(500, |&b| 400 + u16::from(b));
    let error = gemini_error_to_openai(status, data);
    assert!(error["error"].is_object(), "{error}");
    let error = openai_error_to_interactions(status, data);
    assert!(error["error"]["code"].is_string(), "{error}");

    let Ok(answer) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // A constitution reads an answer's text, and withholds it: a refusal
    // of any shape it takes has no text left.
    let mut withheld = answer.clone();
    if refuse(&mut withheld, "withheld") {
        assert_eq!(answer_text(&withheld).as_deref().unwrap_or_default(), "", "{withheld}");
    } else {
        assert!(answer_text(&answer).is_none(), "{answer}");
    }
    let chat = gemini_response_to_chat(&answer, "gemini-2.5-flash", "chatcmpl-1", 1);
    assert!(chat["choices"].is_array(), "{chat}");
    let embeddings = gemini_embeddings_to_openai(&answer, "gemini-embedding-001", false, 3);
    assert!(embeddings["data"].is_array(), "{embeddings}");
    let embeddings = gemini_embeddings_to_openai(&answer, "gemini-embedding-001", true, 3);
    assert!(embeddings["data"].is_array(), "{embeddings}");

    for request in [
        json!({"model": "m", "input": "hi"}),
        json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}],
               "include": ["web_search_call.action.sources"]}),
    ] {
        let response = gemini_response_to_responses(&answer, &request, "m", "resp_1", 1);
        assert!(response["output"].is_array(), "{response}");
        let response = chat_response_to_responses(&answer, &request, "resp_1", 1);
        assert!(response["output"].is_array(), "{response}");
    }

    let images = openai_image_generation_to_gemini(
        &json!({"model": "m", "prompt": "a fox"}),
        "gemini-2.5-flash-image",
    )
    .expect("a valid images request");
    match gemini_images_to_openai(&answer, 1, &images) {
        Ok(images) => assert!(images["data"].is_array(), "{images}"),
        Err(MediaAnswerError::Refused(error)) => assert!(error["error"].is_object(), "{error}"),
        Err(MediaAnswerError::Unreadable(_)) => {}
    }
    let speech = openai_speech_to_gemini(
        &json!({"model": "m", "input": "hi", "voice": "Kore", "response_format": "wav"}),
    )
    .expect("a valid speech request");
    if let Ok((audio, content_type)) = gemini_speech_to_openai(&answer, &speech) {
        assert!(audio.starts_with(b"RIFF") && content_type == "audio/wav");
    }
    let form = TranscriptionForm {
        fields: vec![("model".into(), "m".into())],
        file: FormFile {
            bytes: bytes::Bytes::from_static(b"RIFF\0\0\0\0WAVE"),
            mime: "audio/wav",
        },
    };
    let transcription = openai_transcription_to_gemini(&form).expect("a valid transcription");
    if let Ok((text, _)) = gemini_transcript_to_openai(&answer, &transcription) {
        assert!(serde_json::from_slice::<Value>(&text).is_ok_and(|t| t["text"].is_string()));
    }

    let interaction = responses_to_interaction(&answer, rfc3339);
    assert!(interaction.is_object());
    let items = answer.as_array().map(Vec::as_slice).unwrap_or_default();
    let interaction = stored_interaction(items, &answer, true, rfc3339);
    assert!(interaction["steps"].is_array(), "{interaction}");
});
