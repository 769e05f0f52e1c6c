//! Gemini media over real HTTP: pictures of the size `imageConfig` asks for
//! (decoded), edits, speech in Google's voices (decoded and read back),
//! streamed speech, transcripts of the simulator's own voice, each of
//! Google's 400s for media configs, and the retired Imagen's 404.

use std::io::Cursor;

use airlock_mock::{MockConfig, RunningMock, spawn};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn mock() -> RunningMock {
    spawn("127.0.0.1:0".parse().unwrap(), MockConfig::default())
        .await
        .unwrap()
}

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

async fn post(m: &RunningMock, model: &str, method: &str, body: &Value) -> (StatusCode, String) {
    let r = client()
        .post(format!(
            "{}/v1beta/models/{model}:{method}",
            m.gemini_base_url()
        ))
        .header("x-goog-api-key", "k")
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn generate(m: &RunningMock, model: &str, body: &Value) -> (StatusCode, Value) {
    let (status, text) = post(m, model, "generateContent", body).await;
    (status, serde_json::from_str(&text).unwrap())
}

/// The answer of a request Google accepts.
async fn accepted(m: &RunningMock, model: &str, body: &Value) -> Value {
    let (status, v) = generate(m, model, body).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Google's 400 message for a request it refuses.
async fn refused(m: &RunningMock, model: &str, body: &Value) -> String {
    let (status, v) = generate(m, model, body).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    v["error"]["message"].as_str().unwrap().to_owned()
}

fn prompt(text: &str, config: Value) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}], "generationConfig": config})
}

/// The bytes of every `inlineData` part of the first candidate.
fn inline(response: &Value) -> Vec<(String, Vec<u8>)> {
    response["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            let blob = p.get("inlineData")?;
            Some((
                blob["mimeType"].as_str().unwrap().to_owned(),
                STANDARD.decode(blob["data"].as_str().unwrap()).unwrap(),
            ))
        })
        .collect()
}

/// The pixel size of the one picture of an answer, decoded.
fn picture_size(response: &Value) -> (u32, u32) {
    let media = inline(response);
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].0, "image/png");
    let picture =
        image::load_from_memory_with_format(&media[0].1, image::ImageFormat::Png).unwrap();
    (picture.width(), picture.height())
}

fn tts(text: &str, speech: Value) -> Value {
    prompt(
        text,
        json!({"responseModalities": ["AUDIO"], "speechConfig": speech}),
    )
}

fn voice(name: &str) -> Value {
    json!({"prebuiltVoiceConfig": {"voiceName": name}})
}

/// A WAV file of 16-bit mono `pcm` at `rate`.
fn wav(pcm: &[u8], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut file = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut file, spec).unwrap();
    for pair in pcm.chunks_exact(2) {
        writer
            .write_sample(i16::from_le_bytes([pair[0], pair[1]]))
            .unwrap();
    }
    writer.finalize().unwrap();
    file.into_inner()
}

#[tokio::test]
async fn pictures_have_googles_pixel_size_for_each_aspect_ratio() {
    let m = mock().await;
    for (ratio, size) in [
        ("1:1", (1024, 1024)),
        ("16:9", (1344, 768)),
        ("9:16", (768, 1344)),
        ("3:2", (1248, 832)),
        ("4:5", (896, 1152)),
        ("21:9", (1536, 672)),
    ] {
        let body = prompt(
            "A lighthouse at dusk",
            json!({"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": ratio}}),
        );
        let answer = accepted(&m, "gemini-2.5-flash-image", &body).await;
        assert_eq!(picture_size(&answer), size, "{ratio}");
        assert_eq!(
            answer["usageMetadata"]["candidatesTokensDetails"],
            json!([{"modality": "IMAGE", "tokenCount": 1290}])
        );
    }
    let default = accepted(&m, "gemini-2.5-flash-image", &prompt("A cat", json!({}))).await;
    assert_eq!(picture_size(&default), (1024, 1024), "1:1 by default");
    m.shutdown().await;
}

