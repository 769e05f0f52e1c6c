//! Images and audio through the OpenAI surface (passed through to an
//! OpenAI-protocol provider), media handed out as signed URLs, and
//! `GET /media/{id}`: signatures, ETag, ranges, variants and refusals.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Harness, Setup};
use serde_json::{Value, json};

/// `POST /v1/images/generations` with `body`; status and JSON.
async fn generate(h: &Harness, body: Value, media: Option<&str>) -> (u16, Value) {
    let mut request = h.openai_post("/v1/images/generations").json(&body);
    if let Some(media) = media {
        request = request.header("x-airlock-media", media);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn decode_png(bytes: &[u8]) -> image::DynamicImage {
    assert_eq!(
        image::guess_format(bytes).unwrap(),
        image::ImageFormat::Png,
        "a PNG"
    );
    image::load_from_memory(bytes).unwrap()
}

/// The URL of the first image of an answer given as URLs.
async fn image_url(h: &Harness) -> String {
    let (status, answer) = generate(
        h,
        json!({"model": "gpt-image-1", "prompt": "a lighthouse at dusk", "size": "1024x1024"}),
        Some("url"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer["data"][0]["url"].as_str().unwrap().to_string()
}

/// A URL with one query parameter's value replaced.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key == name => format!("{key}={value}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[tokio::test]
async fn images_generate_inline_through_the_openai_surface() {
    let h = Harness::start().await;
    let (status, answer) = generate(
        &h,
        json!({"model": "gpt-image-1", "prompt": "a red kite", "size": "1536x1024"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let png = STANDARD
        .decode(answer["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    let picture = decode_png(&png);
    assert_eq!((picture.width(), picture.height()), (1536, 1024));
    assert!(answer["data"][0].get("url").is_none());
    let (status, answer) = generate(
        &h,
        json!({"model": "dall-e-3", "prompt": "a red kite", "response_format": "b64_json"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let records = h.stop().await;
    // DALL·E is priced per image.
    common::assert_cost(records.last().unwrap().cost_usd, 0.04);
    let record = &records[records.len() - 2];
    assert_eq!(record.operation, "images.generations");
    assert_eq!(record.provider.as_deref(), Some("openai"));
    assert!(
        record.tokens_out.unwrap_or(0) > 0,
        "image output tokens are counted"
    );
}

#[tokio::test]
async fn images_as_urls_are_served_signed_cacheable_and_by_range() {
    let h = Harness::start().await;
    let (status, answer) = generate(
        &h,
        json!({"model": "gpt-image-1", "prompt": "a lighthouse at dusk", "size": "1024x1024"}),
        Some("url"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["data"][0].get("b64_json").is_none(), "{answer}");
    let url = answer["data"][0]["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("http://{}/media/", h.addr)),
        "{url}"
    );

    let response = h.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["accept-ranges"], "bytes");
    let cache = headers["cache-control"].to_str().unwrap();
    assert!(
        cache.starts_with("public, max-age=") && cache.ends_with(", immutable"),
        "{cache}"
    );
    let max_age: u64 = cache["public, max-age=".len()..cache.len() - ", immutable".len()]
        .parse()
        .unwrap();
    assert!(
        (3590..=3600).contains(&max_age),
        "as long as the URL is valid: {max_age}"
    );
    let etag = headers["etag"].to_str().unwrap().to_string();
    let bytes = response.bytes().await.unwrap();
    let picture = decode_png(&bytes);
    assert_eq!((picture.width(), picture.height()), (1024, 1024));
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());

    let again = h
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());

    // Read once, the object is held in memory with its file open, and
    // HTTP/1 answers send it from the file: the same bytes, whole and in
    // ranges, over one connection.
    for _ in 0..3 {
        let whole = h.http.get(&url).send().await.unwrap();
        assert_eq!(whole.status(), 200);
        assert_eq!(whole.bytes().await.unwrap(), bytes);
    }
    let middle = h
        .http
        .get(&url)
        .header("range", "bytes=100000-199999")
        .send()
        .await
        .unwrap();
    assert_eq!(middle.status(), 206);
    assert_eq!(middle.bytes().await.unwrap(), bytes.slice(100_000..200_000));

    let part = h
        .http
        .get(&url)
        .header("range", "bytes=8-15")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 8-15/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(8..16));

    let suffix = h
        .http
        .get(&url)
        .header("range", "bytes=-4")
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.status(), 206);
    assert_eq!(
        suffix.bytes().await.unwrap(),
        bytes.slice(bytes.len() - 4..)
    );

    let beyond = h
        .http
        .get(&url)
        .header("range", format!("bytes={}-", bytes.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );

    // Recorded: the media row names the request that made it.
    let id = url
        .split("/media/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let store = h.store.clone();
    let records = h.stop().await;
    let media = store.media(&id).await.unwrap().expect("a media record");
    assert_eq!(media.content_type, "image/png");
    assert_eq!(media.size, bytes.len() as u64);
    assert!(media.sha256.starts_with(&id[..32]));
    let request = records
        .iter()
        .find(|r| r.operation == "images.generations")
        .unwrap();
    assert_eq!(media.request_id.as_deref(), Some(request.id.as_str()));
}

#[tokio::test]
async fn media_urls_refuse_bad_expired_and_moved_signatures_and_path_tricks() {
    let h = Harness::start().await;
    let url = image_url(&h).await;
    let status = |url: String| {
        let http = h.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(url.clone()).await, 200);
    let (path, _) = url.split_once('?').unwrap();
    assert_eq!(status(path.to_string()).await, 403, "unsigned");
    assert_eq!(
        status(with_param(
            &url,
            "sig",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ))
        .await,
        403,
        "a forged signature"
    );
    let exp: u64 = url
        .split("exp=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        status(with_param(&url, "exp", &(exp + 3600).to_string())).await,
        403,
        "a later expiry under the same signature"
    );
    // The same signature on another image's id.
    let (status_code, other) = generate(
        &h,
        json!({"model": "gpt-image-1", "prompt": "another picture entirely"}),
        Some("url"),
    )
    .await;
    assert_eq!(status_code, 200);
    let other_url = other["data"][0]["url"].as_str().unwrap();
    let other_path = other_url.split('?').next().unwrap();
    let query = url.split_once('?').unwrap().1;
    assert_eq!(status(format!("{other_path}?{query}")).await, 403);
    let body = h
        .http
        .get(format!("{other_path}?{query}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("signature"), "{body}");

    for trick in [
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/../../etc/passwd",
        "/media/%2e%2e%2fdata.db",
        "/media/0123456789abcdef0123456789abcdef.exe",
    ] {
        let response = h.http.get(h.url(trick)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{trick}");
    }
    // A well-formed id nobody stored, signed: still 404, after the signature.
    h.stop().await;
}

#[tokio::test]
async fn an_expired_media_url_is_refused() {
    let h = Harness::with(Setup {
        media_url_ttl: std::time::Duration::from_secs(1),
        ..Setup::default()
    })
    .await;
    let url = image_url(&h).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = h.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn image_variants_are_resized_reencoded_and_opened_by_a_signed_url() {
    let h = Harness::start().await;
    let url = image_url(&h).await;
    let signer = airlock_gateway::media::UrlSigner::new(common::MEDIA_SIGNING_KEY);
    let path = url.split('?').next().unwrap();
    let id = path.rsplit('/').next().unwrap();
    let thumb = airlock_gateway::media::Variant {
        width: 64,
        format: airlock_gateway::media::VariantFormat::Webp,
    };
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let query = signer.query(id, Some(&thumb), expires);
    for _ in 0..2 {
        // Made on the first request, kept for the second.
        let response = h.http.get(format!("{path}?{query}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/webp");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(
            image::guess_format(&bytes).unwrap(),
            image::ImageFormat::WebP
        );
        let picture = image::load_from_memory(&bytes).unwrap();
        assert_eq!((picture.width(), picture.height()), (64, 64));
    }
    // The original's URL opens its variants too: a client appends them.
    let response = h
        .http
        .get(format!("{url}&w=128&format=jpeg"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let picture = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(picture.width(), 128);
    // A variant's own signature does not open another variant.
    let signed_for_64 = query.split_once("&exp=").unwrap().1;
    let response = h
        .http
        .get(format!("{path}?w=128&format=webp&exp={signed_for_64}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // A width not configured is refused by name.
    let wide = airlock_gateway::media::Variant {
        width: 100,
        ..thumb
    };
    let query = signer.query(id, Some(&wide), expires);
    let response = h.http.get(format!("{path}?{query}")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("64, 128, 256"));
    // Each variant made is recorded, with the picture it came from.
    let id = id.to_string();
    let store = h.store.clone();
    h.stop().await;
    let record = store
        .media(&format!("{id}/w64.webp"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.source_id.as_deref(), Some(id.as_str()));
    assert_eq!(record.content_type, "image/webp");
}

#[tokio::test]
async fn a_failing_media_store_is_a_503_and_no_url_is_given() {
    let h = Harness::with(Setup {
        media_blobs: Some(airlock_store::BlobsConfig::S3(airlock_store::S3Config {
            endpoint: Some("http://127.0.0.1:9".into()),
            bucket: "media".into(),
            region: "us-east-1".into(),
            access_key_id: "id".into(),
            secret_access_key: "secret".into(),
            path_style: true,
            allow_http: true,
        })),
        ..Setup::default()
    })
    .await;
    let (status, answer) = generate(
        &h,
        json!({"model": "gpt-image-1", "prompt": "a lighthouse"}),
        Some("url"),
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "media_storage_unavailable");
    assert!(!answer.to_string().contains("secret"), "{answer}");
    // Inline answers need no store.
    let (status, _) = generate(
        &h,
        json!({"model": "gpt-image-1", "prompt": "a lighthouse"}),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn speech_is_relayed_as_audio_bytes_and_as_events() {
    let h = Harness::start().await;
    let text = "The lighthouse keeper climbed the stairs.";
    let response = h
        .openai_post("/v1/audio/speech")
        .json(&json!({"model": "gpt-4o-mini-tts", "voice": "coral", "input": text, "response_format": "wav"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let wav = response.bytes().await.unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    // 24 kHz, 16-bit mono: 50 ms a character in the simulator's voice.
    let data_len = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize;
    assert_eq!(data_len, text.chars().count() * 24_000 * 2 / 20);

    let response = h
        .openai_post("/v1/audio/speech")
        .json(&json!({"model": "gpt-4o-mini-tts", "voice": "coral", "input": text, "response_format": "pcm", "stream_format": "sse"}))
        .send()
        .await
        .unwrap();
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
    assert_eq!(pcm.len(), data_len);
    assert_eq!(events.last().unwrap()["type"], "speech.audio.done");
    let records = h.stop().await;
    let streamed = records.last().unwrap();
    assert_eq!(streamed.operation, "audio.speech");
    assert!(
        streamed.tokens_out.unwrap_or(0) > 0,
        "the done event's usage"
    );
}

/// A multipart form with `fields` and one file.
fn form(
    fields: &[(&str, &str)],
    file_field: &str,
    file: Vec<u8>,
    name: &str,
) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (key, value) in fields {
        form = form.text(key.to_string(), value.to_string());
    }
    form.part(
        file_field.to_string(),
        reqwest::multipart::Part::bytes(file).file_name(name.to_string()),
    )
}

#[tokio::test]
async fn speech_transcribed_through_the_gateway_reads_back_the_text() {
    let h = Harness::start().await;
    let text = "Once upon a time";
    let wav = h
        .openai_post("/v1/audio/speech")
        .json(&json!({"model": "tts-1", "voice": "alloy", "input": text, "response_format": "wav"}))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    for (response_format, expected) in [("json", None), ("text", Some(format!("{text}\n")))] {
        let response = h
            .openai_post("/v1/audio/transcriptions")
            .multipart(form(
                &[("model", "whisper-1"), ("response_format", response_format)],
                "file",
                wav.clone(),
                "scene.wav",
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{response_format}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        let body = response.text().await.unwrap();
        match expected {
            None => {
                assert!(
                    content_type.starts_with("application/json"),
                    "{content_type}"
                );
                let answer: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(answer["text"], text);
            }
            Some(expected) => {
                assert!(content_type.starts_with("text/plain"), "{content_type}");
                assert_eq!(body.trim_end(), expected.trim_end());
            }
        }
    }
    let records = h.stop().await;
    // tts-1 is billed by the input's characters, whisper-1 by the audio's
    // seconds (the simulator's voice: 50 ms a character).
    let speech = records
        .iter()
        .find(|r| r.operation == "audio.speech")
        .unwrap();
    let characters = text.chars().count();
    assert_eq!(speech.tokens_in, Some(characters as i64));
    common::assert_cost(speech.cost_usd, characters as f64 * 15.0 / 1e6);
    let heard = records
        .iter()
        .find(|r| r.operation == "audio.transcriptions" && r.status == 200)
        .unwrap();
    // OpenAI reports whole seconds, rounded up.
    let seconds = (characters as f64 * 0.05).ceil();
    common::assert_cost(heard.cost_usd, seconds * 0.0001);
}

#[tokio::test]
async fn uploads_whose_bytes_are_not_what_the_field_takes_are_refused() {
    let h = Harness::start().await;
    let text_file = b"this is not audio at all, just words".to_vec();
    let response = h
        .openai_post("/v1/audio/transcriptions")
        .multipart(form(
            &[("model", "whisper-1")],
            "file",
            text_file.clone(),
            "fake.wav",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["param"], "file", "{answer}");

    let response = h
        .openai_post("/v1/images/edits")
        .multipart(form(
            &[("model", "gpt-image-1"), ("prompt", "make it blue")],
            "image",
            text_file,
            "fake.png",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["param"], "image", "{answer}");

    let response = h
        .openai_post("/v1/images/edits")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    // Nothing of these reached the provider.
    let records = h.stop().await;
    assert!(records.iter().all(|r| r.provider.is_none()), "{records:?}");
}

#[tokio::test]
async fn image_edits_pass_the_form_through_with_the_image() {
    let h = Harness::start().await;
    let (status, answer) = generate(
        &h,
        json!({"model": "gpt-image-1", "prompt": "a plain square", "size": "1024x1024"}),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let png = STANDARD
        .decode(answer["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    let response = h
        .openai_post("/v1/images/edits")
        .multipart(form(
            &[("model", "gpt-image-1"), ("prompt", "add a red door")],
            "image[]",
            png.clone(),
            "square.png",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let edited: Value = response.json().await.unwrap();
    let bytes = STANDARD
        .decode(edited["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    decode_png(&bytes);
    assert_ne!(bytes, png, "the edit is another picture");
}

#[tokio::test]
async fn gemini_image_answers_carry_file_data_uris_when_asked() {
    let h = Harness::start().await;
    let response = h
        .gemini_post("/v1beta/models/gemini-2.5-flash-image:generateContent")
        .header("x-airlock-media", "url")
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "a fox in snow"}]}], "generationConfig": {"responseModalities": ["IMAGE"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let parts = answer["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    let file = parts
        .iter()
        .find_map(|part| part.get("fileData"))
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(parts.iter().all(|part| part.get("inlineData").is_none()));
    assert_eq!(file["mimeType"], "image/png");
    let url = file["fileUri"].as_str().unwrap();
    let response = h.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    decode_png(&response.bytes().await.unwrap());
}

#[tokio::test]
async fn media_round_trips_through_s3_and_by_the_stores_presigned_urls() {
    let s3 = airlock_store::testing::SeaweedS3::shared().await;
    for presigned in [false, true] {
        let h = Harness::with(Setup {
            media_blobs: Some(s3.config()),
            media_presigned: presigned,
            ..Setup::default()
        })
        .await;
        let (status, answer) = generate(
            &h,
            json!({"model": "gpt-image-1", "prompt": format!("a lighthouse, presigned {presigned}")}),
            Some("url"),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let url = answer["data"][0]["url"].as_str().unwrap();
        match presigned {
            // Served by Airlock from the bucket.
            false => assert!(url.starts_with(&h.url("/media/")), "{url}"),
            // Served by the store itself, signed by it.
            true => {
                assert!(url.starts_with(s3.endpoint()), "{url}");
                assert!(url.contains("X-Amz-Signature="), "{url}");
            }
        }
        if !presigned {
            // A range read from the bucket (before anything is in memory).
            let part = h
                .http
                .get(url)
                .header("range", "bytes=0-7")
                .send()
                .await
                .unwrap();
            assert_eq!(part.status(), 206);
            assert_eq!(&part.bytes().await.unwrap()[..], b"\x89PNG\r\n\x1a\n");
        }
        let response = h.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let picture = decode_png(&response.bytes().await.unwrap());
        assert_eq!((picture.width(), picture.height()), (1024, 1024));
    }
}

#[tokio::test]
async fn gemini_speech_as_a_url_is_a_wav_file() {
    let h = Harness::start().await;
    let text = "Chapter one.";
    let response = h
        .gemini_post("/v1beta/models/gemini-2.5-flash-preview-tts:generateContent")
        .header("x-airlock-media", "url")
        .json(&json!({
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let file = &answer["candidates"][0]["content"]["parts"][0]["fileData"];
    assert_eq!(file["mimeType"], "audio/wav", "{answer}");
    let wav = h
        .http
        .get(file["fileUri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 24_000);
    let data_len = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize;
    assert_eq!(data_len, text.chars().count() * 24_000 * 2 / 20);
}

#[tokio::test]
async fn the_retired_imagen_predict_route_is_googles_404() {
    let h = Harness::start().await;
    let response = h
        .gemini_post("/v1beta/models/imagen-4.0-generate-001:predict")
        .json(&json!({"instances": [{"prompt": "a fox"}], "parameters": {"sampleCount": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "NOT_FOUND", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("imagen-4.0-generate-001")
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_and_the_providers_refusals_reach_the_client() {
    let h = Harness::with(Setup {
        max_body_bytes: 64 * 1024,
        ..Setup::default()
    })
    .await;
    let mut wav = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    wav.resize(100 * 1024, 0);
    let response = h
        .openai_post("/v1/audio/transcriptions")
        .multipart(form(&[("model", "whisper-1")], "file", wav, "long.wav"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "request_too_large", "{answer}");

    // An unknown voice and a size the model does not draw: the provider's
    // own 400s, relayed.
    let response = h
        .openai_post("/v1/audio/speech")
        .json(&json!({"model": "tts-1", "voice": "darth", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("darth"),
        "{answer}"
    );
    let (status, answer) = generate(
        &h,
        json!({"model": "dall-e-3", "prompt": "a fox", "size": "300x300"}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_size", "{answer}");
}

#[tokio::test]
async fn a_projects_setting_hands_media_out_as_urls_unless_the_request_says_inline() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "story-app", json!({"media_answers": "url"})).await;
    let other = common::admin_project_key(&h, "chat-app", json!({})).await;
    let ask = |key: String, media: Option<&'static str>| {
        let mut request = h
            .http
            .post(h.url("/v1/images/generations"))
            .bearer_auth(key)
            .json(&json!({"model": "gpt-image-1", "prompt": "a harbour"}));
        if let Some(media) = media {
            request = request.header("x-airlock-media", media);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let answer: Value = response.json().await.unwrap();
            answer["data"][0].clone()
        }
    };
    assert!(ask(key.clone(), None).await["url"].is_string());
    assert!(ask(key, Some("inline")).await["b64_json"].is_string());
    assert!(ask(other, None).await["b64_json"].is_string());

    let response = h
        .http
        .post(h.url("/admin/v1/projects"))
        .bearer_auth(common::MASTER_KEY)
        .json(&json!({"name": "odd", "media_answers": "links"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn operators_list_a_projects_media_with_urls_to_look_at_it() {
    let h = Harness::start().await;
    let key = common::admin_project_key(&h, "story-app", json!({})).await;
    let response = h
        .http
        .post(h.url("/v1/images/generations"))
        .bearer_auth(&key)
        .header("x-airlock-media", "url")
        .json(&json!({"model": "gpt-image-1", "prompt": "chapter one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = common::request_id(&response);
    let admin_get = |path: String| {
        let request = h.http.get(h.url(&path)).bearer_auth(common::MASTER_KEY);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    // The record reaches the table a few milliseconds after the answer.
    let mut listed = Value::Null;
    for _ in 0..100 {
        let (status, body) = admin_get("/admin/v1/projects/story-app/media".into()).await;
        assert_eq!(status, 200, "{body}");
        if body["data"].as_array().is_some_and(|data| !data.is_empty()) {
            listed = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let record = &listed["data"][0];
    assert_eq!(record["kind"], "image", "{listed}");
    assert_eq!(record["content_type"], "image/png");
    assert_eq!(record["request_id"], request_id.as_str());
    let url = record["url"].as_str().unwrap();
    let picture = h.http.get(url).send().await.unwrap();
    assert_eq!(picture.status(), 200);
    decode_png(&picture.bytes().await.unwrap());

    let id = record["id"].as_str().unwrap();
    let (status, one) = admin_get(format!("/admin/v1/media/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["sha256"], record["sha256"]);
    let (status, _) = admin_get("/admin/v1/media/nothing.png".into()).await;
    assert_eq!(status, 404);
    let (status, _) = admin_get("/admin/v1/projects/nobody/media".into()).await;
    assert_eq!(status, 404);
}
