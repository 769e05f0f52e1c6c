//! OpenAI `/v1/images/generations` and `/v1/images/edits` ⇄ Gemini
//! `generateContent` with image output (the 2.5 and 3.x image models).
//!
//! Request: the prompt is the user's text, after the images to edit (as
//! `inlineData` parts); `generationConfig.responseModalities` is `["IMAGE"]`
//! (Google's image-only mode; only the retired 2.0 image-generation
//! previews needed `TEXT` beside it, and get it); `size` picks
//! `imageConfig.aspectRatio`. Parameters:
//!
//! | OpenAI | Gemini |
//! |--------|--------|
//! | `size` 1024x1024, 1536x1024, 1024x1536, 1792x1024, 1024x1792 | `aspectRatio` 1:1, 3:2, 2:3, 16:9, 9:16 |
//! | `size` auto or absent | no `imageConfig` (the model's default) |
//! | `n` | must be 1: Gemini image models refuse more than one candidate ("Multiple candidates is not enabled") |
//! | `response_format` b64_json, url | remembered: the gateway serves `url` from its media store |
//! | `output_format` png | Gemini answers PNG; jpeg, webp, gif and svg are refused (no re-encoding here) |
//! | `quality` auto, high | accepted (Gemini renders at its one, high, quality); low, medium, xhigh and max cannot be honoured and are refused |
//! | `background` auto, opaque | accepted (Gemini's images are opaque); transparent is refused |
//! | `moderation` auto, low | accepted, nothing sent: Gemini's adjustable filters are already off by default on current models, and its image filters cannot be changed |
//! | `user`, `safety_identifier`, `model` | read and not sent (the route picks the model) |
//! | `stream`, `partial_images` > 0 | refused: Gemini image models answer whole |
//! | `style`, `output_compression`, `complexity`, `frame_count`, `frame_duration_ms`, `svg`, `input_fidelity` | refused: no Gemini equivalent |
//! | `mask` (edits) | refused: Gemini edits by instruction, not by mask |
//!
//! Unknown fields are OpenAI's "Unrecognized request argument" 400.
//!
//! Answer: each image part of the first candidate is a `data[].b64_json`;
//! `size` is the first image's own dimensions and `output_format` its
//! type; `usage` from `usageMetadata` (thinking counts as output, as Google
//! bills it). An answer without an image is OpenAI's 400 (see
//! [`MediaAnswerError`]).

use std::io::Cursor;

use image::ImageReader;
use serde_json::{Value, json};

use super::form::{self, FormFile, Kind};
use super::media_answer::{self, MediaAnswerError, Medium};
use super::params::{Params, TranslateError};

/// A translated images request.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTranslation {
    /// The `generateContent` body.
    pub body: Value,
    /// How the client wants the images: [`gemini_images_to_openai`] always
    /// gives `b64_json`; for `Url` the gateway stores them and answers URLs.
    pub response_format: ImageResponseFormat,
    /// What the answer repeats of the request.
    echo: Echo,
}

/// OpenAI's `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageResponseFormat {
    B64Json,
    Url,
}

/// The `quality` and `background` an answer reports: what the client asked
/// for, when it named one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Echo {
    quality: Option<&'static str>,
    background: Option<&'static str>,
}

/// An image edit read from `multipart/form-data` by the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageEditForm {
    /// The text fields, name and value, in the order sent.
    pub fields: Vec<(String, String)>,
    /// The `image` (or `image[]`) files, in the order sent.
    pub images: Vec<FormFile>,
    pub mask: Option<FormFile>,
}

/// OpenAI's sizes and the aspect ratios Gemini draws them at.
const SIZES: [(&str, &str); 5] = [
    ("1024x1024", "1:1"),
    ("1536x1024", "3:2"),
    ("1024x1536", "2:3"),
    ("1792x1024", "16:9"),
    ("1024x1792", "9:16"),
];

/// Input image types Gemini reads (HEIC and HEIF too, which OpenAI does
/// not take).
const INPUT_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];

