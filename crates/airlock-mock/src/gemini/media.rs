//! What the image and speech models answer with, beside text.
//!
//! * Image models answer with an `image/png` part of the size and output
//!   tokens the request's `imageConfig` gives ([`super::imaging`]), drawn by
//!   [`crate::picture`] from the candidate's digest, which is drawn from the
//!   conversation: its input images are part of it, so an edit of another
//!   picture is another picture, and the same request the same one.
//! * Speech (TTS) models read the last user text aloud in the voices of the
//!   request's cast ([`super::speech`]): one `audio/L16;codec=pcm;rate=24000`
//!   part in the simulator's voice ([`crate::audio`], 50 ms a character,
//!   readable back with [`crate::audio::read_voice`]), costing 32 tokens a
//!   second as Google counts audio. A stream sends it in 2 to 8 parts, one
//!   per started second of speech, cut between samples.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::imaging::Picture;
use super::listening;
use super::speech::Cast;
use crate::audio::Encoding;
use crate::picture::{self, ImageFormat};
use crate::prng::Digest;

pub const SPEECH_MIME: &str = "audio/L16;codec=pcm;rate=24000";
const VOICE: Encoding = Encoding::Pcm16 { rate: 24000 };

/// An image or speech a media model adds to (or answers instead of) its
/// text.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub mime_type: &'static str,
    pub data: Vec<u8>,
    pub tokens: u64,
    /// `IMAGE` or `AUDIO`.
    pub modality: &'static str,
    /// Whether the answer's text is shown too.
    pub with_text: bool,
}

/// The picture for a candidate whose digest is `digest`.
pub fn image(digest: Digest, picture: Picture, with_text: bool) -> Media {
    let format = ImageFormat::Png;
    Media {
        mime_type: format.mime_type(),
        data: picture::render(digest.part("image"), picture.width, picture.height, format),
        tokens: picture.tokens,
        modality: "IMAGE",
        with_text,
    }
}

/// `cast` reading `text` aloud.
pub fn speech(text: &str, cast: &Cast) -> Media {
    let data: Vec<u8> = cast
        .lines(text)
        .iter()
        .flat_map(|(voice, said)| VOICE.speak_as(said, *voice))
        .collect();
    Media {
        mime_type: SPEECH_MIME,
        tokens: listening::tokens(VOICE.duration_ms(data.len())),
        data,
        modality: "AUDIO",
        with_text: false,
    }
}

impl Media {
    /// Its `inlineData` parts: one, or speech in a stream cut in 2 to 8.
    pub fn parts(&self, streamed: bool) -> Vec<Value> {
        let part = |data: &[u8]| json!({ "inlineData": { "mimeType": self.mime_type, "data": STANDARD.encode(data) } });
        if !streamed || self.modality != "AUDIO" || self.data.is_empty() {
            return vec![part(&self.data)];
        }
        let seconds = VOICE.duration_ms(self.data.len()).div_ceil(1000);
        let pieces = usize::try_from(seconds.clamp(2, 8)).unwrap_or(2);
        let samples = self.data.len() / 2;
        let per_piece = samples.div_ceil(pieces).max(1) * 2;
        self.data.chunks(per_piece).map(part).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{Voice, read_voice};

    fn decoded(part: &Value) -> Vec<u8> {
        STANDARD
            .decode(part["inlineData"]["data"].as_str().unwrap())
            .unwrap()
    }

    #[test]
    fn pictures_have_the_asked_size_and_follow_the_digest() {
        let asked = Picture {
            width: 64,
            height: 32,
            tokens: 1290,
        };
        let media = image(Digest::new(1), asked, true);
        assert_eq!(
            (media.mime_type, media.tokens, media.modality),
            ("image/png", 1290, "IMAGE")
        );
        let upload = picture::inspect(&media.data).unwrap();
        assert_eq!((upload.width, upload.height), (64, 32));
        assert_eq!(media, image(Digest::new(1), asked, true));
        assert_ne!(media.data, image(Digest::new(2), asked, true).data);
        assert_eq!(media.parts(true).len(), 1, "a picture streams whole");
        assert_eq!(decoded(&media.parts(false)[0]), media.data);
    }

    #[test]
    fn speech_reads_the_text_in_the_cast_voices() {
        let media = speech("Hello there", &Cast::Single(Voice::numbered(3)));
        assert_eq!(media.mime_type, SPEECH_MIME);
        assert_eq!(VOICE.duration_ms(media.data.len()), 11 * 50);
        assert_eq!(
            media.tokens, 18,
            "0.55 s at 32 tokens per second, rounded up"
        );
        assert_eq!(
            read_voice(&media.data, 24000).as_deref(),
            Some("Hello there")
        );
        assert_ne!(
            media.data,
            speech("Hello there", &Cast::Single(Voice::DEFAULT)).data
        );
        let dialogue = Cast::Dialogue([
            ("A".into(), Voice::numbered(1)),
            ("B".into(), Voice::numbered(2)),
        ]);
        let said = speech("A: Hi\nB: Yo", &dialogue);
        assert_eq!(read_voice(&said.data, 24000).as_deref(), Some("Hi\nYo"));
    }

    #[test]
    fn streamed_speech_comes_in_pieces_that_join_up() {
        let text = "x".repeat(70); // 3.5 s
        let media = speech(&text, &Cast::Single(Voice::DEFAULT));
        assert_eq!(media.parts(false).len(), 1);
        let pieces = media.parts(true);
        assert_eq!(pieces.len(), 4, "one per started second");
        let joined: Vec<u8> = pieces.iter().flat_map(decoded).collect();
        assert_eq!(joined, media.data);
        assert!(pieces.iter().all(|p| decoded(p).len().is_multiple_of(2)));
        assert_eq!(
            speech("x", &Cast::Single(Voice::DEFAULT)).parts(true).len(),
            2
        );
        assert_eq!(
            speech("", &Cast::Single(Voice::DEFAULT)).parts(true).len(),
            1,
            "silence is one empty part"
        );
    }
}