#[tokio::test]
async fn gemini_3_pro_image_draws_2k_at_double_size() {
    let m = mock().await;
    let body = prompt(
        "A mountain panorama",
        json!({"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}),
    );
    let answer = accepted(&m, "gemini-3-pro-image", &body).await;
    assert_eq!(picture_size(&answer), (2688, 1536));
    let usage = &answer["usageMetadata"];
    let details = usage["candidatesTokensDetails"].as_array().unwrap();
    assert_eq!(details[0]["modality"], "TEXT");
    assert_eq!(details[1], json!({"modality": "IMAGE", "tokenCount": 1120}));
    assert!(answer["candidates"][0]["content"]["parts"][0]["text"].is_string());
    m.shutdown().await;
}

#[tokio::test]
async fn an_edit_draws_another_picture_in_the_inputs_shape() {
    let m = mock().await;
    let png = |w: u32, h: u32, fill: u8| {
        let pixels = image::RgbImage::from_pixel(w, h, image::Rgb([fill, 0, 0]));
        let mut out = Cursor::new(Vec::new());
        pixels.write_to(&mut out, image::ImageFormat::Png).unwrap();
        STANDARD.encode(out.into_inner())
    };
    let edit = |data: String| {
        json!({"contents": [{"role": "user", "parts": [
            {"text": "Make the sky purple"},
            {"inlineData": {"mimeType": "image/png", "data": data}}
        ]}], "generationConfig": {"responseModalities": ["IMAGE"]}})
    };
    let first = accepted(&m, "gemini-2.5-flash-image", &edit(png(160, 90, 1))).await;
    let again = accepted(&m, "gemini-2.5-flash-image", &edit(png(160, 90, 1))).await;
    let other = accepted(&m, "gemini-2.5-flash-image", &edit(png(160, 90, 2))).await;
    assert_eq!(picture_size(&first), (1344, 768), "16:9 like its input");
    assert_eq!(
        inline(&first),
        inline(&again),
        "the same edit, the same picture"
    );
    assert_ne!(
        inline(&first),
        inline(&other),
        "another input, another picture"
    );
    assert_eq!(
        first["usageMetadata"]["promptTokensDetails"][1],
        json!({"modality": "IMAGE", "tokenCount": 258})
    );
    m.shutdown().await;
}

#[tokio::test]
async fn image_configs_are_refused_with_googles_400s() {
    let m = mock().await;
    let ratio = refused(
        &m,
        "gemini-3-pro-image",
        &prompt("x", json!({"imageConfig": {"aspectRatio": "7:3"}})),
    )
    .await;
    assert_eq!(
        ratio,
        "* GenerateContentRequest.generation_config.image_config.aspect_ratio: aspect_ratio must be one of '1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', or '21:9'.\n"
    );
    let size = refused(
        &m,
        "gemini-2.5-flash-image",
        &prompt("x", json!({"imageConfig": {"imageSize": "2K"}})),
    )
    .await;
    assert_eq!(
        size,
        "* GenerateContentRequest.generation_config.image_config.image_size: image_size is not supported by this model.\n"
    );
    let lower = refused(
        &m,
        "gemini-3-pro-image-preview",
        &prompt("x", json!({"imageConfig": {"imageSize": "4k"}})),
    )
    .await;
    assert!(
        lower.contains("image_size must be one of '1K', '2K', or '4K'."),
        "{lower}"
    );
    m.shutdown().await;
}

#[tokio::test]
async fn speech_lasts_50_ms_a_character_in_each_voices_pitch() {
    let m = mock().await;
    let text = "Welcome to the story.";
    let kore = accepted(
        &m,
        "gemini-2.5-flash-preview-tts",
        &tts(text, json!({"voiceConfig": voice("Kore")})),
    )
    .await;
    let media = inline(&kore);
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].0, "audio/L16;codec=pcm;rate=24000");
    let pcm = &media[0].1;
    assert_eq!(
        pcm.len(),
        text.chars().count() * 2400,
        "24 kHz, 16-bit, 50 ms a character"
    );
    assert!(
        kore["candidates"][0]["content"]["parts"][0]
            .get("text")
            .is_none()
    );
    // 1.05 s at 32 tokens a second.
    assert_eq!(
        kore["usageMetadata"]["candidatesTokensDetails"],
        json!([{"modality": "AUDIO", "tokenCount": 34}])
    );
    assert_eq!(kore["usageMetadata"]["candidatesTokenCount"], 34);
    let puck = accepted(
        &m,
        "gemini-2.5-flash-preview-tts",
        &tts(
            text,
            json!({"voiceConfig": voice("puck"), "languageCode": "en-US"}),
        ),
    )
    .await;
    assert_ne!(inline(&puck)[0].1, *pcm, "another voice, another pitch");
    assert_eq!(inline(&puck)[0].1.len(), pcm.len());
    m.shutdown().await;
}