const COMMON_FIELDS: [(&str, Kind); 17] = [
    ("prompt", Kind::Text),
    ("model", Kind::Text),
    ("n", Kind::Integer),
    ("size", Kind::Text),
    ("response_format", Kind::Text),
    ("output_format", Kind::Text),
    ("output_compression", Kind::Integer),
    ("quality", Kind::Text),
    ("background", Kind::Text),
    ("user", Kind::Text),
    ("safety_identifier", Kind::Text),
    ("stream", Kind::Boolean),
    ("partial_images", Kind::Integer),
    ("complexity", Kind::Text),
    ("frame_count", Kind::Integer),
    ("frame_duration_ms", Kind::Integer),
    ("svg", Kind::Text),
];
const GENERATION_ONLY: [&str; 2] = ["style", "moderation"];
const EDIT_ONLY: [(&str, Kind); 1] = [("input_fidelity", Kind::Text)];

/// Fields with no Gemini equivalent.
const UNSUPPORTED: [&str; 7] = [
    "style",
    "output_compression",
    "complexity",
    "frame_count",
    "frame_duration_ms",
    "svg",
    "input_fidelity",
];

/// OpenAI images/generations request → Gemini `generateContent` body for
/// `upstream_model`.
pub fn openai_image_generation_to_gemini(
    request: &Value,
    upstream_model: &str,
) -> Result<ImageTranslation, TranslateError> {
    let params = match request {
        Value::Object(_) => Params::of(request, "")?,
        _ => {
            return Err(TranslateError::new(
                "The request body must be a JSON object.",
                None,
            ));
        }
    };
    if let Some(key) = params.keys().find(|key| {
        !COMMON_FIELDS.iter().any(|(k, _)| *k == key.as_str())
            && !GENERATION_ONLY.contains(&key.as_str())
    }) {
        return Err(TranslateError::unrecognized(key));
    }
    let options = options(&params)?;
    if let Some(moderation) = params.string("moderation")?
        && !matches!(moderation, "auto" | "low")
    {
        return Err(TranslateError::invalid_value(
            "moderation",
            moderation,
            &["low", "auto"],
        ));
    }
    let prompt = prompt(&params)?;
    Ok(translation(
        vec![json!({"text": prompt})],
        &options,
        upstream_model,
    ))
}

/// OpenAI images/edits form → Gemini `generateContent` body for
/// `upstream_model`: the images, then the prompt.
pub fn openai_image_edit_to_gemini(
    form: &ImageEditForm,
    upstream_model: &str,
) -> Result<ImageTranslation, TranslateError> {
    let known: Vec<(&str, Kind)> = COMMON_FIELDS.iter().chain(&EDIT_ONLY).copied().collect();
    let request = form::json_of(&form.fields, &known)?;
    let params = Params::of(&request, "")?;
    let options = options(&params)?;
    let prompt = prompt(&params)?;
    if form.mask.is_some() {
        return Err(TranslateError::new(
            "Gemini image models edit by instruction, not by mask: describe the area to change in the prompt and send no mask.",
            Some("mask"),
        ));
    }
    if form.images.is_empty() {
        return Err(TranslateError::missing("image"));
    }
    let mut parts = Vec::with_capacity(form.images.len() + 1);
    for image in &form.images {
        if !INPUT_TYPES.contains(&image.mime) {
            return Err(TranslateError::new(
                format!(
                    "Invalid image file type: '{}'. Supported types are PNG, JPEG and WebP.",
                    image.mime
                ),
                Some("image"),
            ));
        }
        parts.push(image.inline_part(image.mime));
    }
    parts.push(json!({"text": prompt}));
    Ok(translation(parts, &options, upstream_model))
}

/// What the request asks of the image and the answer.
struct Options {
    aspect_ratio: Option<&'static str>,
    response_format: ImageResponseFormat,
    echo: Echo,
}

