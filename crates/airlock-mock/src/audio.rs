//! Audio as the simulators hear and speak it: encodings and durations,
//! silence (the end-of-speech rule), the transcript a recording is heard as,
//! and the synthetic voice, which can be read back.
//!
//! * Silence: a chunk is silent when every sample is digital silence (16-bit
//!   PCM all zero bytes, G.711 µ-law `0xFF`/`0x7F`, A-law `0xD5`/`0x55`).
//! * Hearing: a recording is transcribed as one word per started 400 ms
//!   (1 to 40 words) drawn from the seed and the audio bytes.
//! * Speaking: an answer lasts [`MS_PER_CHARACTER`] per character. In 16-bit
//!   PCM each character is a chord of five sine tones, each making a whole
//!   number `k` of cycles over the character's N samples (N = rate / 20, so
//!   a tone sounds at k × rate / N, about k × 20 Hz): the voice's pitch,
//!   k = 5 + the voice's number (about 100 to 680 Hz, amplitude 6000), and
//!   four tones spelling the character's Unicode code point in the digits of
//!   the mixed base 32·32·32·34 (lowest first: k = 40 + d0, 72 + d1, 104 + d2,
//!   136 + d3, about 800 to 3380 Hz, amplitude 4000 each). Every Unicode
//!   character is spelled in full. G.711 speech is a deterministic triangle
//!   wave whose pitch follows the text (audible, not readable).
//! * Reading back ([`read_voice`]): the tones of a character are orthogonal
//!   over its N samples, so one DFT bin per candidate tone finds them
//!   exactly. Audio is the simulator's voice when its length is a whole
//!   number of characters and, in every character, the strongest tone of the
//!   pitch band and of each digit band has its amplitude (within 10%) and
//!   these five tones hold all but 1% of the energy. Readable at every rate
//!   from 6800 Hz (N ≥ 340, the highest tone under the Nyquist frequency):
//!   8, 16, 24, 44.1 and 48 kHz alike.

use std::f64::consts::TAU;
use std::ops::Range;

use crate::prng::Digest;
use crate::textgen;

/// How long the synthetic voice takes per character of the answer.
pub const MS_PER_CHARACTER: u64 = 50;

/// The first DFT bin of the pitch band; voice `v` sounds at bin 5 + v.
const PITCH_BIN: usize = 5;
/// The first bin and the size of each digit band, lowest digit first.
const DIGIT_BANDS: [(usize, u32); 4] = [(40, 32), (72, 32), (104, 32), (136, 34)];
const PITCH_AMPLITUDE: f64 = 6000.0;
const DIGIT_AMPLITUDE: f64 = 4000.0;
/// Samples per character below which the highest digit tone would alias.
const MIN_SAMPLES: usize = 2 * (136 + 34);

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

/// One of the simulator's voices: the pitch under its speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Voice(u8);

impl Voice {
    /// How many voices there are (numbered from 0).
    pub const COUNT: usize = 30;
    /// The voice of the realtime simulators and of speech without a chosen
    /// voice.
    pub const DEFAULT: Voice = Voice(0);

    /// The voice numbered `n` (modulo [`Voice::COUNT`]).
    pub fn numbered(n: usize) -> Voice {
        Voice(u8::try_from(n % Self::COUNT).unwrap_or(0))
    }

    fn pitch_bin(self) -> usize {
        PITCH_BIN + usize::from(self.0)
    }
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

    /// The bytes of one character's speech (a whole number of samples).
    fn character_bytes(self) -> usize {
        usize::try_from(self.bytes_per_second() * MS_PER_CHARACTER / 1000).unwrap_or(usize::MAX)
            & !1
    }

    /// The default voice saying `text`: [`MS_PER_CHARACTER`] per character,
    /// never silent.
    pub fn speak(self, text: &str) -> Vec<u8> {
        self.speak_as(text, Voice::DEFAULT)
    }

    /// `voice` saying `text` (G.711 has one voice).
    pub fn speak_as(self, text: &str, voice: Voice) -> Vec<u8> {
        let per_char = self.character_bytes();
        let mut out = Vec::with_capacity(per_char.saturating_mul(text.chars().count()));
        match self {
            Encoding::Pcm16 { .. } => {
                for c in text.chars() {
                    chord(c, voice, per_char / 2, &mut out);
                }
            }
            Encoding::Mulaw | Encoding::Alaw => triangle(text, per_char, &mut out),
        }
        out
    }
}

/// The bins of the five tones of `c` said by `voice`, with their amplitudes.
fn tones(c: char, voice: Voice) -> [(usize, f64); 5] {
    let mut code = u32::from(c);
    let mut tones = [(voice.pitch_bin(), PITCH_AMPLITUDE); 5];
    for (tone, (first, size)) in tones[1..].iter_mut().zip(DIGIT_BANDS) {
        *tone = (first + (code % size) as usize, DIGIT_AMPLITUDE);
        code /= size;
    }
    tones
}

