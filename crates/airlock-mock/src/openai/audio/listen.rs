//! What the transcription endpoint hears in an uploaded file, recognised by
//! its bytes (never its name or declared type): WAV (`RIFF…WAVE`), FLAC
//! (`fLaC`), MP3/MPEG (an ID3 tag or a frame sync), MP4/M4A (`ftyp`), Ogg
//! (`OggS`) and WebM (the EBML magic) — OpenAI's flac, m4a, mp3, mp4, mpeg,
//! mpga, oga, ogg, wav and webm. Anything else is not audio.
//!
//! Its length: WAV from its header, FLAC from STREAMINFO, MPEG by walking
//! its frames, Ogg Opus or Vorbis from the last granule position, MP4 from
//! its `mvhd` box; otherwise (WebM, other Ogg or MP4 without `mvhd`) it is
//! taken to be 128 kbit/s (16,000 bytes a second). 16-bit mono WAV and FLAC
//! written as the simulator writes it are also heard sample by sample, so
//! the simulator's own voice is read back.

use super::{flac, mpeg, ogg};
use crate::audio::Recording;

/// Bytes per second assumed of audio whose length cannot be read.
const ASSUMED_BYTES_PER_SECOND: u64 = 16_000;

fn estimate(bytes: &[u8]) -> Recording {
    Recording::opaque(bytes.len() as u64 * 1000 / ASSUMED_BYTES_PER_SECOND)
}

/// The recording in an uploaded file; `None` when it is not audio in a
/// format the endpoint takes.
pub fn hear(bytes: &[u8]) -> Option<Recording> {
    let head = |at: usize, magic: &[u8]| bytes.get(at..at + magic.len()) == Some(magic);
    if head(0, b"RIFF") && head(8, b"WAVE") {
        return Some(Recording::wav(bytes).unwrap_or_else(|| estimate(bytes)));
    }
    if head(0, b"fLaC") {
        let flac = flac::read(bytes)?;
        return Some(match flac.pcm {
            Some(pcm) => Recording::pcm16(&pcm, flac.rate),
            None if flac.samples > 0 => {
                Recording::opaque(flac.samples * 1000 / u64::from(flac.rate.max(1)))
            }
            None => estimate(bytes),
        });
    }
    if head(0, b"OggS") {
        return Some(ogg::duration_ms(bytes).map_or_else(|| estimate(bytes), Recording::opaque));
    }
    if head(4, b"ftyp") {
        return Some(mp4_duration_ms(bytes).map_or_else(|| estimate(bytes), Recording::opaque));
    }
    if head(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(estimate(bytes));
    }
    mpeg::duration_ms(bytes).map(Recording::opaque)
}

/// The length an MP4 file's movie header (`mvhd`) gives.
fn mp4_duration_ms(bytes: &[u8]) -> Option<u64> {
    let at = bytes.windows(4).position(|w| w == b"mvhd")? + 4;
    let word = |from: usize| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(
            bytes.get(from..from + 4)?.try_into().ok()?,
        )))
    };
    let (timescale, duration) = match bytes.get(at)? {
        0 => (word(at + 12)?, word(at + 16)?),
        _ => (
            word(at + 20)?,
            u64::from_be_bytes(bytes.get(at + 24..at + 32)?.try_into().ok()?),
        ),
    };
    (timescale > 0).then(|| duration.saturating_mul(1000) / timescale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Encoding;
    use crate::openai::audio::formats::AudioFormat;

    const SEED: u64 = 7;

    #[test]
    fn the_simulators_voice_is_read_back_from_wav_and_flac() {
        let pcm = Encoding::Pcm16 { rate: 24000 }.speak("Hello there.");
        for format in [AudioFormat::Wav, AudioFormat::Flac] {
            let file = format.encode(&pcm, 24000);
            let heard = hear(&file).unwrap();
            assert_eq!(heard.duration_ms, 600, "{format:?}");
            assert_eq!(heard.transcript(SEED, &file), "Hello there.", "{format:?}");
        }
    }

    #[test]
    fn other_containers_are_measured() {
        let pcm = Encoding::Pcm16 { rate: 24000 }.speak(&"x".repeat(40));
        let mp3 = AudioFormat::Mp3.encode(&pcm, 24000);
        assert_eq!(hear(&mp3).unwrap().duration_ms, 2016);
        let opus = AudioFormat::Opus.encode(&pcm, 24000);
        assert_eq!(hear(&opus).unwrap().duration_ms, 2000);
        let webm = [&[0x1A, 0x45, 0xDF, 0xA3][..], &[0; 31996]].concat();
        assert_eq!(hear(&webm).unwrap().duration_ms, 2000);
        // An MP4 whose movie header says 3.5 s at a 1000 Hz timescale.
        let mut mp4 = b"\0\0\0\x18ftypM4A \0\0\0\0M4A mp42\0\0\0\x6cmoov\0\0\0\x64mvhd".to_vec();
        mp4.extend_from_slice(&[0; 12]);
        mp4.extend_from_slice(&1000u32.to_be_bytes());
        mp4.extend_from_slice(&3500u32.to_be_bytes());
        assert_eq!(hear(&mp4).unwrap().duration_ms, 3500);
    }

    #[test]
    fn what_is_not_audio_is_not_heard() {
        assert!(hear(b"just some text, not audio").is_none());
        assert!(hear(b"").is_none());
        assert!(hear(b"fLaC").is_none());
        // An AAC stream is audio, but not a format the endpoint takes.
        assert!(hear(&AudioFormat::Aac.encode(&[0; 4800], 24000)).is_none());
    }
}
