//! What the image and speech models answer with, beside text.
//!
//! * Image models answer with an `image/png` `inlineData` part: a 16×16
//!   picture (a two-colour gradient drawn from the conversation) that any
//!   PNG decoder reads. Google counts [`IMAGE_OUTPUT_TOKENS`] per generated
//!   image (1290, documented for images up to 1024×1024).
//! * Speech (TTS) models read the last user text aloud: one
//!   `audio/L16;codec=pcm;rate=24000` part in the simulator's voice
//!   ([`crate::audio`], 50 ms per character), costing 32 tokens per second
//!   of audio as Google documents for audio.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::audio::Encoding;
use crate::prng::Digest;

/// Output tokens of one generated image.
pub const IMAGE_OUTPUT_TOKENS: u64 = 1290;
/// Audio tokens per second of speech.
pub const AUDIO_TOKENS_PER_SECOND: u64 = 32;
pub const SPEECH_MIME: &str = "audio/L16;codec=pcm;rate=24000";
const VOICE: Encoding = Encoding::Pcm16 { rate: 24000 };
const SIDE: u32 = 16;

/// A generated picture, as PNG bytes.
pub fn picture(digest: Digest) -> Vec<u8> {
    let v = digest.part("image").value().to_le_bytes();
    let (from, to) = ([v[0], v[1], v[2]], [v[3], v[4], v[5]]);
    let mut raw = Vec::with_capacity(((SIDE * 3 + 1) * SIDE) as usize);
    for y in 0..SIDE {
        raw.push(0); // filter: none
        for x in 0..SIDE {
            let t = (x + y) * 255 / (2 * (SIDE - 1));
            for c in 0..3 {
                let mix = (u32::from(from[c]) * (255 - t) + u32::from(to[c]) * t) / 255;
                raw.push(u8::try_from(mix).unwrap_or(u8::MAX));
            }
        }
    }
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&SIDE.to_be_bytes());
    header.extend_from_slice(&SIDE.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

/// The `inlineData` part of a picture.
pub fn image_part(digest: Digest) -> Value {
    json!({ "inlineData": { "mimeType": "image/png", "data": STANDARD.encode(picture(digest)) } })
}

/// The voice reading `text`, and its tokens.
pub fn speech_part(text: &str) -> (Value, u64) {
    let pcm = VOICE.speak(text);
    let tokens = (VOICE.duration_ms(pcm.len()) * AUDIO_TOKENS_PER_SECOND).div_ceil(1000);
    let part = json!({ "inlineData": { "mimeType": SPEECH_MIME, "data": STANDARD.encode(pcm) } });
    (part, tokens)
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(0xFFFF).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        // zlib.compress(b"abc", 0) → 78 01 01 03 00 fc ff 61 62 63 02 4d 01 27
        assert_eq!(
            zlib_stored(b"abc"),
            [
                0x78, 0x01, 0x01, 0x03, 0x00, 0xfc, 0xff, 0x61, 0x62, 0x63, 0x02, 0x4d, 0x01, 0x27
            ]
        );
    }

    #[test]
    fn pictures_are_well_formed_and_deterministic() {
        let png = picture(Digest::new(1));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[16..24], [0, 0, 0, 16, 0, 0, 0, 16]);
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
        assert_eq!(png, picture(Digest::new(1)));
        assert_ne!(png, picture(Digest::new(2)));
        let part = image_part(Digest::new(1));
        assert_eq!(part["inlineData"]["mimeType"], "image/png");
        assert_eq!(
            STANDARD
                .decode(part["inlineData"]["data"].as_str().unwrap())
                .unwrap(),
            png
        );
    }

    #[test]
    fn speech_reads_the_text() {
        let (part, tokens) = speech_part("Hello there");
        assert_eq!(part["inlineData"]["mimeType"], SPEECH_MIME);
        let pcm = STANDARD
            .decode(part["inlineData"]["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(VOICE.duration_ms(pcm.len()), 11 * 50);
        assert_eq!(tokens, 18, "0.55 s at 32 tokens per second, rounded up");
    }
}