#[tokio::test]
async fn a_dialogue_speaks_each_line_in_its_speakers_voice() {
    let m = mock().await;
    let speakers = |names: &[(&str, &str)]| {
        let configs: Vec<Value> = names
            .iter()
            .map(|(speaker, name)| json!({"speaker": speaker, "voiceConfig": voice(name)}))
            .collect();
        json!({"multiSpeakerVoiceConfig": {"speakerVoiceConfigs": configs}})
    };
    let script = "Joe: How's it going?\nJane: Not bad!";
    let dialogue = accepted(
        &m,
        "gemini-2.5-pro-preview-tts",
        &tts(script, speakers(&[("Joe", "Kore"), ("Jane", "Puck")])),
    )
    .await;
    let swapped = accepted(
        &m,
        "gemini-2.5-pro-preview-tts",
        &tts(script, speakers(&[("Joe", "Puck"), ("Jane", "Kore")])),
    )
    .await;
    let pcm = &inline(&dialogue)[0].1;
    let said = "How's it going?\nNot bad!";
    assert_eq!(
        pcm.len(),
        said.chars().count() * 2400,
        "the names are not said"
    );
    assert_ne!(inline(&swapped)[0].1, *pcm);
    m.shutdown().await;
}

#[tokio::test]
async fn streamed_speech_comes_in_several_parts() {
    let m = mock().await;
    let text = "This sentence takes a little over three seconds to say aloud.";
    let body = tts(text, json!({"voiceConfig": voice("Charon")}));
    let whole = accepted(&m, "gemini-3.1-flash-tts-preview", &body).await;
    let (status, stream) = post(
        &m,
        "gemini-3.1-flash-tts-preview",
        "streamGenerateContent?alt=sse",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{stream}");
    let chunks: Vec<Value> = stream
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks.len(), 4, "one part a started second of 3.05 s");
    let joined: Vec<u8> = chunks.iter().flat_map(|c| inline(c).remove(0).1).collect();
    assert_eq!(joined, inline(&whole)[0].1);
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"], whole["usageMetadata"]);
    m.shutdown().await;
}

#[tokio::test]
async fn speech_configs_are_refused_with_googles_400s() {
    let m = mock().await;
    let model = "gemini-2.5-flash-preview-tts";
    let unknown = refused(
        &m,
        model,
        &tts("Hi", json!({"voiceConfig": voice("alloy")})),
    )
    .await;
    assert!(
        unknown.starts_with("* GenerateContentRequest.generation_config.speech_config.voice_config.prebuilt_voice_config.voice_name: Voice 'alloy' is not a prebuilt voice"),
        "{unknown}"
    );
    let three = json!({"multiSpeakerVoiceConfig": {"speakerVoiceConfigs": [
        {"speaker": "A", "voiceConfig": voice("Kore")},
        {"speaker": "B", "voiceConfig": voice("Puck")},
        {"speaker": "C", "voiceConfig": voice("Leda")}
    ]}});
    assert_eq!(
        refused(&m, model, &tts("A: hi", three)).await,
        "* GenerateContentRequest.generation_config.speech_config.multi_speaker_voice_config.speaker_voice_configs: Exactly two speaker voice configurations must be provided, got 3.\n"
    );
    let both = json!({"voiceConfig": voice("Kore"), "multiSpeakerVoiceConfig": {"speakerVoiceConfigs": [
        {"speaker": "A", "voiceConfig": voice("Kore")},
        {"speaker": "B", "voiceConfig": voice("Puck")}
    ]}});
    assert_eq!(
        refused(&m, model, &tts("A: hi", both)).await,
        "* GenerateContentRequest.generation_config.speech_config: voice_config and multi_speaker_voice_config are mutually exclusive.\n"
    );
    assert_eq!(
        refused(
            &m,
            model,
            &prompt("Hi", json!({"responseModalities": ["TEXT"]}))
        )
        .await,
        "The requested combination of response modalities (TEXT) is not supported by the model. models/gemini-2.5-flash-preview-tts accepts the following combination of response modalities:\n* AUDIO\n"
    );
    assert!(
        refused(&m, model, &prompt("Hi", json!({})))
            .await
            .starts_with(
                "The requested combination of response modalities is not supported by the model."
            )
    );
    m.shutdown().await;
}

