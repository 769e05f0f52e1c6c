//! OpenAI's image and audio calls for Gemini models, translated through
//! the dispatch seam: `images.generate` and `images.edit` for an image
//! model, `audio.speech` for a TTS model, transcription by a model that
//! hears audio; and what cannot be translated, refused by name.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::Harness;
use serde_json::{Value, json};

/// The body of the last request to the simulator whose path ends so.
fn last_sent(h: &Harness, suffix: &str) -> Value {
    h.mock
        .server
        .received()
        .into_iter()
        .rev()
        .find(|request| request.path.ends_with(suffix))
        .unwrap_or_else(|| panic!("no request for *{suffix} reached the simulator"))
        .body
}

async fn post_json(h: &Harness, path: &str, body: Value) -> reqwest::Response {
    h.openai_post(path).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn images_generate_for_a_gemini_image_model_answers_openai_images() {
    let h = Harness::start().await;
    let response = post_json(
        &h,
        "/v1/images/generations",
        json!({"model": "gemini-2.5-flash-image", "prompt": "a paper boat on a pond", "size": "1536x1024"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let png = STANDARD
        .decode(answer["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    let picture = image::load_from_memory(&png).unwrap();
    // 1536x1024 asks for 3:2, which Gemini draws at 1248x832.
    assert_eq!((picture.width(), picture.height()), (1248, 832));
    assert_eq!(answer["size"], "1248x832");
    assert!(answer["usage"]["output_tokens"].as_u64().unwrap() > 0);
    let sent = last_sent(&h, ":generateContent");
    assert_eq!(
        sent["generationConfig"]["imageConfig"]["aspectRatio"],
        "3:2"
    );

    // `response_format: "url"` gets a URL Airlock serves.
    let response = post_json(
        &h,
        "/v1/images/generations",
        json!({"model": "gemini-2.5-flash-image", "prompt": "a paper boat", "response_format": "url"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let url = answer["data"][0]["url"].as_str().unwrap();
    let fetched = h.http.get(url).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-type"], "image/png");

    // What Gemini cannot do is refused by name.
    let response = post_json(
        &h,
        "/v1/images/generations",
        json!({"model": "gemini-2.5-flash-image", "prompt": "boats", "n": 3}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["param"], "n", "{error}");
    let records = h.stop().await;
    let first = records
        .iter()
        .find(|r| r.operation == "images.generations")
        .unwrap();
    assert_eq!(first.provider.as_deref(), Some("gemini"));
    assert!(
        first.cost_usd.unwrap_or(0.0) > 0.0,
        "image output is priced"
    );
}

#[tokio::test]
async fn images_edit_for_a_gemini_image_model_sends_the_image_inline() {
    let h = Harness::start().await;
    let generated: Value = post_json(
        &h,
        "/v1/images/generations",
        json!({"model": "gemini-2.5-flash-image", "prompt": "a white room"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let png = STANDARD
        .decode(generated["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("model", "gemini-2.5-flash-image")
        .text("prompt", "paint the walls blue")
        .part(
            "image[]",
            reqwest::multipart::Part::bytes(png.clone()).file_name("room.png"),
        );
    let response = h
        .openai_post("/v1/images/edits")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let edited = STANDARD
        .decode(answer["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    image::load_from_memory(&edited).unwrap();
    assert_ne!(edited, png);
    let sent = last_sent(&h, ":generateContent");
    let parts = sent["contents"][0]["parts"].as_array().unwrap();
    let inline = parts
        .iter()
        .find_map(|p| p.get("inlineData"))
        .unwrap_or_else(|| panic!("{sent}"));
    assert_eq!(inline["mimeType"], "image/png");
    assert_eq!(
        STANDARD.decode(inline["data"].as_str().unwrap()).unwrap(),
        png
    );
}

#[tokio::test]
async fn speech_for_a_gemini_tts_model_is_wav_or_streamed_pcm_and_mp3_is_refused() {
    let h = Harness::start().await;
    let text = "The river remembers.";
    let response = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "gemini-2.5-flash-preview-tts", "voice": "Kore", "input": text, "response_format": "wav"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let wav = response.bytes().await.unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 24_000);
    let sent = last_sent(&h, ":generateContent");
    assert_eq!(
        sent["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"],
        "Kore"
    );

    let response = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "gemini-2.5-flash-preview-tts", "voice": "alloy", "input": text, "response_format": "pcm", "stream_format": "sse"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = response.text().await.unwrap();
    let events: Vec<Value> = common::sse_data(&body)
        .iter()
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    let pcm: Vec<u8> = events
        .iter()
        .filter(|e| e["type"] == "speech.audio.delta")
        .flat_map(|e| STANDARD.decode(e["audio"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(pcm.len(), wav.len() - 44, "the same voice, streamed");
    let done = events.last().unwrap();
    assert_eq!(done["type"], "speech.audio.done");
    assert!(done["usage"]["output_tokens"].as_u64().unwrap() > 0);

    let response = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "gemini-2.5-flash-preview-tts", "voice": "Kore", "input": text, "response_format": "mp3"}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("mp3") && message.contains("wav"),
        "{message}"
    );
}

#[tokio::test]
async fn transcription_by_a_gemini_model_reads_back_what_was_spoken() {
    let h = Harness::start().await;
    let text = "Meet me by the old mill";
    let wav = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "gemini-2.5-flash-preview-tts", "voice": "Puck", "input": text, "response_format": "wav"}),
    )
    .await
    .bytes()
    .await
    .unwrap()
    .to_vec();
    for (format, check) in [
        ("json", "json"),
        ("text", "text"),
        ("srt", "srt"),
        ("vtt", "vtt"),
    ] {
        let form = reqwest::multipart::Form::new()
            .text("model", "gemini-2.5-flash")
            .text("response_format", format)
            .part(
                "file",
                reqwest::multipart::Part::bytes(wav.clone()).file_name("note.wav"),
            );
        let response = h
            .openai_post("/v1/audio/transcriptions")
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{format}");
        let body = response.text().await.unwrap();
        match check {
            "json" => {
                let answer: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(answer["text"], text);
            }
            "text" => assert_eq!(body.trim(), text),
            "srt" => {
                assert!(body.starts_with("1\n00:00:00,000 --> "), "{body}");
                assert!(body.contains(text), "{body}");
            }
            _ => {
                assert!(body.starts_with("WEBVTT\n\n"), "{body}");
                assert!(body.contains(text), "{body}");
            }
        }
    }
    let sent = last_sent(&h, ":generateContent");
    let parts = sent["contents"][0]["parts"].as_array().unwrap();
    assert!(
        parts
            .iter()
            .any(|p| p["inlineData"]["mimeType"] == "audio/wav"),
        "{sent}"
    );
}
