//! The token-counting rule used by usage reports and `countTokens` alike:
//! a text costs ceil(characters / 4) tokens (characters = Unicode scalar
//! values), every media part (image, audio, video, file) costs a flat
//! [`MEDIA_PART_TOKENS`] unless its reader knows better (Gemini audio costs
//! by its length), and structured values (function calls and results, tool
//! declarations) cost the tokens of their compact JSON text.
//!
//! A prompt is read once, in order, into a [`Tokens`] sink: a [`Tally`]
//! counts it by modality, and the prompt cache's prefix reader
//! ([`crate::prompt_cache::Prefix`]) hashes the same tokens in the same
//! order, so a cached prefix is counted exactly like the prompt it is part
//! of.

use serde_json::Value;

/// Tokens charged for each image, audio, video or file part.
pub const MEDIA_PART_TOKENS: u64 = 258;

pub fn text_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

pub fn json_tokens(value: &Value) -> u64 {
    text_tokens(&value.to_string())
}

/// Cuts `text` so that it costs at most `max_tokens`; `None` if it already does.
pub fn truncate(text: &str, max_tokens: u64) -> Option<String> {
    if text_tokens(text) <= max_tokens {
        return None;
    }
    let keep = usize::try_from(max_tokens.saturating_mul(4)).unwrap_or(usize::MAX);
    Some(text.chars().take(keep).collect())
}

/// What a token stands for, as Google's `ModalityTokenCount` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modality {
    Text,
    Image,
    Audio,
    Video,
    Document,
}

impl Modality {
    /// The modality of a media part of this MIME type (`image/png` →
    /// image; anything that is not image, audio or video is a document).
    pub fn of_mime(mime: &str) -> Self {
        match mime.split('/').next() {
            Some("image") => Modality::Image,
            Some("audio") => Modality::Audio,
            Some("video") => Modality::Video,
            _ => Modality::Document,
        }
    }
}

/// A reader of a prompt's tokens, in prompt order.
pub trait Tokens {
    /// Structure between tokens (a role, the start of a part): no tokens of
    /// its own, but it tells prompts apart.
    fn mark(&mut self, _structure: &[u8]) {}
    /// Text, by the text rule.
    fn text(&mut self, text: &str);
    /// One media part ([`MEDIA_PART_TOKENS`]); `identity` is what makes it
    /// this part (its data or URI).
    fn media(&mut self, modality: Modality, identity: &[u8]) {
        self.media_costing(modality, identity, MEDIA_PART_TOKENS);
    }
    /// One media part of a known cost (Gemini audio: by its length).
    fn media_costing(&mut self, modality: Modality, identity: &[u8], tokens: u64);
    /// A structured value, as the text of its compact JSON.
    fn json(&mut self, value: &Value) {
        self.text(&value.to_string());
    }
}

/// Tokens by modality.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub text: u64,
    pub image: u64,
    pub audio: u64,
    pub video: u64,
    pub document: u64,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.text + self.image + self.audio + self.video + self.document
    }

    pub fn add(&mut self, modality: Modality, tokens: u64) {
        let bucket = match modality {
            Modality::Text => &mut self.text,
            Modality::Image => &mut self.image,
            Modality::Audio => &mut self.audio,
            Modality::Video => &mut self.video,
            Modality::Document => &mut self.document,
        };
        *bucket += tokens;
    }

    /// Google's `ModalityTokenCount` list (`promptTokensDetails`,
    /// `cacheTokensDetails`): one entry per modality present.
    pub fn details(&self) -> Value {
        let entries = [
            ("TEXT", self.text),
            ("IMAGE", self.image),
            ("AUDIO", self.audio),
            ("VIDEO", self.video),
            ("DOCUMENT", self.document),
        ];
        Value::Array(
            entries
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(modality, n)| serde_json::json!({ "modality": modality, "tokenCount": n }))
                .collect(),
        )
    }

    /// Adds audio and image tokens a realtime session heard or saw outside
    /// its contents.
    pub fn add_media(&mut self, audio: u64, image: u64) {
        self.audio += audio;
        self.image += image;
    }
}

impl Tokens for Tally {
    fn text(&mut self, text: &str) {
        self.text += text_tokens(text);
    }

    fn media_costing(&mut self, modality: Modality, _identity: &[u8], tokens: u64) {
        self.add(modality, tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rule() {
        assert_eq!(text_tokens(""), 0);
        assert_eq!(text_tokens("a"), 1);
        assert_eq!(text_tokens("abcd"), 1);
        assert_eq!(text_tokens("abcde"), 2);
        assert_eq!(text_tokens("éééé"), 1);
        assert_eq!(json_tokens(&serde_json::json!({"a": 1})), 2);
    }

    #[test]
    fn truncation_fits_the_budget() {
        assert_eq!(truncate("abcdefghij", 3), None);
        let cut = truncate("abcdefghij", 2).unwrap();
        assert_eq!(cut, "abcdefgh");
        assert_eq!(truncate("abc", 0).unwrap(), "");
    }

    #[test]
    fn a_tally_counts_by_modality() {
        let mut t = Tally::default();
        t.text("abcdefgh");
        t.json(&serde_json::json!({"a": 1}));
        t.media(Modality::of_mime("image/png"), b"x");
        t.media(Modality::of_mime("audio/wav"), b"y");
        t.media(Modality::of_mime("application/pdf"), b"z");
        assert_eq!((t.text, t.image, t.audio, t.document), (4, 258, 258, 258));
        assert_eq!(t.total(), 4 + 3 * MEDIA_PART_TOKENS);
        t.media_costing(Modality::Audio, b"w", 32);
        assert_eq!(t.audio, 258 + 32);
        assert_eq!(Modality::of_mime("video/mp4"), Modality::Video);
    }
}
