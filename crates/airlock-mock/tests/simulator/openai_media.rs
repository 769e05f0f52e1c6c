//! OpenAI's image and audio endpoints over real HTTP, with what comes back
//! decoded: pictures by the `image` crate, WAV by `hound`, FLAC, MP3 and
//! AAC by `symphonia`'s decoders; speech read back by the transcription
//! endpoint; and OpenAI's 400s for bad fields, sizes, voices, formats and
//! uploads that are not what they claim.

use std::io::Cursor;

use airlock_mock::RunningMock;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image::{DynamicImage, GenericImageView, ImageFormat, RgbaImage};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::http::{client, json_of, mock, openai};

fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn form(m: &RunningMock, path: &str, form: Form) -> Response {
    client()
        .post(format!("{}/{path}", m.openai_base_url()))
        .bearer_auth("k")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn file(name: &str, bytes: Vec<u8>, mime: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap()
}

fn decode_b64(item: &Value) -> DynamicImage {
    let bytes = STANDARD.decode(item["b64_json"].as_str().unwrap()).unwrap();
    image::load_from_memory(&bytes).unwrap()
}

fn encoded(picture: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A picture with an alpha channel (half of it transparent).
fn rgba(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, _| {
        image::Rgba([200, 40, 40, if x < width / 2 { 0 } else { 255 }])
    }))
}

fn rgb(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(rgba(width, height).to_rgb8())
}

fn error_of(v: &Value) -> (&str, Option<&str>, Option<&str>) {
    (
        v["error"]["message"].as_str().unwrap_or_default(),
        v["error"]["param"].as_str(),
        v["error"]["code"].as_str(),
    )
}

/// The `data:` events of an SSE body.
fn sse(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Every sample a symphonia decoder reads from `bytes`, and the rate.
fn decode_audio(bytes: Vec<u8>, extension: &str) -> (Vec<f32>, u32) {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(extension);
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .unwrap();
    let mut format = probed.format;
    let track = format.default_track().unwrap();
    let rate = track.codec_params.sample_rate.unwrap();
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions { verify: true })
        .unwrap();
    let mut samples = Vec::new();
    while let Ok(packet) = format.next_packet() {
        let decoded = decoder.decode(&packet).unwrap();
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
        buffer.copy_interleaved_ref(decoded);
        samples.extend_from_slice(buffer.samples());
    }
    (samples, rate)
}

