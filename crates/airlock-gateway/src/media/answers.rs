//! Answers with their media as URLs instead of inline bytes, in the shape
//! each SDK already reads: an OpenAI images answer's `b64_json` becomes
//! `url`; a Gemini answer's `inlineData` part becomes a `fileData` part
//! with a `fileUri`. Raw PCM from Gemini (`audio/L16`) is kept as WAV, so
//! the URL plays in a browser; the part says `audio/wav`.

use airlock_providers::audio::{pcm_format, wav};
use airlock_providers::media::sniff_image;
use airlock_store::MediaAnswers;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use super::{MadeBy, Media, MediaError, Stored};
use crate::clock::unix_secs;

/// The header a request asks for media as URLs (`url`) or inline
/// (`inline`) with, over the configured default.
pub const MEDIA_HEADER: &str = "x-airlock-media";

/// Whether a request's answer carries media as URLs: as its header says,
/// else as its project's setting says, else as configured.
pub fn wants_urls(media: &Media, headers: &HeaderMap, project: Option<MediaAnswers>) -> bool {
    match headers.get(MEDIA_HEADER).and_then(|v| v.to_str().ok()) {
        Some(value) if value.eq_ignore_ascii_case("url") => true,
        Some(value) if value.eq_ignore_ascii_case("inline") => false,
        _ => match project {
            Some(answers) => answers == MediaAnswers::Url,
            None => media.settings().urls_by_default,
        },
    }
}

/// This gateway's origin as the client reached it: the forwarded scheme
/// (else `http`) and the `Host`.
pub fn origin(headers: &HeaderMap) -> String {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|s| *s == "https" || *s == "http")
        .unwrap_or("http");
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// Who stores an answer's media, and where its URLs point.
pub struct Linker<'a> {
    pub media: &'a Media,
    /// This gateway's origin as the client reached it ([`origin`]).
    pub origin: &'a str,
    pub made_by: &'a MadeBy,
}

impl Linker<'_> {
    /// Stores `bytes` of `content_type`; what was stored, and its URL.
    async fn link(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(Stored, String), MediaError> {
        let kept = self
            .media
            .keep(Bytes::from(bytes), content_type, self.made_by)
            .await?;
        let url = self.media.url(&kept.id, self.origin, unix_secs()).await?;
        Ok((kept, url))
    }
}

/// An OpenAI images answer with each `b64_json` stored and given as `url`;
/// the media stored, in order.
pub async fn openai_images(
    linker: &Linker<'_>,
    answer: &mut Value,
) -> Result<Vec<Stored>, MediaError> {
    let mut stored = Vec::new();
    let Some(items) = answer.get_mut("data").and_then(Value::as_array_mut) else {
        return Ok(stored);
    };
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        let Some(bytes) = item
            .get("b64_json")
            .and_then(Value::as_str)
            .and_then(|b64| STANDARD.decode(b64).ok())
        else {
            continue;
        };
        let content_type = sniff_image(&bytes).unwrap_or("application/octet-stream");
        let (kept, url) = linker.link(bytes, content_type).await?;
        item.remove("b64_json");
        item.insert("url".into(), Value::String(url));
        stored.push(kept);
    }
    Ok(stored)
}

/// A Gemini answer with each candidate's `inlineData` (or `inline_data`)
/// part stored and given as a `fileData` part; the media stored, in order.
pub async fn gemini_parts(
    linker: &Linker<'_>,
    answer: &mut Value,
) -> Result<Vec<Stored>, MediaError> {
    let mut stored = Vec::new();
    for part in inline_parts(answer) {
        let Some((bytes, mime)) = inline_data(part) else {
            continue;
        };
        let (bytes, mime) = match pcm_format(&mime) {
            Some(format) => (wav(&bytes, format), "audio/wav".to_string()),
            None => (bytes, mime),
        };
        let (kept, uri) = linker.link(bytes, &mime).await?;
        part.remove("inlineData");
        part.remove("inline_data");
        part.insert(
            "fileData".into(),
            json!({"mimeType": kept.content_type, "fileUri": uri}),
        );
        stored.push(kept);
    }
    Ok(stored)
}