/// One character's chord: `samples` 16-bit samples.
fn chord(c: char, voice: Voice, samples: usize, out: &mut Vec<u8>) {
    let tones = tones(c, voice);
    let n = samples as f64;
    for i in 0..samples {
        let t = i as f64 / n;
        let level: f64 = tones
            .iter()
            .map(|(bin, amplitude)| amplitude * (TAU * *bin as f64 * t).sin())
            .sum();
        // At most 6000 + 4 × 4000: always within i16.
        out.extend_from_slice(&(level.round() as i16).to_le_bytes());
    }
}

/// G.711 speech: a triangle wave whose pitch follows the text.
fn triangle(text: &str, per_char: usize, out: &mut Vec<u8>) {
    let mut phase: u32 = 0;
    for c in text.chars() {
        // A pitch per character: a phase step of 2..=33 units per sample.
        let step = 2 + u32::from(c) % 32;
        for _ in 0..per_char {
            phase = (phase + step) % 512;
            // A rough companded level; what matters is that it is not silence.
            out.push(0x10 + u8::try_from(phase / 4).unwrap_or(0));
        }
    }
}

/// The text the simulator's voice says in `pcm` (16-bit little-endian mono
/// at `rate` Hz), or `None` when `pcm` is not the simulator's voice. Empty
/// audio says the empty text.
pub fn read_voice(pcm: &[u8], rate: u32) -> Option<String> {
    Some(
        read_characters(pcm, rate)?
            .into_iter()
            .map(|(_, c)| c)
            .collect(),
    )
}

/// Each character of the voice in `pcm`, with the voice that says it.
fn read_characters(pcm: &[u8], rate: u32) -> Option<Vec<(Voice, char)>> {
    let per_char = Encoding::Pcm16 { rate }.character_bytes();
    if per_char / 2 < MIN_SAMPLES || !pcm.len().is_multiple_of(per_char) {
        return None;
    }
    pcm.chunks_exact(per_char)
        .map(|bytes| {
            let samples: Vec<f64> = bytes
                .chunks_exact(2)
                .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])))
                .collect();
            read_character(&samples)
        })
        .collect()
}

