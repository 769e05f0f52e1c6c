//! What an image model draws: `generationConfig.imageConfig` checked per
//! model as Google checks it, and the picture's pixel size and output tokens.
//!
//! Aspect ratios and their 1K pixel sizes are Google's table
//! (ai.google.dev/gemini-api/docs/image-generation): 1:1 1024×1024, 2:3
//! 832×1248, 3:2 1248×832, 3:4 864×1184, 4:3 1184×864, 4:5 896×1152, 5:4
//! 1152×896, 9:16 768×1344, 16:9 1344×768, 21:9 1536×672; Gemini 3.1 Flash
//! Image and Flash-Lite Image also draw 1:4 512×2048, 4:1 2048×512, 1:8
//! 384×3072 and 8:1 3072×384. `imageSize` scales them: `512` halves, `2K`
//! doubles, `4K` quadruples. Without `aspectRatio` the picture takes the
//! ratio nearest the first input image of the last user turn (an edit keeps
//! its shape), else 1:1.
//!
//! Sizes and output tokens per image, as Google documents them: Gemini 2.5
//! Flash Image draws 1K only and refuses `imageSize` (1290 tokens); Gemini
//! 3 Pro Image takes `1K`, `2K`, `4K` (1120, 1120, 2000 tokens); Gemini 3.1
//! Flash Image `512`, `1K`, `2K`, `4K` (747, 1120, 1680, 2520); Gemini 3.1
//! Flash-Lite Image `1K` only (1120, as its Flash sibling). Values are
//! case-sensitive (`1k` is refused), and an empty string is unset.
//!
//! Refusals are Google's `* field: reason` 400s, e.g. `*
//! GenerateContentRequest.generation_config.image_config.aspect_ratio:
//! aspect_ratio must be one of '1:1', '2:3', …, or '21:9'.`

use serde_json::Value;

use super::request;
use super::validate::decode_bytes;
use crate::picture;

/// What an image model can draw.
#[derive(Debug, PartialEq, Eq)]
pub struct Canvas {
    /// Whether it draws the extreme ratios 1:4, 4:1, 1:8 and 8:1.
    extreme_ratios: bool,
    /// The `imageSize` values it takes, each with its output tokens.
    sizes: &'static [(&'static str, u64)],
    /// Whether `imageSize` may be set at all.
    takes_size: bool,
}

pub static FLASH_25: Canvas = Canvas {
    extreme_ratios: false,
    sizes: &[("1K", 1290)],
    takes_size: false,
};
pub static PRO_3: Canvas = Canvas {
    extreme_ratios: false,
    sizes: &[("1K", 1120), ("2K", 1120), ("4K", 2000)],
    takes_size: true,
};
pub static FLASH_31: Canvas = Canvas {
    extreme_ratios: true,
    sizes: &[("512", 747), ("1K", 1120), ("2K", 1680), ("4K", 2520)],
    takes_size: true,
};
pub static FLASH_LITE_31: Canvas = Canvas {
    extreme_ratios: true,
    sizes: &[("1K", 1120)],
    takes_size: true,
};

/// A ratio, its 1K pixel size, and whether it is an extreme one; in the
/// order Google lists them.
const RATIOS: [(&str, u32, u32, bool); 14] = [
    ("1:1", 1024, 1024, false),
    ("1:4", 512, 2048, true),
    ("1:8", 384, 3072, true),
    ("2:3", 832, 1248, false),
    ("3:2", 1248, 832, false),
    ("3:4", 864, 1184, false),
    ("4:1", 2048, 512, true),
    ("4:3", 1184, 864, false),
    ("4:5", 896, 1152, false),
    ("5:4", 1152, 896, false),
    ("8:1", 3072, 384, true),
    ("9:16", 768, 1344, false),
    ("16:9", 1344, 768, false),
    ("21:9", 1536, 672, false),
];

const FIELD: &str = "GenerateContentRequest.generation_config.image_config";

/// The picture a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    /// Output tokens of the image.
    pub tokens: u64,
}

