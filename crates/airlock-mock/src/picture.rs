//! The pictures the simulator's image models draw, and what it reads of the
//! pictures it is sent.
//!
//! A picture is a diagonal gradient between two colours drawn from a
//! [`Digest`], crossed by a band whose angle comes from the same digest, of
//! exactly the asked size, encoded by the `image` crate (PNG, baseline JPEG,
//! lossless WebP) so that any decoder reads it. The same digest and size
//! always give the same bytes.
//!
//! Uploaded pictures are recognised by their bytes (magic numbers), never
//! by the content type or file name a client declares.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, ImageReader};

use crate::prng::Digest;

/// JPEG quality of the pictures drawn (OpenAI's `output_compression`
/// default is 100; 90 keeps the answers small).
const JPEG_QUALITY: u8 = 90;

/// An encoding of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

impl ImageFormat {
    /// The MIME type of pictures in this format.
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }

    /// The usual file extension (`png`, `jpeg`, `webp`), as OpenAI's
    /// `output_format` names the format.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Webp => "webp",
        }
    }

    /// The format whose magic number `bytes` start with.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageFormat::Webp)
        } else {
            None
        }
    }

    fn as_image_crate(self) -> image::ImageFormat {
        match self {
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::Webp => image::ImageFormat::WebP,
        }
    }
}

/// What an uploaded picture is, read from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upload {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// Whether its pixels carry an alpha channel.
    pub alpha: bool,
}

/// Reads an uploaded picture's format, size and colour type; `None` when
/// the bytes are not a PNG, JPEG or WebP picture that decodes in full.
pub fn inspect(bytes: &[u8]) -> Option<Upload> {
    let format = ImageFormat::sniff(bytes)?;
    let picture = ImageReader::with_format(Cursor::new(bytes), format.as_image_crate())
        .decode()
        .ok()?;
    (picture.width() > 0 && picture.height() > 0).then_some(Upload {
        format,
        width: picture.width(),
        height: picture.height(),
        alpha: picture.color().has_alpha(),
    })
}

/// A deterministic picture of exactly `width` × `height` pixels (each at
/// least 1) in `format`.
pub fn render(digest: Digest, width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let (width, height) = (width.max(1), height.max(1));
    let pixels = draw(digest, width, height);
    let mut out = Vec::new();
    let encoded = match format {
        ImageFormat::Png => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
                .write_image(&pixels, width, height, ExtendedColorType::Rgb8)
        }
        ImageFormat::Jpeg => JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).write_image(
            &pixels,
            width,
            height,
            ExtendedColorType::Rgb8,
        ),
        ImageFormat::Webp => WebPEncoder::new_lossless(&mut out).write_image(
            &pixels,
            width,
            height,
            ExtendedColorType::Rgb8,
        ),
    };
    // Encoding RGB8 pixels of a non-zero size into memory cannot fail; if an
    // encoder ever refuses, a PNG (the format every decoder reads) stands in.
    match encoded {
        Ok(()) => out,
        Err(e) => {
            tracing::warn!(error = %e, ?format, "picture encoding failed");
            let mut png = Vec::new();
            let _ = PngEncoder::new(&mut png).write_image(
                &pixels,
                width,
                height,
                ExtendedColorType::Rgb8,
            );
            png
        }
    }
}

/// RGB8 pixels: a diagonal gradient between two colours with a lighter
/// band across it.
fn draw(digest: Digest, width: u32, height: u32) -> Vec<u8> {
    let v = digest.part("picture").value().to_le_bytes();
    let (from, to) = ([v[0], v[1], v[2]], [v[3], v[4], v[5]]);
    // The colour at each of 256 steps along the diagonal, plain and lit.
    let shade = |t: u16, lit: bool| -> [u8; 3] {
        [0, 1, 2].map(|c| {
            let mix = (u16::from(from[c]) * (255 - t) + u16::from(to[c]) * t) / 255;
            let level = if lit { (mix + 255) / 2 } else { mix };
            u8::try_from(level).unwrap_or(u8::MAX)
        })
    };
    let plain: Vec<[u8; 3]> = (0..=255).map(|t| shade(t, false)).collect();
    let lit: Vec<[u8; 3]> = (0..=255).map(|t| shade(t, true)).collect();
    // The band's slope, in sixteenths (0..=31), and its width in pixels.
    let slope = u64::from(v[6] % 32);
    let band = u64::from(width.min(height) / 8).max(1);
    let span = (u64::from(width) + u64::from(height)).max(1);
    let size = usize::try_from(u64::from(width) * u64::from(height) * 3).unwrap_or(0);
    let mut pixels = Vec::with_capacity(size);
    for y in 0..u64::from(height) {
        for x in 0..u64::from(width) {
            let t = usize::try_from((x + y) * 255 / span)
                .unwrap_or(255)
                .min(255);
            let in_band = (x * 16 + y * slope) / 16 % (band * 4) < band;
            pixels.extend_from_slice(if in_band { &lit[t] } else { &plain[t] });
        }
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> image::DynamicImage {
        image::load_from_memory(bytes).unwrap()
    }

    #[test]
    fn every_format_decodes_at_the_asked_size() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp] {
            let bytes = render(Digest::new(3), 48, 20, format);
            assert_eq!(ImageFormat::sniff(&bytes), Some(format));
            let picture = decode(&bytes);
            assert_eq!((picture.width(), picture.height()), (48, 20), "{format:?}");
            assert_eq!(
                inspect(&bytes),
                Some(Upload {
                    format,
                    width: 48,
                    height: 20,
                    alpha: false
                })
            );
        }
    }

    #[test]
    fn pictures_follow_the_digest() {
        let a = render(Digest::new(1), 16, 16, ImageFormat::Png);
        assert_eq!(a, render(Digest::new(1), 16, 16, ImageFormat::Png));
        assert_ne!(a, render(Digest::new(2), 16, 16, ImageFormat::Png));
        let rgb = decode(&a).to_rgb8();
        assert_ne!(rgb.get_pixel(0, 0), rgb.get_pixel(15, 15), "a gradient");
    }

    #[test]
    fn a_zero_size_is_one_pixel() {
        let picture = decode(&render(Digest::new(1), 0, 0, ImageFormat::Png));
        assert_eq!((picture.width(), picture.height()), (1, 1));
    }

    #[test]
    fn non_pictures_are_not_read() {
        assert_eq!(ImageFormat::sniff(b"hello world"), None);
        assert_eq!(inspect(b"hello world"), None);
        // The right magic number, but nothing after it.
        assert_eq!(inspect(b"\x89PNG\r\n\x1a\n"), None);
        // A picture cut short.
        let png = render(Digest::new(1), 64, 64, ImageFormat::Png);
        assert_eq!(inspect(&png[..png.len() / 2]), None);
        assert_eq!(ImageFormat::Webp.mime_type(), "image/webp");
        assert_eq!(ImageFormat::Jpeg.extension(), "jpeg");
    }
}