/// The character one chord spells, and its voice.
fn read_character(samples: &[f64]) -> Option<(Voice, char)> {
    let n = samples.len() as f64;
    let energy: f64 = samples.iter().map(|x| x * x).sum();
    // The strongest bin of a band, if its tone has the amplitude expected,
    // with the energy it holds.
    let tone = |bins: Range<usize>, amplitude: f64| -> Option<(usize, f64)> {
        let (bin, power) = bins
            .map(|k| (k, bin_power(samples, k)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        let found = 2.0 * power.sqrt() / n;
        ((found - amplitude).abs() <= amplitude / 10.0).then_some((bin, 2.0 * power / n))
    };
    let (pitch, mut explained) = tone(PITCH_BIN..PITCH_BIN + Voice::COUNT, PITCH_AMPLITUDE)?;
    let mut code = 0;
    let mut scale = 1;
    for (first, size) in DIGIT_BANDS {
        let (bin, held) = tone(first..first + size as usize, DIGIT_AMPLITUDE)?;
        code += u32::try_from(bin - first).ok()? * scale;
        scale *= size;
        explained += held;
    }
    if energy - explained > energy / 100.0 {
        return None;
    }
    Some((Voice::numbered(pitch - PITCH_BIN), char::from_u32(code)?))
}

/// |X_k|², the power of DFT bin `k` of `samples` (Goertzel).
fn bin_power(samples: &[f64], k: usize) -> f64 {
    let coeff = 2.0 * (TAU * k as f64 / samples.len() as f64).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for x in samples {
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// A recording as the simulated ear takes it in: how long it is and, when
/// it is 16-bit mono PCM, its samples (which may be the simulator's voice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub duration_ms: u64,
    pcm16: Option<(Vec<u8>, u32)>,
}

impl Recording {
    /// Raw 16-bit little-endian mono PCM at `rate` Hz.
    pub fn pcm16(pcm: &[u8], rate: u32) -> Recording {
        Recording {
            duration_ms: Encoding::Pcm16 { rate }.duration_ms(pcm.len()),
            pcm16: Some((pcm.to_vec(), rate)),
        }
    }

    /// A WAV file (its header read by `hound`), or `None` when it is not one.
    pub fn wav(file: &[u8]) -> Option<Recording> {
        let mut reader = hound::WavReader::new(file).ok()?;
        let spec = reader.spec();
        let duration_ms = u64::from(reader.duration()) * 1000 / u64::from(spec.sample_rate.max(1));
        let mono16 = spec.channels == 1
            && spec.bits_per_sample == 16
            && spec.sample_format == hound::SampleFormat::Int;
        let pcm16 = mono16
            .then(|| {
                reader
                    .samples::<i16>()
                    .map(|s| s.map(i16::to_le_bytes))
                    .collect::<Result<Vec<_>, _>>()
                    .ok()
            })
            .flatten()
            .map(|samples| (samples.concat(), spec.sample_rate));
        Some(Recording { duration_ms, pcm16 })
    }

    /// Audio the ear cannot decode, known only by its length.
    pub fn opaque(duration_ms: u64) -> Recording {
        Recording {
            duration_ms,
            pcm16: None,
        }
    }

    /// What is said in the recording (whose bytes are `audio`): the text,
    /// when it is the simulator's voice, else the words [`transcript`] hears.
    pub fn transcript(&self, seed: u64, audio: &[u8]) -> String {
        self.pcm16
            .as_ref()
            .and_then(|(pcm, rate)| read_voice(pcm, *rate))
            .unwrap_or_else(|| transcript(seed, audio, self.duration_ms))
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
    fn any_text_reads_back_exactly_at_every_rate() {
        let texts = [
            "Hello there, general Kenobi!",
            "naïve café — 東京 🦀 \u{10FFFF}\u{0}\t\n",
            "",
        ];
        for rate in [8000, 16000, 22050, 24000, 44100, 48000] {
            let encoding = Encoding::Pcm16 { rate };
            for text in texts {
                let pcm = encoding.speak(text);
                // 50 ms a character, in whole samples (1102 at 22050 Hz).
                assert_eq!(pcm.len(), encoding.character_bytes() * text.chars().count());
                assert_eq!(read_voice(&pcm, rate).as_deref(), Some(text), "{rate} Hz");
            }
        }
    }

    #[test]
    fn voices_differ_in_pitch_and_read_back_as_theirs() {
        let pcm16k = Encoding::Pcm16 { rate: 16000 };
        let zephyr = pcm16k.speak_as("Hi", Voice::numbered(0));
        let sulafat = pcm16k.speak_as("Hi", Voice::numbered(29));
        assert_ne!(zephyr, sulafat);
        assert_eq!(zephyr, pcm16k.speak("Hi"), "voice 0 is the default");
        let mut dialogue = pcm16k.speak_as("Yo", Voice::numbered(3));
        dialogue.extend(pcm16k.speak_as("Ok", Voice::numbered(7)));
        assert_eq!(
            read_characters(&dialogue, 16000).unwrap(),
            [
                (Voice::numbered(3), 'Y'),
                (Voice::numbered(3), 'o'),
                (Voice::numbered(7), 'O'),
                (Voice::numbered(7), 'k')
            ]
        );
        assert_eq!(Voice::numbered(31), Voice::numbered(1));
    }

    #[test]
    fn other_audio_is_not_the_voice() {
        let voice = Encoding::Pcm16 { rate: 24000 }.speak("abc");
        assert_eq!(read_voice(&voice, 16000), None, "read at the wrong rate");
        assert_eq!(read_voice(&voice[2..], 24000), None, "not whole characters");
        assert_eq!(
            read_voice(&voice, 4000),
            None,
            "a rate too low for the voice"
        );
        assert_eq!(read_voice(&vec![0; voice.len()], 24000), None, "silence");
        let noise: Vec<u8> = (0..voice.len()).map(|i| (i * 7919 % 251) as u8).collect();
        assert_eq!(read_voice(&noise, 24000), None);
        let mut loud = voice.clone();
        for pair in loud.chunks_exact_mut(2) {
            let s = i16::from_le_bytes([pair[0], pair[1]]) / 2;
            pair.copy_from_slice(&s.to_le_bytes());
        }
        assert_eq!(read_voice(&loud, 24000), None, "half as loud");
        let mut hiss = voice;
        for (i, byte) in hiss.iter_mut().enumerate().step_by(2) {
            *byte ^= (i % 64) as u8;
        }
        assert_eq!(
            read_voice(&hiss, 24000).as_deref(),
            Some("abc"),
            "a little noise still reads"
        );
    }

    /// A WAV file of 16-bit samples, `channels` interleaved.
    fn wav(pcm: &[u8], rate: u32, channels: u16) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut file = std::io::Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut file, spec).unwrap();
        for pair in pcm.chunks_exact(2) {
            writer
                .write_sample(i16::from_le_bytes([pair[0], pair[1]]))
                .unwrap();
        }
        writer.finalize().unwrap();
        file.into_inner()
    }

    #[test]
    fn recordings_say_the_voice_or_the_heard_words() {
        let pcm = Encoding::Pcm16 { rate: 16000 }.speak("Read me");
        let file = wav(&pcm, 16000, 1);
        let recording = Recording::wav(&file).unwrap();
        assert_eq!(recording.duration_ms, 350);
        assert_eq!(recording.transcript(0, &file), "Read me");
        assert_eq!(Recording::pcm16(&pcm, 16000).transcript(0, &pcm), "Read me");
        let stereo = wav(&pcm, 8000, 2);
        let heard = Recording::wav(&stereo).unwrap();
        assert_eq!(heard.duration_ms, 350);
        assert_eq!(heard.transcript(0, &stereo), transcript(0, &stereo, 350));
        assert_eq!(Recording::wav(b"RIFF not really"), None);
        assert_eq!(
            Recording::opaque(900).transcript(1, b"mp3"),
            transcript(1, b"mp3", 900)
        );
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