/// The checks generations and edits share.
fn options(params: &Params<'_>) -> Result<Options, TranslateError> {
    if let Some(name) = UNSUPPORTED.iter().find(|name| params.get(name).is_some()) {
        return Err(TranslateError::unsupported(name));
    }
    params.string("model")?;
    params.string("user")?;
    params.string("safety_identifier")?;
    if let Some(n) = params.integer("n")?
        && n != 1
    {
        return Err(TranslateError::new(
            format!(
                "Invalid value for 'n': {n}. n must be 1 for Gemini image models: one Gemini call answers one image."
            ),
            Some("n"),
        ));
    }
    if params.boolean("stream")? == Some(true) {
        return Err(TranslateError::new(
            "Streaming is not available for Gemini image models: they answer with the whole image.",
            Some("stream"),
        ));
    }
    if params.integer("partial_images")?.is_some_and(|n| n != 0) {
        return Err(TranslateError::new(
            "Partial images are not available for Gemini image models: they answer with the whole image.",
            Some("partial_images"),
        ));
    }
    let aspect_ratio = match params.string("size")? {
        None | Some("auto") => None,
        Some(size) => Some(
            SIZES
                .iter()
                .find(|(name, _)| *name == size)
                .map(|(_, ratio)| *ratio)
                .ok_or_else(|| {
                    let mut accepted: Vec<&str> = SIZES.iter().map(|(name, _)| *name).collect();
                    accepted.push("auto");
                    TranslateError::invalid_value("size", size, &accepted)
                })?,
        ),
    };
    let response_format = match params.string("response_format")? {
        None | Some("b64_json") => ImageResponseFormat::B64Json,
        Some("url") => ImageResponseFormat::Url,
        Some(other) => {
            return Err(TranslateError::invalid_value(
                "response_format",
                other,
                &["url", "b64_json"],
            ));
        }
    };
    match params.string("output_format")? {
        None | Some("png") => {}
        Some(other) => {
            return Err(TranslateError::new(
                format!(
                    "Invalid value: '{other}'. Gemini image models answer PNG: the supported value is 'png'."
                ),
                Some("output_format"),
            ));
        }
    }
    let quality = match params.string("quality")? {
        None | Some("auto") => None,
        Some("high") => Some("high"),
        Some(other) => {
            return Err(TranslateError::new(
                format!(
                    "Invalid value: '{other}'. Gemini image models render at one quality: supported values are 'auto' and 'high'."
                ),
                Some("quality"),
            ));
        }
    };
    let background = match params.string("background")? {
        None | Some("auto") => None,
        Some("opaque") => Some("opaque"),
        Some(other) => {
            return Err(TranslateError::new(
                format!(
                    "Invalid value: '{other}'. Gemini image models draw opaque images: supported values are 'auto' and 'opaque'."
                ),
                Some("background"),
            ));
        }
    };
    Ok(Options {
        aspect_ratio,
        response_format,
        echo: Echo {
            quality,
            background,
        },
    })
}

fn prompt<'a>(params: &Params<'a>) -> Result<&'a str, TranslateError> {
    let prompt = params.required_string("prompt")?;
    if prompt.trim().is_empty() {
        return Err(TranslateError::new(
            "Invalid value for 'prompt': must not be empty.",
            Some("prompt"),
        ));
    }
    Ok(prompt)
}

fn translation(parts: Vec<Value>, options: &Options, upstream_model: &str) -> ImageTranslation {
    let mut config = json!({"responseModalities": modalities(upstream_model)});
    if let Some(ratio) = options.aspect_ratio {
        config["imageConfig"] = json!({"aspectRatio": ratio});
    }
    ImageTranslation {
        body: json!({
            "contents": [{"role": "user", "parts": parts}],
            "generationConfig": config,
        }),
        response_format: options.response_format,
        echo: options.echo,
    }
}

/// `["IMAGE"]`, or `["TEXT", "IMAGE"]` for the 2.0 image-generation
/// previews, which refused image-only output.
fn modalities(upstream_model: &str) -> Value {
    let model = upstream_model.rsplit('/').next().unwrap_or(upstream_model);
    if model.starts_with("gemini-2.0-") && model.contains("image-generation") {
        json!(["TEXT", "IMAGE"])
    } else {
        json!(["IMAGE"])
    }
}

