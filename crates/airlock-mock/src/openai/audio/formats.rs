//! The formats speech is answered in (`response_format`), each with the
//! `Content-Type` OpenAI sends: `pcm` raw 16-bit little-endian samples
//! (`audio/pcm`), `wav` a RIFF/WAVE file (`audio/wav`, written by `hound`),
//! `flac` a lossless FLAC stream (`audio/flac`) — these three carry the
//! voice itself — and `mp3` (`audio/mpeg`), `aac` (`audio/aac`, ADTS) and
//! `opus` (`audio/opus`, Ogg) streams of silence of the same length, which
//! need no codec library and which decoders accept.

use std::io::Cursor;

use super::{adts, flac, mpeg, ogg};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    Mp3,
    Opus,
    Aac,
    Flac,
    Wav,
    Pcm,
}

impl AudioFormat {
    /// The format a `response_format` names (`mp3` when absent).
    pub fn named(name: Option<&str>) -> Option<Self> {
        Some(match name.unwrap_or("mp3") {
            "mp3" => AudioFormat::Mp3,
            "opus" => AudioFormat::Opus,
            "aac" => AudioFormat::Aac,
            "flac" => AudioFormat::Flac,
            "wav" => AudioFormat::Wav,
            "pcm" => AudioFormat::Pcm,
            _ => return None,
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::Opus => "audio/opus",
            AudioFormat::Aac => "audio/aac",
            AudioFormat::Flac => "audio/flac",
            AudioFormat::Wav => "audio/wav",
            AudioFormat::Pcm => "audio/pcm",
        }
    }

    /// `pcm` (16-bit little-endian mono at `rate` Hz) in this format.
    pub fn encode(self, pcm: &[u8], rate: u32) -> Vec<u8> {
        let samples = pcm.len() / 2;
        match self {
            AudioFormat::Pcm => pcm.to_vec(),
            AudioFormat::Wav => wav(pcm, rate),
            AudioFormat::Flac => flac::encode(pcm, rate),
            AudioFormat::Mp3 => {
                let at_24k = samples as u64 * u64::from(mpeg::RATE) / u64::from(rate.max(1));
                mpeg::silence(usize::try_from(at_24k).unwrap_or(usize::MAX))
            }
            AudioFormat::Aac => adts::silence(samples, rate),
            AudioFormat::Opus => ogg::opus_silence(samples, rate),
        }
    }
}

fn wav(pcm: &[u8], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::with_capacity(44 + pcm.len()));
    let written = hound::WavWriter::new(&mut out, spec).and_then(|mut writer| {
        for sample in pcm.chunks_exact(2) {
            writer.write_sample(i16::from_le_bytes([sample[0], sample[1]]))?;
        }
        writer.finalize()
    });
    if let Err(e) = written {
        // Writing to memory does not fail; an empty answer says it did.
        tracing::warn!(error = %e, "WAV writing failed");
        return Vec::new();
    }
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Encoding;

    #[test]
    fn names_and_content_types() {
        assert_eq!(AudioFormat::named(None), Some(AudioFormat::Mp3));
        assert_eq!(AudioFormat::named(Some("flac")), Some(AudioFormat::Flac));
        assert_eq!(AudioFormat::named(Some("ogg")), None);
        assert_eq!(AudioFormat::Opus.content_type(), "audio/opus");
        assert_eq!(AudioFormat::Wav.content_type(), "audio/wav");
    }

    #[test]
    fn wav_is_a_riff_file_of_the_samples() {
        let pcm = Encoding::Pcm16 { rate: 24000 }.speak("hi");
        let wav = AudioFormat::Wav.encode(&pcm, 24000);
        assert_eq!((&wav[..4], &wav[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));
        assert_eq!(&wav[44..], pcm);
        let reader = hound::WavReader::new(Cursor::new(&wav)).unwrap();
        assert_eq!(reader.spec().sample_rate, 24000);
        assert_eq!(reader.duration() as usize, pcm.len() / 2);
    }

    #[test]
    fn every_format_lasts_as_long_as_the_speech() {
        let pcm = Encoding::Pcm16 { rate: 24000 }.speak("a whole second!!!!!!");
        assert_eq!(pcm.len(), 48000);
        assert_eq!(AudioFormat::Pcm.encode(&pcm, 24000), pcm);
        assert_eq!(
            mpeg::duration_ms(&AudioFormat::Mp3.encode(&pcm, 24000)),
            Some(1008)
        );
        assert_eq!(
            ogg::duration_ms(&AudioFormat::Opus.encode(&pcm, 24000)),
            Some(1000)
        );
        let aac = AudioFormat::Aac.encode(&pcm, 24000);
        assert_eq!(aac.len() / 11, 24000_usize.div_ceil(1024));
        let flac = flac::read(&AudioFormat::Flac.encode(&pcm, 24000)).unwrap();
        assert_eq!(flac.pcm.as_deref(), Some(&pcm[..]));
    }
}
