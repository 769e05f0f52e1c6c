//! What an image request answers, as the openai SDK's `ImagesResponse` and
//! image stream events read it.
//!
//! * Pictures: picture `i` is drawn from a digest of (seed, model, prompt,
//!   the input pictures' bytes) and `i` (module [`crate::picture`]), so the
//!   same request draws the same pictures, streamed or not.
//! * DALL·E: `{created, data: [{url | b64_json}]}`; dall-e-3 adds a
//!   `revised_prompt` (the prompt with a few words of detail drawn from the
//!   digest).
//! * GPT Image: `{created, background, data: [{b64_json}], output_format,
//!   quality, size, usage}`, with `safety_identifier` when one was given;
//!   `usage.input_tokens` is the prompt's text tokens plus 258 per input
//!   picture, `output_tokens` OpenAI's per-picture table.
//! * Streams (GPT Image): per picture, `partial_images` partial pictures
//!   (`image_generation.partial_image`, or `image_edit.partial_image` for
//!   edits, with `partial_image_index`), then `….completed` with `usage`;
//!   each event `event: {type}\ndata: {json}\n\n`, one delivery chunk.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};

use super::super::catalog::ImageFamily;
use super::rules::{Delivery, Endpoint, Job};
use crate::picture::{self, ImageFormat};
use crate::prng::Digest;
use crate::{textgen, tokens};

/// One drawn picture and, when answered as a URL, its URL.
#[derive(Debug)]
pub struct Drawn {
    pub bytes: Vec<u8>,
    pub url: Option<String>,
}

/// The pictures of a job: `n` of them, drawn from `digest`.
pub fn draw(job: &Job, digest: Digest) -> Vec<Vec<u8>> {
    (0..job.n)
        .map(|i| {
            picture::render(
                digest.number(u64::from(i)),
                job.width,
                job.height,
                job.format,
            )
        })
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn usage(job: &Job, input_pictures: usize) -> Value {
    let text = tokens::text_tokens(&job.prompt);
    let image = tokens::MEDIA_PART_TOKENS * input_pictures as u64;
    let output = job.output_tokens();
    json!({
        "input_tokens": text + image,
        "input_tokens_details": { "image_tokens": image, "text_tokens": text },
        "output_tokens": output,
        "output_tokens_details": { "image_tokens": output, "text_tokens": 0 },
        "total_tokens": text + image + output,
    })
}

/// The revised prompt dall-e-3 answers for picture `i`.
fn revised_prompt(job: &Job, digest: Digest, i: usize) -> String {
    let mut rng = digest.part("revised prompt").number(i as u64).rng();
    format!(
        "{}, shown in {} detail.",
        job.prompt.trim_end_matches('.'),
        textgen::phrase(&mut rng, 3)
    )
}

/// The whole answer.
pub fn whole(job: &Job, digest: Digest, drawn: &[Drawn], input_pictures: usize) -> Value {
    let data: Vec<Value> = drawn
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut item = match (&d.url, job.delivery) {
                (Some(url), Delivery::Url) => json!({ "url": url }),
                _ => json!({ "b64_json": STANDARD.encode(&d.bytes) }),
            };
            if job.family == ImageFamily::DallE3 {
                item["revised_prompt"] = Value::String(revised_prompt(job, digest, i));
            }
            item
        })
        .collect();
    let mut answer = json!({ "created": now(), "data": data });
    if job.gpt_image() {
        answer["background"] = json!(job.background);
        answer["output_format"] = json!(job.format.extension());
        answer["quality"] = json!(job.quality);
        answer["size"] = json!(job.size());
        answer["usage"] = usage(job, input_pictures);
        if let Some(id) = &job.safety_identifier {
            answer["safety_identifier"] = json!(id);
        }
    }
    answer
}

fn event(kind: &str, mut body: Value) -> Bytes {
    body["type"] = json!(kind);
    Bytes::from(format!("event: {kind}\ndata: {body}\n\n"))
}

/// The stream events: per picture, its partial pictures, then its
/// completion.
pub fn events(job: &Job, digest: Digest, endpoint: Endpoint, input_pictures: usize) -> Vec<Bytes> {
    let prefix = match endpoint {
        Endpoint::Generations => "image_generation",
        Endpoint::Edits => "image_edit",
    };
    let settings = |b64: String| {
        json!({
            "b64_json": b64,
            "background": job.asked_background,
            "created_at": now(),
            "output_format": job.format.extension(),
            "quality": job.asked_quality,
            "size": job.asked_size,
        })
    };
    let mut events = Vec::new();
    for i in 0..job.n {
        let picture = digest.number(u64::from(i));
        for p in 0..job.partial_images {
            let partial = picture::render(
                picture.part("partial").number(u64::from(p)),
                job.width,
                job.height,
                job.format,
            );
            let mut body = settings(STANDARD.encode(partial));
            body["partial_image_index"] = json!(p);
            events.push(event(&format!("{prefix}.partial_image"), body));
        }
        let bytes = picture::render(picture, job.width, job.height, job.format);
        let mut body = settings(STANDARD.encode(bytes));
        let mut one = job.clone();
        one.n = 1;
        body["usage"] = usage(&one, input_pictures);
        if let Some(id) = &job.safety_identifier {
            body["safety_identifier"] = json!(id);
        }
        events.push(event(&format!("{prefix}.completed"), body));
    }
    events
}

/// A picture's name in the URL store.
pub fn blob_name(digest: Digest, format: ImageFormat) -> String {
    format!("img-{:016x}.{}", digest.value(), format.extension())
}