/// Gemini `generateContent` answer → OpenAI ImagesResponse, `created` the
/// Unix time to report.
pub fn gemini_images_to_openai(
    answer: &Value,
    created: i64,
    translation: &ImageTranslation,
) -> Result<Value, MediaAnswerError> {
    let images: Vec<(&str, &str)> = media_answer::first_candidate(answer)
        .map(|candidate| media_answer::inline_media(candidate, "image/").collect())
        .unwrap_or_default();
    let Some(&(first_mime, first_data)) = images.first() else {
        return Err(media_answer::refusal(answer, Medium::Image));
    };
    let first = media_answer::decode_base64(first_data)?;
    for (_, data) in &images[1..] {
        media_answer::decode_base64(data)?;
    }
    let mut response = json!({
        "created": created,
        "data": images.iter().map(|(_, data)| json!({"b64_json": data})).collect::<Vec<_>>(),
    });
    if let Some(background) = translation.echo.background {
        response["background"] = json!(background);
    }
    if let Some(format) = output_format(first_mime) {
        response["output_format"] = json!(format);
    }
    if let Some(quality) = translation.echo.quality {
        response["quality"] = json!(quality);
    }
    if let Some((width, height)) = dimensions(&first) {
        response["size"] = json!(format!("{width}x{height}"));
    }
    if let Some(metadata) = answer.get("usageMetadata").filter(|m| m.is_object()) {
        response["usage"] = usage(metadata);
    }
    Ok(response)
}

/// OpenAI's `output_format` for an image MIME type.
fn output_format(mime: &str) -> Option<&'static str> {
    match mime.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" => Some("jpeg"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