#[tokio::test]
async fn dall_e_2_draws_pictures_of_the_asked_size_as_base64() {
    let m = mock().await;
    let body = json!({"model": "dall-e-2", "prompt": "a lighthouse", "n": 2, "size": "256x256", "response_format": "b64_json"});
    let (status, v) = json_of(openai(&m, "images/generations", "k", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["created"].is_u64());
    assert!(v.get("usage").is_none(), "DALL·E answers carry no usage");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for item in data {
        assert_eq!(decode_b64(item).dimensions(), (256, 256));
    }
    assert_ne!(data[0]["b64_json"], data[1]["b64_json"]);
    let (_, again) = json_of(openai(&m, "images/generations", "k", &body).await).await;
    assert_eq!(
        again["data"], v["data"],
        "the same request draws the same pictures"
    );
}

#[tokio::test]
async fn urls_are_served_by_the_simulator_without_a_key() {
    let m = mock().await;
    let body = json!({"prompt": "a harbour at night", "size": "512x512"});
    let (status, v) = json_of(openai(&m, "images/generations", "k", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let url = v["data"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/blob/img-", m.addr)),
        "{url}"
    );
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "image/png");
    let picture = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(picture.dimensions(), (512, 512));
    let missing = client()
        .get(format!("http://{}/blob/img-0.png", m.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("BlobNotFound"));
}

#[tokio::test]
async fn dall_e_3_revises_the_prompt() {
    let m = mock().await;
    let body = json!({"model": "dall-e-3", "prompt": "a red kite", "size": "1024x1792", "quality": "hd", "style": "natural", "response_format": "b64_json"});
    let (status, v) = json_of(openai(&m, "images/generations", "k", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(
        v["data"][0]["revised_prompt"]
            .as_str()
            .unwrap()
            .starts_with("a red kite")
    );
    assert_eq!(decode_b64(&v["data"][0]).dimensions(), (1024, 1792));
}

#[tokio::test]
async fn gpt_image_answers_in_the_output_format_with_usage() {
    let m = mock().await;
    let body = json!({"model": "gpt-image-1", "prompt": "a fox", "size": "1024x1536", "quality": "low", "output_format": "webp", "background": "opaque", "user": "u-1"});
    let (status, v) = json_of(openai(&m, "images/generations", "k", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let bytes = STANDARD
        .decode(v["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::WebP);
    assert_eq!(
        image::load_from_memory(&bytes).unwrap().dimensions(),
        (1024, 1536)
    );
    assert_eq!(
        (
            &v["output_format"],
            &v["quality"],
            &v["size"],
            &v["background"],
            &v["safety_identifier"]
        ),
        (
            &json!("webp"),
            &json!("low"),
            &json!("1024x1536"),
            &json!("opaque"),
            &json!("u-1")
        )
    );
    // "a fox": 2 text tokens; a low-quality 1024x1536 picture: 408.
    assert_eq!(
        v["usage"],
        json!({"input_tokens": 2, "input_tokens_details": {"image_tokens": 0, "text_tokens": 2},
               "output_tokens": 408, "output_tokens_details": {"image_tokens": 408, "text_tokens": 0},
               "total_tokens": 410})
    );
    let jpeg = json!({"model": "gpt-image-1-mini", "prompt": "a fox", "output_format": "jpeg", "quality": "low"});
    let (_, v) = json_of(openai(&m, "images/generations", "k", &jpeg).await).await;
    let bytes = STANDARD
        .decode(v["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
    assert_eq!(v["size"], "1024x1024");
}

#[tokio::test]
async fn gpt_image_streams_partial_pictures_then_the_picture() {
    let m = mock().await;
    let body = json!({"model": "gpt-image-1.5", "prompt": "a fox", "quality": "low", "stream": true, "partial_images": 2});
    let r = openai(&m, "images/generations", "k", &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    assert!(text.starts_with("event: image_generation.partial_image\ndata: "));
    let events = sse(&text);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "image_generation.partial_image",
            "image_generation.partial_image",
            "image_generation.completed"
        ]
    );
    assert_eq!(events[1]["partial_image_index"], 1);
    assert_eq!(
        (&events[2]["size"], &events[2]["quality"]),
        (&json!("auto"), &json!("low"))
    );
    assert_eq!(events[2]["usage"]["output_tokens"], 272);
    assert_eq!(decode_b64(&events[2]).dimensions(), (1024, 1024));
    let (_, whole) = json_of(
        openai(
            &m,
            "images/generations",
            "k",
            &json!({"model": "gpt-image-1.5", "prompt": "a fox", "quality": "low"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        whole["data"][0]["b64_json"], events[2]["b64_json"],
        "streamed or not, the same picture"
    );
}

#[tokio::test]
async fn image_generation_refusals_are_openais() {
    let m = mock().await;
    let cases = [
        (
            json!({"model": "dall-e-2", "prompt": "x", "foo": 1}),
            ("Unrecognized request argument supplied: foo", None, None),
        ),
        (
            json!({"model": "dall-e-3", "prompt": "x", "size": "256x256"}),
            (
                "The size is not supported by this model.",
                None,
                Some("invalid_size"),
            ),
        ),
        (
            json!({"model": "gpt-image-1", "prompt": "x", "size": "512x512"}),
            (
                "Invalid value: '512x512'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
                Some("size"),
                Some("invalid_value"),
            ),
        ),
        (
            json!({"model": "gpt-image-1", "prompt": "x", "response_format": "b64_json"}),
            (
                "Unknown parameter: 'response_format'.",
                Some("response_format"),
                Some("unknown_parameter"),
            ),
        ),
        (
            json!({"model": "dall-e-3", "prompt": "x", "n": 2}),
            (
                "Invalid 'n': integer above maximum value. Expected a value <= 1, but got 2 instead.",
                Some("n"),
                Some("integer_above_max_value"),
            ),
        ),
        (
            json!({"model": "gpt-image-1", "prompt": "x", "output_format": "jpeg", "background": "transparent"}),
            (
                "Transparent background is not supported for jpeg output format. Use 'png' or 'webp'.",
                Some("background"),
                None,
            ),
        ),
        (
            json!({"model": "dall-e-2"}),
            (
                "Missing required parameter: 'prompt'.",
                Some("prompt"),
                Some("missing_required_parameter"),
            ),
        ),
    ];
    for (body, expected) in cases {
        let (status, v) = json_of(openai(&m, "images/generations", "k", &body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_of(&v), expected, "{body}");
    }
    let (status, v) = json_of(
        openai(
            &m,
            "images/generations",
            "k",
            &json!({"model": "dall-e-9", "prompt": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("model_not_found"))
    );
    let (status, _) =
        json_of(openai(&m, "images/generations", "", &json!({"prompt": "x"})).await).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "image endpoints need a key"
    );
}

#[tokio::test]
async fn dall_e_2_edits_a_square_png_with_transparency() {
    let m = mock().await;
    let png = encoded(rgba(64, 64), ImageFormat::Png);
    let edit = |png: Vec<u8>| {
        Form::new()
            .text("model", "dall-e-2")
            .text("prompt", "add a moon")
            .text("size", "256x256")
            .text("response_format", "b64_json")
            .part("image", file("scene.png", png, "image/png"))
    };
    let (status, v) = json_of(form(&m, "images/edits", edit(png.clone())).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(decode_b64(&v["data"][0]).dimensions(), (256, 256));
    let (_, again) = json_of(form(&m, "images/edits", edit(png)).await).await;
    assert_eq!(again["data"], v["data"], "the same input, the same picture");
    let other = encoded(rgba(32, 32), ImageFormat::Png);
    let (_, changed) = json_of(form(&m, "images/edits", edit(other)).await).await;
    assert_ne!(
        changed["data"], v["data"],
        "the picture follows the input bytes"
    );

    let opaque = encoded(rgb(64, 64), ImageFormat::Png);
    let (status, v) = json_of(form(&m, "images/edits", edit(opaque)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&v).0,
        "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB."
    );
    let jpeg = encoded(rgb(64, 64), ImageFormat::Jpeg);
    let (_, v) = json_of(form(&m, "images/edits", edit(jpeg)).await).await;
    assert_eq!(
        error_of(&v).0,
        "Uploaded image must be a PNG and less than 4 MB."
    );
}

#[tokio::test]
async fn gpt_image_edits_take_several_pictures_and_a_mask() {
    let m = mock().await;
    let first = encoded(rgb(300, 200), ImageFormat::Jpeg);
    let second = encoded(rgb(40, 40), ImageFormat::WebP);
    let mask = encoded(rgba(300, 200), ImageFormat::Png);
    let body = Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "make it dusk")
        .text("quality", "low")
        .text("input_fidelity", "high")
        .part("image[]", file("a.jpg", first.clone(), "image/jpeg"))
        .part("image[]", file("b.webp", second, "image/webp"))
        .part("mask", file("mask.png", mask, "image/png"));
    let (status, v) = json_of(form(&m, "images/edits", body).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // `size: auto` follows the first picture's landscape shape.
    assert_eq!(decode_b64(&v["data"][0]).dimensions(), (1536, 1024));
    assert_eq!(v["size"], "1536x1024");
    assert_eq!(
        v["usage"]["input_tokens_details"],
        json!({"image_tokens": 516, "text_tokens": 3})
    );

    let small_mask = encoded(rgba(30, 20), ImageFormat::Png);
    let body = Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "make it dusk")
        .part("image", file("a.jpg", first.clone(), "image/jpeg"))
        .part("mask", file("mask.png", small_mask, "image/png"));
    let (status, v) = json_of(form(&m, "images/edits", body).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&v),
        (
            "Invalid mask image - the mask must have the same dimensions as the image (300x200), got 30x20.",
            Some("mask"),
            None
        )
    );

    // A text file declared as a PNG: the bytes decide.
    let body = Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "make it dusk")
        .part("image[]", file("a.jpg", first, "image/jpeg"))
        .part(
            "image[]",
            file("notes.png", b"just some notes".to_vec(), "image/png"),
        );
    let (status, v) = json_of(form(&m, "images/edits", body).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&v),
        (
            "Invalid image file or mode for image 2, please check your image file.",
            Some("image"),
            Some("invalid_image_file")
        )
    );
}

#[tokio::test]
async fn edits_want_a_form() {
    let m = mock().await;
    let (status, v) = json_of(openai(&m, "images/edits", "k", &json!({"prompt": "x"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&v).2, Some("unsupported_content_type"));
    let unknown = Form::new().text("prompt", "x").text("colour", "red").part(
        "image",
        file("a.png", encoded(rgba(8, 8), ImageFormat::Png), "image/png"),
    );
    let (status, v) = json_of(form(&m, "images/edits", unknown).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&v).0,
        "Unrecognized request argument supplied: colour"
    );
    let typed = Form::new().text("prompt", "x").text("n", "two").part(
        "image",
        file("a.png", encoded(rgba(8, 8), ImageFormat::Png), "image/png"),
    );
    let (_, v) = json_of(form(&m, "images/edits", typed).await).await;
    assert_eq!(
        error_of(&v),
        (
            "Invalid type for 'n': expected an integer, but got a string instead.",
            Some("n"),
            Some("invalid_type")
        )
    );
}

async fn speak(m: &RunningMock, body: Value) -> Response {
    openai(m, "audio/speech", "k", &body).await
}

#[tokio::test]
async fn speech_comes_in_every_format() {
    let m = mock().await;
    let text = "The tide comes in.";
    let samples = text.chars().count() * 1200; // 50 ms a character at 24 kHz
    let get = |format: &'static str| {
        let m = &m;
        async move {
            let r = speak(m, json!({"model": "tts-1", "input": text, "voice": "alloy", "response_format": format})).await;
            assert_eq!(r.status(), StatusCode::OK, "{format}");
            let content_type = header(&r, "content-type");
            (content_type, r.bytes().await.unwrap().to_vec())
        }
    };

    let (content_type, wav) = get("wav").await;
    assert_eq!(content_type, "audio/wav");
    let reader = hound::WavReader::new(Cursor::new(&wav)).unwrap();
    assert_eq!(
        (
            reader.spec().channels,
            reader.spec().sample_rate,
            reader.spec().bits_per_sample
        ),
        (1, 24000, 16)
    );
    assert_eq!(reader.duration() as usize, samples);

    let (content_type, pcm) = get("pcm").await;
    assert_eq!(
        (content_type.as_str(), pcm.len()),
        ("audio/pcm", samples * 2)
    );
    assert_eq!(&wav[44..], pcm, "the WAV carries the same samples");

    let (content_type, flac) = get("flac").await;
    assert_eq!(content_type, "audio/flac");
    let (decoded, rate) = decode_audio(flac, "flac");
    assert_eq!((decoded.len(), rate), (samples, 24000));

    let (content_type, mp3) = get("mp3").await;
    assert_eq!(content_type, "audio/mpeg");
    assert_eq!(&mp3[..2], [0xFF, 0xF3], "an MPEG-2 Layer III frame sync");
    let (decoded, rate) = decode_audio(mp3, "mp3");
    assert_eq!(rate, 24000);
    assert_eq!(decoded.len(), samples.div_ceil(576) * 576);

    let (content_type, aac) = get("aac").await;
    assert_eq!(content_type, "audio/aac");
    let (decoded, _) = decode_audio(aac, "aac");
    assert_eq!(decoded.len(), samples.div_ceil(1024) * 1024);

    let (content_type, opus) = get("opus").await;
    assert_eq!(content_type, "audio/opus");
    assert!(opus.starts_with(b"OggS") && opus.windows(8).any(|w| w == b"OpusHead"));
}

#[tokio::test]
async fn speech_streams_as_sse() {
    let m = mock().await;
    let r = speak(
        &m,
        json!({"model": "gpt-4o-mini-tts", "input": "Hello there.", "voice": "coral", "instructions": "Warm.", "response_format": "pcm", "stream_format": "sse"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let events = sse(&r.text().await.unwrap());
    let (done, deltas) = events.split_last().unwrap();
    assert!(deltas.iter().all(|e| e["type"] == "speech.audio.delta"));
    let audio: Vec<u8> = deltas
        .iter()
        .flat_map(|e| STANDARD.decode(e["audio"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(audio.len(), 12 * 1200 * 2);
    assert_eq!(done["type"], "speech.audio.done");
    assert_eq!(
        done["usage"],
        json!({"input_tokens": 5, "output_tokens": 12, "total_tokens": 17})
    );
}

#[tokio::test]
async fn speech_refusals_are_openais() {
    let m = mock().await;
    let cases = [
        (
            json!({"model": "tts-1", "input": "hi", "voice": "robot"}),
            "Invalid value: 'robot'. Supported values are: 'alloy', 'ash', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', and 'shimmer'.",
        ),
        (
            json!({"model": "tts-1", "input": "hi", "voice": "alloy", "instructions": "calm"}),
            "Unsupported parameter: 'instructions' is not supported with this model.",
        ),
        (
            json!({"model": "tts-1-hd", "input": "hi", "voice": "alloy", "stream_format": "sse"}),
            "Unsupported value: 'stream_format' does not support 'sse' with this model.",
        ),
        (
            json!({"model": "tts-1", "input": "hi", "voice": "alloy", "response_format": "ogg"}),
            "Invalid value: 'ogg'. Supported values are: 'mp3', 'opus', 'aac', 'flac', 'wav', and 'pcm'.",
        ),
        (
            json!({"model": "tts-1", "input": "hi", "voice": "alloy", "speed": 5}),
            "Invalid 'speed': decimal above maximum value. Expected a value <= 4, but got 5 instead.",
        ),
        (
            json!({"model": "tts-1", "input": "hi", "voice": "alloy", "pitch": 2}),
            "Unrecognized request argument supplied: pitch",
        ),
    ];
    for (body, message) in cases {
        let (status, v) = json_of(speak(&m, body.clone()).await).await;
        assert_eq!(
            (status, error_of(&v).0),
            (StatusCode::BAD_REQUEST, message),
            "{body}"
        );
    }
}

async fn transcribe(
    m: &RunningMock,
    audio: Vec<u8>,
    fields: &[(&'static str, &'static str)],
) -> Response {
    let mut body = Form::new().part("file", file("speech.wav", audio, "audio/wav"));
    for (name, value) in fields {
        body = body.text(*name, *value);
    }
    form(m, "audio/transcriptions", body).await
}

#[tokio::test]
async fn transcription_reads_back_what_speech_said() {
    let m = mock().await;
    let text = "Every scene has its own narration.";
    for format in ["wav", "flac"] {
        let audio = speak(&m, json!({"model": "gpt-4o-mini-tts", "input": text, "voice": "verse", "response_format": format}))
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec();
        let (status, v) = json_of(transcribe(&m, audio, &[("model", "whisper-1")]).await).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["text"], text, "{format}");
        assert_eq!(
            v["usage"],
            json!({"type": "duration", "seconds": 2}),
            "{format}"
        );
    }
}

#[tokio::test]
async fn transcription_formats() {
    let m = mock().await;
    let wav = speak(&m, json!({"model": "tts-1", "input": "Good night. Sleep well.", "voice": "echo", "response_format": "wav"}))
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();

    let r = transcribe(
        &m,
        wav.clone(),
        &[("model", "whisper-1"), ("response_format", "text")],
    )
    .await;
    assert!(header(&r, "content-type").starts_with("text/plain"));
    assert_eq!(r.text().await.unwrap(), "Good night. Sleep well.\n");

    let r = transcribe(
        &m,
        wav.clone(),
        &[("model", "whisper-1"), ("response_format", "srt")],
    )
    .await;
    assert_eq!(
        r.text().await.unwrap(),
        "1\n00:00:00,000 --> 00:00:00,550\nGood night.\n\n2\n00:00:00,600 --> 00:00:01,150\nSleep well.\n\n"
    );
    let r = transcribe(
        &m,
        wav.clone(),
        &[("model", "whisper-1"), ("response_format", "vtt")],
    )
    .await;
    assert!(
        r.text()
            .await
            .unwrap()
            .starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:00.550\nGood night.\n")
    );

    let fields = [
        ("model", "whisper-1"),
        ("response_format", "verbose_json"),
        ("timestamp_granularities[]", "word"),
        ("timestamp_granularities[]", "segment"),
        ("language", "en"),
        ("temperature", "0.2"),
    ];
    let (status, v) = json_of(transcribe(&m, wav.clone(), &fields).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["task"], &v["language"], &v["duration"]),
        (&json!("transcribe"), &json!("english"), &json!(1.15))
    );
    assert_eq!(v["segments"][1]["text"], " Sleep well.");
    assert_eq!(v["segments"][0]["temperature"], 0.2);
    assert_eq!(
        v["words"][0],
        json!({"word": "Good", "start": 0.0, "end": 0.2})
    );

    let (status, v) = json_of(
        transcribe(
            &m,
            wav.clone(),
            &[("model", "gpt-4o-transcribe"), ("include[]", "logprobs")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["usage"]["type"], "tokens");
    assert_eq!(v["usage"]["input_token_details"]["audio_tokens"], 12);
    assert_eq!(v["logprobs"].as_array().unwrap().len(), 4);

    let r = transcribe(
        &m,
        wav.clone(),
        &[("model", "gpt-4o-mini-transcribe"), ("stream", "true")],
    )
    .await;
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let events = sse(&r.text().await.unwrap());
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "transcript.text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Good night. Sleep well.");
    assert_eq!(events.last().unwrap()["type"], "transcript.text.done");

    let (status, v) =
        json_of(transcribe(&m, wav, &[("model", "whisper-1"), ("stream", "true")]).await).await;
    assert_eq!(
        (status, &v["text"]),
        (StatusCode::OK, &json!("Good night. Sleep well.")),
        "whisper-1 ignores stream"
    );
}

#[tokio::test]
async fn other_audio_is_heard_by_its_length() {
    let m = mock().await;
    // Two seconds of speech as MP3 silence (84 frames, 2.016 s).
    let mp3 = speak(
        &m,
        json!({"model": "tts-1", "input": "x".repeat(40), "voice": "onyx"}),
    )
    .await
    .bytes()
    .await
    .unwrap()
    .to_vec();
    let (status, v) = json_of(transcribe(&m, mp3.clone(), &[("model", "whisper-1")]).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["text"].as_str().unwrap().split(' ').count(),
        6,
        "2.016 s: six started 400 ms"
    );
    let (_, again) = json_of(transcribe(&m, mp3, &[("model", "whisper-1")]).await).await;
    assert_eq!(again["text"], v["text"]);
}

#[tokio::test]
async fn transcription_refusals_are_openais() {
    let m = mock().await;
    let wav = speak(
        &m,
        json!({"model": "tts-1", "input": "Hi.", "voice": "echo", "response_format": "wav"}),
    )
    .await
    .bytes()
    .await
    .unwrap()
    .to_vec();
    let (status, v) = json_of(
        transcribe(
            &m,
            b"these are notes, not audio".to_vec(),
            &[("model", "whisper-1")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&v),
        (
            "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
            None,
            None
        )
    );
    let (status, v) = json_of(
        transcribe(
            &m,
            wav.clone(),
            &[
                ("model", "gpt-4o-transcribe"),
                ("response_format", "verbose_json"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&v),
        (
            "response_format 'verbose_json' is not compatible with model 'gpt-4o-transcribe'. Use 'json' or 'text' instead.",
            Some("response_format"),
            Some("unsupported_value")
        )
    );
    let (_, v) = json_of(
        transcribe(
            &m,
            wav.clone(),
            &[("model", "whisper-1"), ("response_format", "csv")],
        )
        .await,
    )
    .await;
    assert_eq!(error_of(&v).1, Some("response_format"));
    let (_, v) =
        json_of(transcribe(&m, wav.clone(), &[("model", "whisper-1"), ("speaker", "a")]).await)
            .await;
    assert_eq!(
        error_of(&v).0,
        "Unrecognized request argument supplied: speaker"
    );
    let (_, v) = json_of(transcribe(&m, wav, &[]).await).await;
    assert_eq!(error_of(&v).0, "Missing required parameter: 'model'.");
}

#[tokio::test]
async fn transcription_uploads_over_25_mib_are_refused() {
    let m = mock().await;
    let mut big = b"RIFF\0\0\0\0WAVE".to_vec();
    big.resize(26_214_400, 0);
    let (status, v) = json_of(transcribe(&m, big, &[("model", "whisper-1")]).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        error_of(&v).0,
        "Maximum content size limit (26214400) exceeded (26214401 bytes read)"
    );
}
