//! Image variants for a CDN: a stored picture resized to one of the
//! configured widths (never enlarged; the height keeps the aspect ratio)
//! and encoded as PNG, JPEG or WebP, with the `image` crate. Decoding is
//! bounded (dimensions and memory), so a hostile picture cannot exhaust
//! the server.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// A resized, re-encoded picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    pub width: u32,
    pub format: VariantFormat,
}

/// The encodings a variant may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VariantFormat {
    Png,
    Jpeg,
    Webp,
}

impl VariantFormat {
    pub fn parse(name: &str) -> Option<VariantFormat> {
        match name {
            "png" => Some(VariantFormat::Png),
            "jpeg" | "jpg" => Some(VariantFormat::Jpeg),
            "webp" => Some(VariantFormat::Webp),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VariantFormat::Png => "png",
            VariantFormat::Jpeg => "jpeg",
            VariantFormat::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            VariantFormat::Png => "image/png",
            VariantFormat::Jpeg => "image/jpeg",
            VariantFormat::Webp => "image/webp",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            VariantFormat::Png => ImageFormat::Png,
            VariantFormat::Jpeg => ImageFormat::Jpeg,
            VariantFormat::Webp => ImageFormat::WebP,
        }
    }
}

/// The largest picture a variant is made from, per side.
const MAX_SIDE: u32 = 8192;
/// The most memory decoding one picture may take.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Why a variant could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    #[error("the stored media is not a picture that can be resized")]
    NotAPicture,
    #[error("the picture could not be encoded")]
    Encoding,
}

/// `original` (a picture's bytes) as `variant`. CPU-bound: run it off the
/// async workers.
pub fn render(original: &[u8], variant: Variant) -> Result<Vec<u8>, VariantError> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::new(Cursor::new(original))
        .with_guessed_format()
        .map_err(|_| VariantError::NotAPicture)?;
    reader.limits(limits);
    let picture = reader.decode().map_err(|_| VariantError::NotAPicture)?;
    let picture = match variant.width < picture.width() {
        true => {
            let height = (u64::from(picture.height()) * u64::from(variant.width))
                .div_ceil(u64::from(picture.width()))
                .max(1);
            let height = u32::try_from(height).unwrap_or(u32::MAX);
            picture.resize_exact(variant.width, height, FilterType::Triangle)
        }
        false => picture,
    };
    // JPEG has no alpha channel.
    let picture = match variant.format {
        VariantFormat::Jpeg => DynamicImage::ImageRgb8(picture.to_rgb8()),
        VariantFormat::Png | VariantFormat::Webp => picture,
    };
    let mut out = Cursor::new(Vec::new());
    picture
        .write_to(&mut out, variant.format.image_format())
        .map_err(|_| VariantError::Encoding)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgba};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let picture = ImageBuffer::from_fn(width, height, |x, y| {
            Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255])
        });
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgba8(picture)
            .write_to(&mut out, ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn a_variant_is_resized_to_its_width_and_encoded_as_asked() {
        let original = png(300, 200);
        for format in [VariantFormat::Png, VariantFormat::Jpeg, VariantFormat::Webp] {
            let bytes = render(&original, Variant { width: 150, format }).unwrap();
            let decoded = image::load_from_memory(&bytes).unwrap();
            assert_eq!(
                (decoded.width(), decoded.height()),
                (150, 100),
                "{format:?}"
            );
            assert_eq!(
                image::guess_format(&bytes).unwrap(),
                format.image_format(),
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_variant_is_never_enlarged() {
        let bytes = render(
            &png(64, 32),
            Variant {
                width: 256,
                format: VariantFormat::Png,
            },
        )
        .unwrap();
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 32));
    }

    #[test]
    fn what_is_not_a_picture_is_refused() {
        let thumb = Variant {
            width: 64,
            format: VariantFormat::Png,
        };
        assert!(matches!(
            render(b"RIFF\0\0\0\0WAVEfmt ", thumb),
            Err(VariantError::NotAPicture)
        ));
        let mut truncated = png(64, 64);
        truncated.truncate(60);
        assert!(matches!(
            render(&truncated, thumb),
            Err(VariantError::NotAPicture)
        ));
    }
}