/// Every part of every candidate that holds inline data.
fn inline_parts(answer: &mut Value) -> Vec<&mut Map<String, Value>> {
    let Some(candidates) = answer.get_mut("candidates").and_then(Value::as_array_mut) else {
        return Vec::new();
    };
    candidates
        .iter_mut()
        .filter_map(|candidate| candidate.pointer_mut("/content/parts")?.as_array_mut())
        .flatten()
        .filter_map(Value::as_object_mut)
        .filter(|part| part.contains_key("inlineData") || part.contains_key("inline_data"))
        .collect()
}

/// A part's inline bytes and MIME type, in either casing.
fn inline_data(part: &Map<String, Value>) -> Option<(Vec<u8>, String)> {
    let inline = part.get("inlineData").or_else(|| part.get("inline_data"))?;
    let mime = inline
        .get("mimeType")
        .or_else(|| inline.get("mime_type"))?
        .as_str()?;
    let bytes = STANDARD.decode(inline.get("data")?.as_str()?).ok()?;
    Some((bytes, mime.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tests::media as local_media;

    async fn media(root: &std::path::Path) -> Media {
        local_media(root, Some("https://cdn.example")).await
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really";

    #[tokio::test]
    async fn openai_images_get_urls_in_place_of_base64() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path()).await;
        let mut answer = json!({"created": 1, "data": [{"b64_json": STANDARD.encode(PNG), "revised_prompt": "a cat"}]});
        let made_by = MadeBy::default();
        let linker = Linker {
            media: &media,
            origin: "http://ignored",
            made_by: &made_by,
        };
        let stored = openai_images(&linker, &mut answer).await.unwrap();
        assert_eq!(stored.len(), 1);
        let item = &answer["data"][0];
        assert!(item.get("b64_json").is_none());
        assert_eq!(item["revised_prompt"], "a cat");
        let url = item["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("https://cdn.example/media/{}?exp=", stored[0].id)),
            "{url}"
        );
        assert_eq!(stored[0].content_type, "image/png");
    }

    #[tokio::test]
    async fn gemini_inline_parts_become_file_data_and_pcm_becomes_wav() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path()).await;
        let pcm = vec![1u8, 0, 2, 0];
        let mut answer = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "here"},
            {"inlineData": {"mimeType": "image/png", "data": STANDARD.encode(PNG)}},
            {"inline_data": {"mime_type": "audio/L16;codec=pcm;rate=24000", "data": STANDARD.encode(&pcm)}}
        ]}}]});
        let made_by = MadeBy::default();
        let linker = Linker {
            media: &media,
            origin: "http://gw",
            made_by: &made_by,
        };
        let stored = gemini_parts(&linker, &mut answer).await.unwrap();
        assert_eq!(stored.len(), 2);
        let parts = &answer["candidates"][0]["content"]["parts"];
        assert_eq!(parts[0], json!({"text": "here"}));
        assert_eq!(parts[1]["fileData"]["mimeType"], "image/png");
        assert!(parts[1].get("inlineData").is_none());
        assert_eq!(parts[2]["fileData"]["mimeType"], "audio/wav");
        assert!(parts[2].get("inline_data").is_none());
        assert_eq!(stored[1].size, 44 + 4, "a WAV header and the samples");
    }

    #[tokio::test]
    async fn the_header_overrides_the_default_and_the_origin_follows_the_request() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path()).await;
        let mut headers = HeaderMap::new();
        assert!(!wants_urls(&media, &headers, None));
        assert!(wants_urls(&media, &headers, Some(MediaAnswers::Url)));
        headers.insert(MEDIA_HEADER, "URL".parse().unwrap());
        assert!(wants_urls(&media, &headers, None));
        assert!(wants_urls(&media, &headers, Some(MediaAnswers::Inline)));
        headers.insert(MEDIA_HEADER, "inline".parse().unwrap());
        assert!(!wants_urls(&media, &headers, Some(MediaAnswers::Url)));
        headers.insert(http::header::HOST, "gw.example:8080".parse().unwrap());
        assert_eq!(origin(&headers), "http://gw.example:8080");
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(origin(&headers), "https://gw.example:8080");
    }
}
