//! Audio as the realtime simulators hear and speak it: encodings and
//! durations, silence (the end-of-speech rule), the transcript a recording
//! is heard as, and the synthetic voice.
//!
//! * Silence: a chunk is silent when every sample is digital silence (16-bit
//!   PCM all zero bytes, G.711 µ-law `0xFF`/`0x7F`, A-law `0xD5`/`0x55`).
//! * Hearing: a recording is transcribed as one word per started 400 ms
//!   (1 to 40 words) drawn from the seed and the audio bytes.
//! * Speaking: an answer lasts [`MS_PER_CHARACTER`] per character; the
//!   voice is a deterministic triangle wave whose pitch follows the text.

use crate::prng::Digest;
use crate::textgen;

/// How long the synthetic voice takes per character of the answer.
pub const MS_PER_CHARACTER: u64 = 50;

/// A sample encoding of mono audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 16-bit signed little-endian PCM at this sample rate.
    Pcm16 { rate: u32 },
    /// G.711 µ-law, 8 kHz.
    Mulaw,
    /// G.711 A-law, 8 kHz.
    Alaw,
}

impl Encoding {
    fn bytes_per_second(self) -> u64 {
        match self {
            Encoding::Pcm16 { rate } => u64::from(rate) * 2,
            Encoding::Mulaw | Encoding::Alaw => 8000,
        }
    }

    /// Whole milliseconds of audio in `bytes` of this encoding.
    pub fn duration_ms(self, bytes: usize) -> u64 {
        (bytes as u64).saturating_mul(1000) / self.bytes_per_second().max(1)
    }

    /// Whether every sample of `chunk` is digital silence.
    pub fn is_silent(self, chunk: &[u8]) -> bool {
        match self {
            Encoding::Pcm16 { .. } => chunk.iter().all(|b| *b == 0),
            Encoding::Mulaw => chunk.iter().all(|b| matches!(b, 0xFF | 0x7F)),
            Encoding::Alaw => chunk.iter().all(|b| matches!(b, 0xD5 | 0x55)),
        }
    }

    /// The synthetic voice saying `text`: [`MS_PER_CHARACTER`] per
    /// character, never silent.
    pub fn speak(self, text: &str) -> Vec<u8> {
        let per_char = usize::try_from(self.bytes_per_second() * MS_PER_CHARACTER / 1000)
            .unwrap_or(usize::MAX)
            & !1;
        let mut out = Vec::with_capacity(per_char.saturating_mul(text.chars().count()));
        let mut phase: i32 = 0;
        for c in text.chars() {
            // A pitch per character: a phase step of 2..=33 units per sample.
            let step = 2 + (u32::from(c) % 32) as i32;
            let samples = match self {
                Encoding::Pcm16 { .. } => per_char / 2,
                Encoding::Mulaw | Encoding::Alaw => per_char,
            };
            for _ in 0..samples {
                phase = (phase + step) % 512;
                // A triangle wave from -6400 to 6400, never all zero.
                let level = (if phase < 256 { phase } else { 511 - phase }) * 50 - 6400;
                match self {
                    Encoding::Pcm16 { .. } => {
                        out.extend_from_slice(&(level as i16).to_le_bytes());
                    }
                    // A rough companded level; what matters is that it is not silence.
                    Encoding::Mulaw | Encoding::Alaw => out.push(0x10 + (phase / 4) as u8),
                }
            }
        }
        out
    }
}

/// The rate parameter of a `audio/pcm;rate=N` MIME type, if any.
pub fn pcm_rate(mime_type: &str) -> Option<u32> {
    mime_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        (key.trim() == "rate")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// What the simulated ear hears in a recording.
pub fn transcript(seed: u64, audio: &[u8], duration_ms: u64) -> String {
    let words = usize::try_from(duration_ms.div_ceil(400).clamp(1, 40)).unwrap_or(1);
    let mut rng = Digest::new(seed).part("transcript").part(audio).rng();
    let mut text = textgen::phrase(&mut rng, words);
    if let Some(first) = text.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_silence() {
        let pcm16k = Encoding::Pcm16 { rate: 16000 };
        assert_eq!(pcm16k.duration_ms(32000), 1000);
        assert_eq!(Encoding::Mulaw.duration_ms(800), 100);
        assert!(pcm16k.is_silent(&[0; 64]));
        assert!(!pcm16k.is_silent(&[0, 1]));
        assert!(Encoding::Mulaw.is_silent(&[0xFF, 0x7F]));
        assert!(Encoding::Alaw.is_silent(&[0xD5]));
        assert_eq!(pcm_rate("audio/pcm;rate=16000"), Some(16000));
        assert_eq!(pcm_rate("audio/pcm; rate = 24000"), Some(24000));
        assert_eq!(pcm_rate("audio/pcm"), None);
    }

    #[test]
    fn the_voice_is_long_enough_and_audible() {
        for encoding in [
            Encoding::Pcm16 { rate: 24000 },
            Encoding::Mulaw,
            Encoding::Alaw,
        ] {
            let audio = encoding.speak("hello");
            assert_eq!(encoding.duration_ms(audio.len()), 5 * MS_PER_CHARACTER);
            assert!(!encoding.is_silent(&audio));
            assert_eq!(audio, encoding.speak("hello"));
        }
        assert!(Encoding::Pcm16 { rate: 24000 }.speak("").is_empty());
    }

    #[test]
    fn transcripts_are_deterministic() {
        let a = transcript(0, b"abc", 1000);
        assert_eq!(a, transcript(0, b"abc", 1000));
        assert_ne!(a, transcript(1, b"abc", 1000));
        assert_eq!(a.split(' ').count(), 3);
        assert!(a.ends_with('.'));
    }
}