/// `'a', 'b', or 'c'`, as Google lists allowed values.
fn one_of(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The pixel size of the first picture in the last user turn: the one an
/// edit starts from.
fn input_size(req: &Value) -> Option<(u32, u32)> {
    request::last_user_parts(req).iter().find_map(|part| {
        let bytes = decode_bytes(part["inlineData"]["data"].as_str()?)?;
        let upload = picture::inspect(&bytes)?;
        Some((upload.width, upload.height))
    })
}

impl Canvas {
    fn ratios(&self) -> impl Iterator<Item = &(&'static str, u32, u32, bool)> {
        RATIOS
            .iter()
            .filter(|(_, _, _, extreme)| self.extreme_ratios || !extreme)
    }

    /// The picture `req` asks for, or Google's `* field: reason` refusal.
    pub fn picture(&self, req: &Value) -> Result<Picture, String> {
        let config = &req["generationConfig"]["imageConfig"];
        let set = |field: &str| config[field].as_str().filter(|v| !v.is_empty());
        let (width, height) = match set("aspectRatio") {
            Some(asked) => self
                .ratios()
                .find(|(name, ..)| *name == asked)
                .map(|(_, w, h, _)| (*w, *h))
                .ok_or_else(|| {
                    let names: Vec<&str> = self.ratios().map(|(name, ..)| *name).collect();
                    format!(
                        "{FIELD}.aspect_ratio: aspect_ratio must be one of {}.",
                        one_of(&names)
                    )
                })?,
            None => self.nearest(input_size(req)),
        };
        let (size, tokens) = match set("imageSize") {
            None => ("1K", self.tokens_at("1K")),
            Some(_) if !self.takes_size => {
                return Err(format!(
                    "{FIELD}.image_size: image_size is not supported by this model."
                ));
            }
            Some(asked) => self
                .sizes
                .iter()
                .find(|(name, _)| *name == asked)
                .copied()
                .ok_or_else(|| {
                    let names: Vec<&str> = self.sizes.iter().map(|(name, _)| *name).collect();
                    format!(
                        "{FIELD}.image_size: image_size must be one of {}.",
                        one_of(&names)
                    )
                })?,
        };
        let scale = |side: u32| match size {
            "512" => side / 2,
            "2K" => side * 2,
            "4K" => side * 4,
            _ => side,
        };
        Ok(Picture {
            width: scale(width),
            height: scale(height),
            tokens,
        })
    }

    fn tokens_at(&self, size: &str) -> u64 {
        self.sizes
            .iter()
            .find(|(name, _)| *name == size)
            .map_or(0, |(_, tokens)| *tokens)
    }

    /// The 1K size of the ratio nearest the input image's, else 1:1.
    fn nearest(&self, input: Option<(u32, u32)>) -> (u32, u32) {
        let Some((w, h)) = input.filter(|(w, h)| *w > 0 && *h > 0) else {
            return (1024, 1024);
        };
        let shape = (f64::from(w) / f64::from(h)).ln();
        self.ratios()
            .map(|(_, rw, rh, _)| (*rw, *rh))
            .min_by(|a, b| {
                let off =
                    |(rw, rh): (u32, u32)| ((f64::from(rw) / f64::from(rh)).ln() - shape).abs();
                off(*a).total_cmp(&off(*b))
            })
            .unwrap_or((1024, 1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::ImageFormat;
    use crate::prng::Digest;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    fn ask(config: Value) -> Value {
        json!({"contents": [], "generationConfig": {"imageConfig": config}})
    }

    fn size(canvas: &Canvas, config: Value) -> Result<(u32, u32, u64), String> {
        canvas
            .picture(&ask(config))
            .map(|p| (p.width, p.height, p.tokens))
    }

    /// An edit of a `width` × `height` picture.
    fn edit(width: u32, height: u32, config: Value) -> Value {
        let png = picture::render(Digest::new(0), width, height, ImageFormat::Png);
        json!({"contents": [{"role": "user", "parts": [
            {"text": "Make it blue"},
            {"inlineData": {"mimeType": "image/png", "data": STANDARD.encode(png)}}
        ]}], "generationConfig": {"imageConfig": config}})
    }

    #[test]
    fn ratios_have_googles_pixel_sizes() {
        for (ratio, w, h) in [
            ("1:1", 1024, 1024),
            ("2:3", 832, 1248),
            ("3:2", 1248, 832),
            ("3:4", 864, 1184),
            ("4:3", 1184, 864),
            ("4:5", 896, 1152),
            ("5:4", 1152, 896),
            ("9:16", 768, 1344),
            ("16:9", 1344, 768),
            ("21:9", 1536, 672),
        ] {
            assert_eq!(
                size(&FLASH_25, json!({"aspectRatio": ratio})),
                Ok((w, h, 1290))
            );
        }
        assert_eq!(size(&FLASH_25, json!({})), Ok((1024, 1024, 1290)));
        assert_eq!(
            size(&FLASH_25, json!({"aspectRatio": ""})),
            Ok((1024, 1024, 1290))
        );
    }

    #[test]
    fn sizes_scale_the_picture_and_its_tokens() {
        let at = |s: &str| size(&PRO_3, json!({"aspectRatio": "16:9", "imageSize": s}));
        assert_eq!(at("1K"), Ok((1344, 768, 1120)));
        assert_eq!(at("2K"), Ok((2688, 1536, 1120)));
        assert_eq!(at("4K"), Ok((5376, 3072, 2000)));
        assert_eq!(
            size(&FLASH_31, json!({"imageSize": "512", "aspectRatio": "8:1"})),
            Ok((1536, 192, 747))
        );
        assert_eq!(
            size(&FLASH_31, json!({"imageSize": "4K"})),
            Ok((4096, 4096, 2520))
        );
    }

    #[test]
    fn refusals_name_the_field_and_the_allowed_values() {
        assert_eq!(
            size(&PRO_3, json!({"aspectRatio": "7:3"})),
            Err("GenerateContentRequest.generation_config.image_config.aspect_ratio: aspect_ratio must be one of '1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', or '21:9'.".into())
        );
        assert_eq!(
            size(&FLASH_31, json!({"aspectRatio": "7:3"})).unwrap_err(),
            "GenerateContentRequest.generation_config.image_config.aspect_ratio: aspect_ratio must be one of '1:1', '1:4', '1:8', '2:3', '3:2', '3:4', '4:1', '4:3', '4:5', '5:4', '8:1', '9:16', '16:9', or '21:9'."
        );
        assert!(size(&PRO_3, json!({"aspectRatio": "1:4"})).is_err());
        assert_eq!(
            size(&FLASH_25, json!({"imageSize": "1K"})).unwrap_err(),
            "GenerateContentRequest.generation_config.image_config.image_size: image_size is not supported by this model."
        );
        assert_eq!(
            size(&PRO_3, json!({"imageSize": "1k"})).unwrap_err(),
            "GenerateContentRequest.generation_config.image_config.image_size: image_size must be one of '1K', '2K', or '4K'."
        );
        assert_eq!(
            size(&FLASH_LITE_31, json!({"imageSize": "2K"})).unwrap_err(),
            "GenerateContentRequest.generation_config.image_config.image_size: image_size must be one of '1K'."
        );
    }

    #[test]
    fn an_edit_keeps_the_shape_of_its_input() {
        let shape = |canvas: &Canvas, w, h| {
            canvas
                .picture(&edit(w, h, json!({})))
                .map(|p| (p.width, p.height))
        };
        assert_eq!(shape(&FLASH_25, 192, 108), Ok((1344, 768)));
        assert_eq!(shape(&FLASH_25, 60, 80), Ok((864, 1184)));
        assert_eq!(shape(&FLASH_31, 400, 50), Ok((3072, 384)), "8:1 is nearest");
        assert_eq!(
            FLASH_25
                .picture(&edit(192, 108, json!({"aspectRatio": "1:1"})))
                .map(|p| p.width),
            Ok(1024),
            "an asked ratio wins"
        );
        let not_a_picture = json!({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}]});
        assert_eq!(FLASH_25.picture(&not_a_picture).map(|p| p.width), Ok(1024));
    }
}
