//! Each image model's rules, as OpenAI documents them, checked against a
//! well-formed request and resolved into the [`Job`] to draw.
//!
//! | | dall-e-2 | dall-e-3 | gpt-image-1, -1-mini, -1.5 |
//! | --- | --- | --- | --- |
//! | prompt | 1,000 characters | 4,000 | 32,000 |
//! | `n` | 1 to 10 | 1 | 1 to 10 |
//! | `size` | 256x256, 512x512, 1024x1024 | 1024x1024, 1792x1024, 1024x1792 | 1024x1024, 1536x1024, 1024x1536, auto |
//! | `quality` | standard, auto | standard, hd, auto | low, medium, high, auto |
//! | answer | `url` (default) or `b64_json` PNG | as dall-e-2, with `revised_prompt` | `b64_json` in `output_format`, with `usage` |
//! | edits | one square PNG under 4 MB | no | up to 16 PNG, JPEG or WebP |
//!
//! Parameters a model does not take are refused as OpenAI refuses
//! `response_format` on GPT Image models: `Unknown parameter: 'style'.`
//! (DALL·E: `style` on dall-e-2, and `background`, `moderation`,
//! `output_format`, `output_compression`, `partial_images`, `input_fidelity`
//! and `stream: true`; GPT Image: `response_format` and `style`; all:
//! `complexity`, `frame_count`, `frame_duration_ms`, `svg` and `markup`,
//! which only later GPT Image models take). Without `model`, a request is
//! dall-e-2's, unless it uses a parameter only GPT Image models take
//! (then gpt-image-1's).

use serde_json::Value;

use super::super::catalog::{self, ImageFamily, Kind, OpenAiModel};
use super::super::errors::ApiError;
use super::super::validate::invalid_value;
use crate::picture::ImageFormat;

/// How the pictures are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A short-lived URL on the simulator's origin.
    Url,
    /// Base64 in the answer.
    Base64,
}

/// What to draw, resolved from a valid request.
#[derive(Debug, Clone)]
pub struct Job {
    pub model: &'static OpenAiModel,
    pub family: ImageFamily,
    pub prompt: String,
    pub n: u32,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    pub delivery: Delivery,
    /// As asked (`auto` included), for stream events.
    pub asked_quality: String,
    pub asked_size: String,
    pub asked_background: String,
    /// GPT Image: the quality drawn (`auto` is `high`).
    pub quality: &'static str,
    /// GPT Image: the background drawn (`auto` is `opaque`).
    pub background: &'static str,
    pub stream: bool,
    pub partial_images: u32,
    /// `safety_identifier`, else `user`, when not empty.
    pub safety_identifier: Option<String>,
}

impl Job {
    /// The size as answers name it.
    pub fn size(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }

    pub fn gpt_image(&self) -> bool {
        matches!(self.family, ImageFamily::GptImage { .. })
    }
}

/// Which endpoint the request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Generations,
    Edits,
}

/// Parameters only GPT Image models take.
const GPT_IMAGE_ONLY: [&str; 7] = [
    "background",
    "moderation",
    "output_format",
    "output_compression",
    "partial_images",
    "input_fidelity",
    "stream",
];

/// Parameters of later GPT Image models than the simulator's.
const LATER_MODELS_ONLY: [&str; 5] = [
    "complexity",
    "frame_count",
    "frame_duration_ms",
    "svg",
    "markup",
];

const GPT_IMAGE_SIZES: [&str; 4] = ["1024x1024", "1024x1536", "1536x1024", "auto"];

/// Output tokens of one GPT Image picture, by quality and size (OpenAI's
/// table for gpt-image-1): 1024x1024, 1024x1536, 1536x1024.
fn gpt_image_output_tokens(quality: &str, width: u32, height: u32) -> u64 {
    let by_size = match quality {
        "low" => [272, 408, 400],
        "medium" => [1056, 1584, 1568],
        _ => [4160, 6240, 6208],
    };
    match width.cmp(&height) {
        std::cmp::Ordering::Equal => by_size[0],
        std::cmp::Ordering::Less => by_size[1],
        std::cmp::Ordering::Greater => by_size[2],
    }
}