/// Width and height from the image's header.
fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// `usageMetadata` → OpenAI's images usage. Input and output are split by
/// modality where Gemini reports it; what Gemini leaves unassigned (and
/// thinking) is text.
fn usage(metadata: &Value) -> Value {
    let (input, output, total) = media_answer::token_counts(metadata);
    let input_images =
        media_answer::modality_tokens(&metadata["promptTokensDetails"], "IMAGE").unwrap_or(0);
    let output_images =
        media_answer::modality_tokens(&metadata["candidatesTokensDetails"], "IMAGE").unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {
            "text_tokens": input.saturating_sub(input_images),
            "image_tokens": input_images,
        },
        "output_tokens": output,
        "output_tokens_details": {
            "text_tokens": output.saturating_sub(output_images),
            "image_tokens": output_images,
        },
        "total_tokens": total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;
    use image::ImageFormat;

    /// A valid 3×2 PNG.
    fn png() -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(3, 2)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn generate(request: Value) -> Result<ImageTranslation, TranslateError> {
        openai_image_generation_to_gemini(&request, "gemini-2.5-flash-image")
    }

    fn error(request: Value) -> (String, Option<String>) {
        let err = generate(request).unwrap_err();
        (err.message, err.param)
    }

    fn form(fields: &[(&str, &str)], images: Vec<FormFile>) -> ImageEditForm {
        ImageEditForm {
            fields: fields
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            images,
            mask: None,
        }
    }

    fn file(bytes: &[u8], mime: &'static str) -> FormFile {
        FormFile {
            bytes: Bytes::copy_from_slice(bytes),
            mime,
        }
    }

    #[test]
    fn a_prompt_becomes_an_image_only_request() {
        let translation = generate(json!({
            "model": "gpt-image-1", "prompt": "a lighthouse at dawn", "n": 1, "user": "u1",
            "safety_identifier": "h", "moderation": "low", "stream": false, "partial_images": 0
        }))
        .unwrap();
        assert_eq!(
            translation.body,
            json!({
                "contents": [{"role": "user", "parts": [{"text": "a lighthouse at dawn"}]}],
                "generationConfig": {"responseModalities": ["IMAGE"]}
            })
        );
        assert_eq!(translation.response_format, ImageResponseFormat::B64Json);
    }

    #[test]
    fn each_size_picks_its_aspect_ratio_and_auto_picks_none() {
        for (size, ratio) in SIZES {
            let translation = generate(json!({"prompt": "p", "size": size})).unwrap();
            assert_eq!(
                translation.body["generationConfig"]["imageConfig"],
                json!({"aspectRatio": ratio}),
                "{size}"
            );
        }
        let auto = generate(json!({"prompt": "p", "size": "auto"})).unwrap();
        assert!(auto.body["generationConfig"].get("imageConfig").is_none());
    }

    #[test]
    fn the_2_0_previews_also_ask_for_text() {
        let translation = openai_image_generation_to_gemini(
            &json!({"prompt": "p"}),
            "models/gemini-2.0-flash-preview-image-generation",
        )
        .unwrap();
        assert_eq!(
            translation.body["generationConfig"]["responseModalities"],
            json!(["TEXT", "IMAGE"])
        );
        let three = openai_image_generation_to_gemini(
            &json!({"prompt": "p"}),
            "gemini-3-pro-image-preview",
        )
        .unwrap();
        assert_eq!(
            three.body["generationConfig"]["responseModalities"],
            json!(["IMAGE"])
        );
    }

    #[test]
    fn accepted_values_that_send_nothing() {
        for extra in [
            json!({"response_format": "b64_json"}),
            json!({"output_format": "png"}),
            json!({"quality": "auto"}),
            json!({"quality": "high"}),
            json!({"background": "auto"}),
            json!({"background": "opaque"}),
            json!({"moderation": "auto"}),
            json!({"size": null, "n": null}),
        ] {
            let mut request = json!({"prompt": "p"});
            request
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let translation = generate(request).unwrap();
            assert_eq!(
                translation.body,
                generate(json!({"prompt": "p"})).unwrap().body,
                "{extra}"
            );
        }
        let url = generate(json!({"prompt": "p", "response_format": "url"})).unwrap();
        assert_eq!(url.response_format, ImageResponseFormat::Url);
    }

    #[test]
    fn refusals_name_the_parameter() {
        let cases = [
            (
                json!({"prompt": "p", "n": 2}),
                "n",
                "Invalid value for 'n': 2. n must be 1 for Gemini image models: one Gemini call answers one image.",
            ),
            (
                json!({"prompt": "p", "size": "512x512"}),
                "size",
                "Invalid value: '512x512'. Supported values are: '1024x1024', '1536x1024', '1024x1536', '1792x1024', '1024x1792', and 'auto'.",
            ),
            (
                json!({"prompt": "p", "output_format": "jpeg"}),
                "output_format",
                "Invalid value: 'jpeg'. Gemini image models answer PNG: the supported value is 'png'.",
            ),
            (
                json!({"prompt": "p", "quality": "low"}),
                "quality",
                "Invalid value: 'low'. Gemini image models render at one quality: supported values are 'auto' and 'high'.",
            ),
            (
                json!({"prompt": "p", "background": "transparent"}),
                "background",
                "Invalid value: 'transparent'. Gemini image models draw opaque images: supported values are 'auto' and 'opaque'.",
            ),
            (
                json!({"prompt": "p", "response_format": "png"}),
                "response_format",
                "Invalid value: 'png'. Supported values are: 'url' and 'b64_json'.",
            ),
            (
                json!({"prompt": "p", "moderation": "none"}),
                "moderation",
                "Invalid value: 'none'. Supported values are: 'low' and 'auto'.",
            ),
            (
                json!({"prompt": "p", "stream": true}),
                "stream",
                "Streaming is not available for Gemini image models: they answer with the whole image.",
            ),
            (
                json!({"prompt": "p", "partial_images": 2}),
                "partial_images",
                "Partial images are not available for Gemini image models: they answer with the whole image.",
            ),
            (
                json!({"prompt": "p", "style": "vivid"}),
                "style",
                "Unsupported parameter: 'style' is not supported with this model.",
            ),
            (
                json!({"prompt": "p", "output_compression": 80}),
                "output_compression",
                "Unsupported parameter: 'output_compression' is not supported with this model.",
            ),
            (
                json!({"prompt": "p", "complexity": "low"}),
                "complexity",
                "Unsupported parameter: 'complexity' is not supported with this model.",
            ),
            (
                json!({"prompt": "p", "frame_count": 4}),
                "frame_count",
                "Unsupported parameter: 'frame_count' is not supported with this model.",
            ),
            (
                json!({"prompt": "p", "frame_duration_ms": 4}),
                "frame_duration_ms",
                "Unsupported parameter: 'frame_duration_ms' is not supported with this model.",
            ),
            (
                json!({"prompt": "p", "svg": {"model": "m"}}),
                "svg",
                "Unsupported parameter: 'svg' is not supported with this model.",
            ),
            (
                json!({"prompt": " "}),
                "prompt",
                "Invalid value for 'prompt': must not be empty.",
            ),
            (json!({}), "prompt", "Missing required parameter: 'prompt'."),
            (
                json!({"prompt": 3}),
                "prompt",
                "Invalid type for 'prompt': expected a string, but got an integer instead.",
            ),
        ];
        for (request, param, message) in cases {
            let (got, got_param) = error(request.clone());
            assert_eq!(got, message, "{request}");
            assert_eq!(got_param.as_deref(), Some(param), "{request}");
        }
    }

    #[test]
    fn unknown_fields_and_edit_only_fields_are_unrecognized_in_generations() {
        for field in ["colour", "input_fidelity", "image"] {
            let mut request = json!({"prompt": "p"});
            request[field] = json!("x");
            assert_eq!(
                error(request),
                (
                    format!("Unrecognized request argument supplied: {field}"),
                    None
                )
            );
        }
        assert_eq!(
            generate(json!(["p"])).unwrap_err().message,
            "The request body must be a JSON object."
        );
    }

    #[test]
    fn an_edit_puts_the_images_before_the_prompt() {
        let png = png();
        let translation = openai_image_edit_to_gemini(
            &form(
                &[
                    ("prompt", "add a hat"),
                    ("model", "gpt-image-1"),
                    ("n", "1"),
                    ("size", "1024x1536"),
                    ("response_format", "url"),
                    ("stream", "false"),
                ],
                vec![
                    file(&png, "image/png"),
                    file(b"\xff\xd8\xff\xe0", "image/jpeg"),
                ],
            ),
            "gemini-2.5-flash-image",
        )
        .unwrap();
        assert_eq!(
            translation.body,
            json!({
                "contents": [{"role": "user", "parts": [
                    {"inlineData": {"mimeType": "image/png", "data": STANDARD.encode(&png)}},
                    {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4A=="}},
                    {"text": "add a hat"}
                ]}],
                "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "2:3"}}
            })
        );
        assert_eq!(translation.response_format, ImageResponseFormat::Url);
    }

    #[test]
    fn edit_refusals() {
        let png = png();
        let mut masked = form(&[("prompt", "p")], vec![file(&png, "image/png")]);
        masked.mask = Some(file(&png, "image/png"));
        let cases = [
            (
                masked,
                Some("mask"),
                "Gemini image models edit by instruction, not by mask: describe the area to change in the prompt and send no mask.",
            ),
            (
                form(&[("prompt", "p")], vec![]),
                Some("image"),
                "Missing required parameter: 'image'.",
            ),
            (
                form(&[("prompt", "p")], vec![file(b"GIF89a", "image/gif")]),
                Some("image"),
                "Invalid image file type: 'image/gif'. Supported types are PNG, JPEG and WebP.",
            ),
            (
                form(&[], vec![file(&png, "image/png")]),
                Some("prompt"),
                "Missing required parameter: 'prompt'.",
            ),
            (
                form(
                    &[("prompt", "p"), ("n", "3")],
                    vec![file(&png, "image/png")],
                ),
                Some("n"),
                "Invalid value for 'n': 3. n must be 1 for Gemini image models: one Gemini call answers one image.",
            ),
            (
                form(
                    &[("prompt", "p"), ("input_fidelity", "high")],
                    vec![file(&png, "image/png")],
                ),
                Some("input_fidelity"),
                "Unsupported parameter: 'input_fidelity' is not supported with this model.",
            ),
            (
                form(
                    &[("prompt", "p"), ("svg[model]", "m")],
                    vec![file(&png, "image/png")],
                ),
                Some("svg"),
                "Unsupported parameter: 'svg' is not supported with this model.",
            ),
            (
                form(
                    &[("prompt", "p"), ("style", "vivid")],
                    vec![file(&png, "image/png")],
                ),
                None,
                "Unrecognized request argument supplied: style",
            ),
            (
                form(
                    &[("prompt", "p"), ("stream", "maybe")],
                    vec![file(&png, "image/png")],
                ),
                Some("stream"),
                "Invalid type for 'stream': expected a boolean, but got a string instead.",
            ),
        ];
        for (form, param, message) in cases {
            let err = openai_image_edit_to_gemini(&form, "gemini-2.5-flash-image").unwrap_err();
            assert_eq!(err.message, message);
            assert_eq!(err.param.as_deref(), param, "{message}");
        }
    }

    #[test]
    fn an_answer_becomes_an_images_response() {
        let png = png();
        let data = STANDARD.encode(&png);
        let answer = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"inlineData": {"mimeType": "image/png", "data": "ZHJhZnQ="}, "thought": true},
                {"text": "Here is your lighthouse."},
                {"inlineData": {"mimeType": "image/png", "data": data}}
            ]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": 261, "candidatesTokenCount": 1290, "thoughtsTokenCount": 10, "totalTokenCount": 1561,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}, {"modality": "IMAGE", "tokenCount": 258}],
                "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}]
            }
        });
        let translation =
            generate(json!({"prompt": "p", "quality": "high", "background": "opaque"})).unwrap();
        assert_eq!(
            gemini_images_to_openai(&answer, 1_700_000_000, &translation).unwrap(),
            json!({
                "created": 1_700_000_000,
                "data": [{"b64_json": data}],
                "background": "opaque",
                "output_format": "png",
                "quality": "high",
                "size": "3x2",
                "usage": {
                    "input_tokens": 261,
                    "input_tokens_details": {"text_tokens": 3, "image_tokens": 258},
                    "output_tokens": 1300,
                    "output_tokens_details": {"text_tokens": 10, "image_tokens": 1290},
                    "total_tokens": 1561
                }
            })
        );
    }

    #[test]
    fn an_answer_without_usage_or_a_known_type_says_less() {
        let answer = json!({"candidates": [{"content": {"parts": [
            {"inlineData": {"mimeType": "image/heic", "data": "AAAA"}}
        ]}}]});
        let translation = generate(json!({"prompt": "p"})).unwrap();
        assert_eq!(
            gemini_images_to_openai(&answer, 5, &translation).unwrap(),
            json!({"created": 5, "data": [{"b64_json": "AAAA"}]})
        );
    }

    #[test]
    fn every_image_part_is_an_image() {
        let answer = json!({"candidates": [{"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
            {"inlineData": {"mimeType": "image/png", "data": "AQID"}}
        ]}}]});
        let translation = generate(json!({"prompt": "p"})).unwrap();
        let response = gemini_images_to_openai(&answer, 5, &translation).unwrap();
        assert_eq!(
            response["data"],
            json!([{"b64_json": "AAAA"}, {"b64_json": "AQID"}])
        );
    }

    #[test]
    fn answers_without_an_image_are_refusals() {
        let translation = generate(json!({"prompt": "p"})).unwrap();
        let blocked = json!({"candidates": [{"finishReason": "IMAGE_SAFETY"}]});
        let Err(MediaAnswerError::Refused(body)) =
            gemini_images_to_openai(&blocked, 1, &translation)
        else {
            panic!("a refusal")
        };
        assert_eq!(body["error"]["code"], "moderation_blocked");
        let text_only = json!({"candidates": [{"finishReason": "STOP", "content": {"parts": [{"text": "No."}]}}]});
        let Err(MediaAnswerError::Refused(body)) =
            gemini_images_to_openai(&text_only, 1, &translation)
        else {
            panic!("a refusal")
        };
        assert_eq!(
            body["error"]["message"],
            "The model answered without an image (finish reason STOP). The model said: \"No.\""
        );
    }

    #[test]
    fn image_data_that_is_not_base64_is_unreadable() {
        let translation = generate(json!({"prompt": "p"})).unwrap();
        for parts in [
            json!([{"inlineData": {"mimeType": "image/png", "data": "%%%"}}]),
            json!([{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}, {"inlineData": {"mimeType": "image/png", "data": "%%%"}}]),
        ] {
            let answer = json!({"candidates": [{"content": {"parts": parts}}]});
            assert!(matches!(
                gemini_images_to_openai(&answer, 1, &translation),
                Err(MediaAnswerError::Unreadable(_))
            ));
        }
    }
}