#[tokio::test]
async fn the_simulators_speech_is_transcribed_back_to_its_text() {
    let m = mock().await;
    let text = "Once upon a time, a fox met a crow.";
    let spoken = accepted(
        &m,
        "gemini-2.5-flash-preview-tts",
        &tts(text, json!({"voiceConfig": voice("Leda")})),
    )
    .await;
    let (mime, pcm) = inline(&spoken).remove(0);
    let ask = |mime: &str, audio: &[u8]| {
        json!({"contents": [{"role": "user", "parts": [
            {"text": "Generate a transcript of the speech."},
            {"inlineData": {"mimeType": mime, "data": STANDARD.encode(audio)}}
        ]}]})
    };
    let heard = accepted(&m, "gemini-2.5-flash", &ask(&mime, &pcm)).await;
    assert_eq!(heard["candidates"][0]["content"]["parts"][0]["text"], text);
    assert_eq!(heard["candidates"][0]["finishReason"], "STOP");
    // 1.75 s of audio at 32 tokens a second.
    assert_eq!(
        heard["usageMetadata"]["promptTokensDetails"],
        json!([{"modality": "TEXT", "tokenCount": 9}, {"modality": "AUDIO", "tokenCount": 56}])
    );
    let as_wav = accepted(
        &m,
        "gemini-3-flash-preview",
        &ask("audio/wav", &wav(&pcm, 24000)),
    )
    .await;
    let parts = as_wav["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(
        parts.last().unwrap()["text"],
        text,
        "a WAV file is read by its header"
    );
    let mp3 = accepted(&m, "gemini-2.5-flash", &ask("audio/mp3", &[9; 32000])).await;
    let words = mp3["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(
        words.split(' ').count(),
        5,
        "2 s heard as a word per started 400 ms: {words}"
    );
    let (status, counted) = post(&m, "gemini-2.5-flash", "countTokens", &ask(&mime, &pcm)).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&counted).unwrap()["totalTokens"],
        9 + 56
    );
    m.shutdown().await;
}

#[tokio::test]
async fn imagen_is_retired_and_predict_is_googles_404() {
    let m = mock().await;
    let body = json!({"instances": [{"prompt": "A robot"}], "parameters": {"sampleCount": 1}});
    for (version, model) in [
        ("v1beta", "imagen-3.0-generate-002"),
        ("v1beta", "imagen-4.0-generate-001"),
        ("v1beta", "imagen-4.0-ultra-generate-001"),
        ("v1beta", "imagen-4.0-fast-generate-001"),
        ("v1", "gemini-2.5-flash"),
    ] {
        let r = client()
            .post(format!(
                "{}/{version}/models/{model}:predict",
                m.gemini_base_url()
            ))
            .header("x-goog-api-key", "k")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{model}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["status"], "NOT_FOUND");
        assert_eq!(
            v["error"]["message"],
            format!(
                "models/{model} is not found for API version {version}, or is not supported for predict. Call ListModels to see the list of available models and their supported methods."
            )
        );
    }
    m.shutdown().await;
}