impl Job {
    /// GPT Image: the output tokens of all the pictures.
    pub fn output_tokens(&self) -> u64 {
        gpt_image_output_tokens(self.quality, self.width, self.height) * u64::from(self.n)
    }
}

fn given<'b>(body: &'b Value, param: &str) -> Option<&'b Value> {
    body.get(param).filter(|v| !v.is_null())
}

fn text<'b>(body: &'b Value, param: &str) -> Option<&'b str> {
    given(body, param).and_then(Value::as_str)
}

/// Whether a parameter asks for something (`stream: false` does not).
fn is_set(body: &Value, param: &str) -> bool {
    given(body, param).is_some_and(|v| param != "stream" || *v == Value::Bool(true))
}

/// The model a request names, or its default.
fn model_of(
    body: &Value,
    endpoint: Endpoint,
) -> Result<(&'static OpenAiModel, ImageFamily), ApiError> {
    let name = match text(body, "model") {
        Some(name) => name,
        None if GPT_IMAGE_ONLY.iter().any(|p| is_set(body, p)) => "gpt-image-1",
        None => "dall-e-2",
    };
    // dall-e-3 does not edit.
    let family = |kind: Kind| match kind {
        Kind::Image(ImageFamily::DallE3) if endpoint == Endpoint::Edits => None,
        Kind::Image(family) => Some(family),
        _ => None,
    };
    let model = catalog::find(name).ok_or_else(|| ApiError::model_not_found(name))?;
    match family(model.kind) {
        Some(f) => Ok((model, f)),
        None => {
            let takes = catalog::ids_where(|k| family(k).is_some());
            Err(invalid_value("model", name, &takes))
        }
    }
}

/// Checks a valid body against its model's rules and resolves it.
pub fn resolve(body: &Value, endpoint: Endpoint) -> Result<Job, ApiError> {
    let (model, family) = model_of(body, endpoint)?;
    let gpt_image = matches!(family, ImageFamily::GptImage { .. });
    let refused: &[&[&str]] = match family {
        ImageFamily::GptImage { .. } => &[&["response_format", "style"], &LATER_MODELS_ONLY],
        ImageFamily::DallE3 => &[&GPT_IMAGE_ONLY, &LATER_MODELS_ONLY],
        ImageFamily::DallE2 => &[&GPT_IMAGE_ONLY, &["style"], &LATER_MODELS_ONLY],
    };
    if let Some(param) = refused
        .iter()
        .flat_map(|r| r.iter())
        .find(|p| is_set(body, p))
    {
        return Err(ApiError::unknown_parameter(param));
    }
    let prompt = text(body, "prompt").unwrap_or_default();
    let max_prompt = match family {
        ImageFamily::DallE2 => 1000,
        ImageFamily::DallE3 => 4000,
        ImageFamily::GptImage { .. } => 32000,
    };
    let prompt_chars = prompt.chars().count();
    if prompt_chars > max_prompt {
        return Err(ApiError::too_long("prompt", max_prompt, prompt_chars));
    }
    if prompt.trim().is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
            Some("prompt"),
            Some("empty_string"),
        ));
    }
    let n = given(body, "n").and_then(Value::as_u64).unwrap_or(1);
    if family == ImageFamily::DallE3 && n > 1 {
        return Err(ApiError::invalid(
            format!(
                "Invalid 'n': integer above maximum value. Expected a value <= 1, but got {n} instead."
            ),
            Some("n"),
            Some("integer_above_max_value"),
        ));
    }
    let asked_size = text(body, "size").unwrap_or("auto").to_owned();
    let (width, height) = size_of(family, &asked_size)?;
    let asked_quality = text(body, "quality").unwrap_or("auto").to_owned();
    let qualities: &[&str] = match family {
        ImageFamily::DallE2 => &["standard", "auto"],
        ImageFamily::DallE3 => &["standard", "hd", "auto"],
        ImageFamily::GptImage { .. } => &["low", "medium", "high", "auto"],
    };
    if !qualities.contains(&asked_quality.as_str()) {
        return Err(invalid_value("quality", &asked_quality, qualities));
    }
    let quality = match asked_quality.as_str() {
        "low" => "low",
        "medium" => "medium",
        _ => "high",
    };
    let format = match text(body, "output_format").unwrap_or("png") {
        "png" => ImageFormat::Png,
        "jpeg" => ImageFormat::Jpeg,
        "webp" => ImageFormat::Webp,
        other => {
            return Err(invalid_value(
                "output_format",
                other,
                &["png", "jpeg", "webp"],
            ));
        }
    };
    if format == ImageFormat::Png
        && given(body, "output_compression")
            .and_then(Value::as_u64)
            .is_some_and(|c| c < 100)
    {
        return Err(ApiError::invalid(
            "Compression less than 100 is not supported for PNG output format.",
            Some("output_compression"),
            None,
        ));
    }
    let asked_background = text(body, "background").unwrap_or("auto").to_owned();
    if asked_background == "transparent" && format == ImageFormat::Jpeg {
        return Err(ApiError::invalid(
            "Transparent background is not supported for jpeg output format. Use 'png' or 'webp'.",
            Some("background"),
            None,
        ));
    }
    if let ImageFamily::GptImage { fidelity: false } = family
        && let Some(asked) = text(body, "input_fidelity").filter(|f| *f != "low")
    {
        return Err(invalid_value("input_fidelity", asked, &["low"]));
    }
    let delivery = match (gpt_image, text(body, "response_format")) {
        (false, Some("b64_json")) | (true, _) => Delivery::Base64,
        (false, _) => Delivery::Url,
    };
    let safety_identifier = [text(body, "safety_identifier"), text(body, "user")]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .map(str::to_owned);
    Ok(Job {
        model,
        family,
        prompt: prompt.to_owned(),
        n: u32::try_from(n).unwrap_or(1),
        width,
        height,
        format,
        delivery,
        asked_quality,
        asked_size,
        asked_background: asked_background.clone(),
        quality,
        background: if asked_background == "transparent" {
            "transparent"
        } else {
            "opaque"
        },
        stream: given(body, "stream") == Some(&Value::Bool(true)),
        partial_images: given(body, "partial_images")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0),
        safety_identifier,
    })
}

/// The pixel size of a size name for a model (`auto` is 1024x1024 until
/// an edit's input decides it).
fn size_of(family: ImageFamily, size: &str) -> Result<(u32, u32), ApiError> {
    let sizes: &[&str] = match family {
        ImageFamily::DallE2 => &["256x256", "512x512", "1024x1024"],
        ImageFamily::DallE3 => &["1024x1024", "1792x1024", "1024x1792"],
        ImageFamily::GptImage { .. } => &GPT_IMAGE_SIZES,
    };
    if !sizes.contains(&size) && size != "auto" {
        return Err(match family {
            ImageFamily::GptImage { .. } => invalid_value("size", size, sizes),
            _ => ApiError::invalid(
                "The size is not supported by this model.",
                None,
                Some("invalid_size"),
            ),
        });
    }
    // `auto`: DALL·E's default, and GPT Image's until an edit's input decides.
    let pixels = |side: &str| side.parse().unwrap_or(1024);
    Ok(size
        .split_once('x')
        .map_or((1024, 1024), |(w, h)| (pixels(w), pixels(h))))
}

/// The GPT Image size nearest an input picture's shape (what `size: auto`
/// draws for an edit).
pub fn auto_size_for(width: u32, height: u32) -> (u32, u32) {
    let (w, h) = (u64::from(width), u64::from(height));
    // Landscape or portrait when one side is at least 5/4 of the other.
    if w * 4 >= h * 5 {
        (1536, 1024)
    } else if h * 4 >= w * 5 {
        (1024, 1536)
    } else {
        (1024, 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolved(body: Value) -> Job {
        resolve(&body, Endpoint::Generations).unwrap()
    }

    fn refused(body: Value, endpoint: Endpoint) -> ApiError {
        resolve(&body, endpoint).unwrap_err()
    }

    #[test]
    fn defaults_per_model() {
        let d2 = resolved(json!({"prompt": "a cat"}));
        assert_eq!(d2.model.id, "dall-e-2");
        assert_eq!(
            (d2.width, d2.height, d2.delivery),
            (1024, 1024, Delivery::Url)
        );
        let gpt = resolved(json!({"prompt": "a cat", "output_format": "webp"}));
        assert_eq!(gpt.model.id, "gpt-image-1");
        assert_eq!(
            (gpt.format, gpt.delivery, gpt.quality, gpt.background),
            (ImageFormat::Webp, Delivery::Base64, "high", "opaque")
        );
        let d3 = resolved(
            json!({"prompt": "a cat", "model": "dall-e-3", "size": "1792x1024", "response_format": "b64_json"}),
        );
        assert_eq!(
            (d3.size(), d3.delivery),
            ("1792x1024".to_owned(), Delivery::Base64)
        );
    }

    #[test]
    fn model_rules_are_openais() {
        let e = refused(
            json!({"prompt": "x", "model": "gpt-image-1", "response_format": "url"}),
            Endpoint::Generations,
        );
        assert_eq!(
            (e.message.as_str(), e.param.as_deref(), e.code),
            (
                "Unknown parameter: 'response_format'.",
                Some("response_format"),
                Some("unknown_parameter")
            )
        );
        let e = refused(
            json!({"prompt": "x", "model": "dall-e-3", "n": 2}),
            Endpoint::Generations,
        );
        assert_eq!(e.code, Some("integer_above_max_value"));
        let e = refused(
            json!({"prompt": "x", "model": "dall-e-2", "size": "1792x1024"}),
            Endpoint::Generations,
        );
        assert_eq!(
            (e.message.as_str(), e.code),
            (
                "The size is not supported by this model.",
                Some("invalid_size")
            )
        );
        let e = refused(
            json!({"prompt": "x", "model": "gpt-image-1.5", "size": "256x256"}),
            Endpoint::Generations,
        );
        assert_eq!(
            e.message,
            "Invalid value: '256x256'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'."
        );
        let e = refused(json!({"prompt": "x".repeat(1001)}), Endpoint::Generations);
        assert_eq!(e.code, Some("string_above_max_length"));
        let e = refused(json!({"prompt": "x", "model": "dall-e-3"}), Endpoint::Edits);
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = refused(
            json!({"prompt": "x", "model": "gpt-4o"}),
            Endpoint::Generations,
        );
        assert_eq!(e.code, Some("invalid_value"));
        assert_eq!(
            refused(
                json!({"prompt": "x", "model": "nope"}),
                Endpoint::Generations
            )
            .status,
            404
        );
        let e = refused(
            json!({"prompt": "x", "model": "dall-e-2", "output_format": "png"}),
            Endpoint::Generations,
        );
        assert_eq!(e.message, "Unknown parameter: 'output_format'.");
        let e = refused(
            json!({"prompt": "x", "model": "gpt-image-1", "output_compression": 50}),
            Endpoint::Generations,
        );
        assert_eq!(e.param.as_deref(), Some("output_compression"));
        let e = refused(
            json!({"prompt": "x", "model": "gpt-image-1-mini", "input_fidelity": "high"}),
            Endpoint::Edits,
        );
        assert_eq!(e.param.as_deref(), Some("input_fidelity"));
        let e = refused(
            json!({"prompt": "x", "model": "gpt-image-1", "svg": {}}),
            Endpoint::Generations,
        );
        assert_eq!(e.message, "Unknown parameter: 'svg'.");
        assert!(
            resolve(
                &json!({"prompt": "x", "model": "dall-e-2", "stream": false}),
                Endpoint::Generations
            )
            .is_ok()
        );
    }

    #[test]
    fn gpt_image_tokens_follow_openais_table() {
        let job = resolved(
            json!({"prompt": "x", "model": "gpt-image-1", "quality": "low", "size": "1536x1024", "n": 2}),
        );
        assert_eq!(job.output_tokens(), 800);
        assert_eq!(auto_size_for(300, 200), (1536, 1024));
        assert_eq!(auto_size_for(200, 300), (1024, 1536));
        assert_eq!(auto_size_for(210, 200), (1024, 1024));
    }
}
