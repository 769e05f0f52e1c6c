//! Audio bytes without a codec: 16-bit PCM wrapped as WAV or FLAC, the PCM
//! format a MIME type names, and how long a recording lasts. (What a file's
//! first bytes show it to be is [`crate::media`]'s.)
//!
//! * [`wav`]: a RIFF/WAVE file (one `fmt ` chunk for 16-bit integer PCM,
//!   one `data` chunk).
//! * [`flac`]: a FLAC stream whose frames hold VERBATIM subframes (the
//!   samples as they are, big-endian): valid FLAC any decoder reads, no
//!   smaller than the PCM, and no encoder needed. Frames of 4096 samples,
//!   `STREAMINFO` with the total sample count and no MD5 (all zeros, which
//!   the format defines as "not computed").
//! * [`audio_duration_seconds`]: from a WAV's `fmt `/`data` chunks, a
//!   FLAC's `STREAMINFO`, or raw PCM's length and rate.
//!
//! PCM here is always signed 16-bit little-endian, interleaved, as Gemini
//! answers speech (`audio/L16;codec=pcm;rate=24000`: despite the RFC 2586
//! name, Google's bytes are little-endian, as its own samples write them
//! straight into WAV files) and as OpenAI's `pcm` format is.

use crc::{CRC_8_SMBUS, CRC_16_UMTS, Crc};

/// Bytes per sample: 16-bit PCM.
const SAMPLE_BYTES: usize = 2;
/// Samples (per channel) in each FLAC frame but the last.
const FLAC_BLOCK: usize = 4096;
/// FLAC's frame header checksum: CRC-8, polynomial x⁸+x²+x+1, initial 0.
const FLAC_CRC8: Crc<u8> = Crc::<u8>::new(&CRC_8_SMBUS);
/// FLAC's frame checksum: CRC-16, polynomial x¹⁶+x¹⁵+x²+1, initial 0.
const FLAC_CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_UMTS);

/// Interleaved signed 16-bit little-endian PCM: its sample rate and
/// channels, within what WAV and FLAC can both carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmFormat {
    rate: u32,
    channels: u16,
}

impl PcmFormat {
    /// Gemini's speech and OpenAI's `pcm`: 24 kHz mono.
    pub const SPEECH: PcmFormat = PcmFormat {
        rate: 24_000,
        channels: 1,
    };

    /// `None` unless 1 ≤ `rate` ≤ 655,350 Hz (FLAC's limit) and 1 ≤
    /// `channels` ≤ 8.
    pub fn new(rate: u32, channels: u16) -> Option<PcmFormat> {
        ((1..=655_350).contains(&rate) && (1..=8).contains(&channels))
            .then_some(PcmFormat { rate, channels })
    }

    pub fn rate(self) -> u32 {
        self.rate
    }

    pub fn channels(self) -> u16 {
        self.channels
    }

    /// Bytes of one sample of every channel.
    fn frame_bytes(self) -> usize {
        SAMPLE_BYTES * usize::from(self.channels)
    }

    /// `pcm` cut to whole sample frames.
    fn whole(self, pcm: &[u8]) -> &[u8] {
        &pcm[..pcm.len() - pcm.len() % self.frame_bytes()]
    }
}

/// The PCM format of a raw-PCM MIME type: `audio/L16` or `audio/pcm`, with
/// a `rate` parameter (required) and `channels` (1 when absent), any case
/// and spacing (`audio/L16;codec=pcm;rate=24000`). `None` for anything
/// else.
pub fn pcm_format(mime: &str) -> Option<PcmFormat> {
    let mut parts = mime.split(';');
    let essence = parts.next()?.trim();
    if !essence.eq_ignore_ascii_case("audio/l16") && !essence.eq_ignore_ascii_case("audio/pcm") {
        return None;
    }
    let (mut rate, mut channels) = (None, 1);
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "rate" => rate = Some(value.parse().ok()?),
            "channels" => channels = value.parse().ok()?,
            _ => {}
        }
    }
    PcmFormat::new(rate?, channels)
}

/// `pcm` as a WAV file (a trailing partial sample frame is left out).
pub fn wav(pcm: &[u8], format: PcmFormat) -> Vec<u8> {
    let data = format.whole(pcm);
    // Sizes past 4 GiB cannot be written; 2 hours of 24 kHz speech is 345 MB.
    let data_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let block_align = SAMPLE_BYTES as u16 * format.channels;
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // integer PCM
    out.extend_from_slice(&format.channels.to_le_bytes());
    out.extend_from_slice(&format.rate.to_le_bytes());
    out.extend_from_slice(&(format.rate * u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// `pcm` as a FLAC stream of VERBATIM subframes (a trailing partial sample
/// frame is left out).
pub fn flac(pcm: &[u8], format: PcmFormat) -> Vec<u8> {
    let data = format.whole(pcm);
    let frame_bytes = format.frame_bytes();
    let total_samples = (data.len() / frame_bytes) as u64;
    let mut out = Vec::with_capacity(42 + data.len() + data.len() / FLAC_BLOCK * 16 + 16);
    out.extend_from_slice(b"fLaC");
    // The one metadata block: last-block flag, type 0 (STREAMINFO), 34 bytes.
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    let block = FLAC_BLOCK as u16;
    out.extend_from_slice(&block.to_be_bytes()); // minimum block size
    out.extend_from_slice(&block.to_be_bytes()); // maximum block size
    out.extend_from_slice(&[0; 6]); // minimum and maximum frame size: unknown
    let packed = (u64::from(format.rate) << 44)
        | (u64::from(format.channels - 1) << 41)
        | (15 << 36) // bits per sample − 1
        | (total_samples & 0xF_FFFF_FFFF);
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]); // MD5 of the samples: not computed
    for (number, block) in data.chunks(FLAC_BLOCK * frame_bytes).enumerate() {
        flac_frame(&mut out, number as u64, block, format);
    }
    out
}

/// One frame: header (fixed block size strategy, frame number), one
/// VERBATIM subframe per channel, CRC-16.
fn flac_frame(out: &mut Vec<u8>, number: u64, block: &[u8], format: PcmFormat) {
    let start = out.len();
    let samples = block.len() / format.frame_bytes();
    let size_code: u8 = if samples == FLAC_BLOCK {
        0b1100
    } else {
        0b0111
    };
    out.extend_from_slice(&[0xFF, 0xF8, size_code << 4 | flac_rate_code(format.rate)]);
    // Channels independent, 16 bits per sample, reserved bit 0.
    out.push(((format.channels - 1) as u8) << 4 | 0b100 << 1);
    flac_coded_number(out, number);
    if size_code == 0b0111 {
        // `samples` < 4096 here, so `samples - 1` fits 16 bits.
        out.extend_from_slice(&((samples - 1) as u16).to_be_bytes());
    }
    let header_crc = FLAC_CRC8.checksum(&out[start..]);
    out.push(header_crc);
    for channel in 0..usize::from(format.channels) {
        out.push(0b0000_0010); // padding bit, VERBATIM, no wasted bits
        for frame in block.chunks_exact(format.frame_bytes()) {
            let at = channel * SAMPLE_BYTES;
            out.extend_from_slice(&[frame[at + 1], frame[at]]);
        }
    }
    let crc = FLAC_CRC16.checksum(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// The frame header's sample-rate code: the rates FLAC names, else "read it
/// from STREAMINFO".
fn flac_rate_code(rate: u32) -> u8 {
    match rate {
        88_200 => 0b0001,
        176_400 => 0b0010,
        192_000 => 0b0011,
        8_000 => 0b0100,
        16_000 => 0b0101,
        22_050 => 0b0110,
        24_000 => 0b0111,
        32_000 => 0b1000,
        44_100 => 0b1001,
        48_000 => 0b1010,
        96_000 => 0b1011,
        _ => 0b0000,
    }
}

/// A frame number in FLAC's UTF-8-like coding (up to 36 bits).
fn flac_coded_number(out: &mut Vec<u8>, number: u64) {
    if number < 0x80 {
        out.push(number as u8);
        return;
    }
    // Continuation bytes carry 6 bits each; the lead byte what remains.
    let continuation = match number {
        ..0x800 => 1,
        0x800..0x1_0000 => 2,
        0x1_0000..0x20_0000 => 3,
        0x20_0000..0x400_0000 => 4,
        0x400_0000..0x8000_0000 => 5,
        _ => 6,
    };
    let lead_marker = !(0xFFu8 >> (continuation + 1));
    out.push(lead_marker | (number >> (6 * continuation)) as u8);
    for i in (0..continuation).rev() {
        out.push(0x80 | ((number >> (6 * i)) & 0x3F) as u8);
    }
}

/// How long the recording in `bytes` lasts, when `mime` (parameters
/// allowed) is WAV, FLAC or raw PCM ([`pcm_format`]) and its header says.
pub fn audio_duration_seconds(bytes: &[u8], mime: &str) -> Option<f64> {
    if let Some(format) = pcm_format(mime) {
        let frames = bytes.len() / format.frame_bytes();
        return Some(frames as f64 / f64::from(format.rate));
    }
    let essence = mime.split(';').next().unwrap_or_default().trim();
    match essence.to_ascii_lowercase().as_str() {
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => wav_duration(bytes),
        "audio/flac" | "audio/x-flac" => flac_duration(bytes),
        _ => None,
    }
}

/// `data` bytes over the `fmt ` chunk's byte rate. A `data` size larger
/// than what follows (a streamed WAV's placeholder) counts what is there.
fn wav_duration(bytes: &[u8]) -> Option<f64> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let mut at = 12;
    let mut byte_rate = None;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(at + 4)) {
        let body = at + 8;
        match id {
            b"fmt " => byte_rate = u32_at(body + 8).filter(|rate| *rate > 0),
            b"data" => {
                let size = (size as usize).min(bytes.len() - body);
                return Some(size as f64 / f64::from(byte_rate?));
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        at = body
            .checked_add(size as usize)?
            .checked_add(size as usize % 2)?;
    }
    None
}

/// `STREAMINFO`'s total samples over its sample rate (`None` when the
/// total is unknown, 0).
fn flac_duration(bytes: &[u8]) -> Option<f64> {
    if bytes.get(0..4)? != b"fLaC" || bytes.get(4)? & 0x7F != 0 {
        return None;
    }
    let packed = u64::from_be_bytes(bytes.get(18..26)?.try_into().ok()?);
    let rate = (packed >> 44) as u32;
    let total = packed & 0xF_FFFF_FFFF;
    (rate > 0 && total > 0).then(|| total as f64 / f64::from(rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;

    /// What symphonia (an independent decoder) reads from a file: rate,
    /// channels, and the samples interleaved.
    fn decode(file: Vec<u8>, extension: &str) -> (u32, usize, Vec<i16>) {
        let stream = MediaSourceStream::new(Box::new(Cursor::new(file)), Default::default());
        let mut hint = Hint::new();
        hint.with_extension(extension);
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                stream,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
            .expect("a container symphonia recognises");
        let mut reader = probed.format;
        let track = reader.default_track().expect("one track").clone();
        let mut decoder = symphonia::default::get_codecs()
            .make(&track.codec_params, &DecoderOptions { verify: true })
            .expect("a decoder for the codec");
        let rate = track.codec_params.sample_rate.expect("a sample rate");
        let channels = track.codec_params.channels.expect("channels").count();
        let mut samples = Vec::new();
        while let Ok(packet) = reader.next_packet() {
            let decoded = decoder.decode(&packet).expect("a frame that decodes");
            let mut buffer = SampleBuffer::<i16>::new(decoded.capacity() as u64, *decoded.spec());
            buffer.copy_interleaved_ref(decoded);
            samples.extend_from_slice(buffer.samples());
        }
        (rate, channels, samples)
    }

    /// A deterministic signal covering the whole i16 range.
    fn signal(samples: usize) -> Vec<i16> {
        (0..samples)
            .map(|i| ((i as i64 * 7919) % 65_536 - 32_768) as i16)
            .collect()
    }

    fn le_bytes(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn wav_round_trips_through_a_decoder() {
        let samples = signal(24_000 + 7);
        let (rate, channels, decoded) = decode(wav(&le_bytes(&samples), PcmFormat::SPEECH), "wav");
        assert_eq!((rate, channels), (24_000, 1));
        assert_eq!(decoded, samples);
    }

    #[test]
    fn wav_header_fields() {
        let file = wav(
            &[1, 0, 2, 0, 3, 0, 4, 0],
            PcmFormat::new(16_000, 2).unwrap(),
        );
        assert_eq!(&file[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(file[4..8].try_into().unwrap()), 36 + 8);
        assert_eq!(&file[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([file[22], file[23]]), 2, "channels");
        assert_eq!(u32::from_le_bytes(file[24..28].try_into().unwrap()), 16_000);
        assert_eq!(
            u32::from_le_bytes(file[28..32].try_into().unwrap()),
            64_000,
            "byte rate"
        );
        assert_eq!(u16::from_le_bytes([file[32], file[33]]), 4, "block align");
        assert_eq!(&file[36..40], b"data");
        assert_eq!(u32::from_le_bytes(file[40..44].try_into().unwrap()), 8);
        assert_eq!(file.len(), 52);
    }

    #[test]
    fn flac_round_trips_through_a_decoder_over_several_frames() {
        // Three whole frames and a short last one.
        let samples = signal(3 * FLAC_BLOCK + 1000);
        let (rate, channels, decoded) =
            decode(flac(&le_bytes(&samples), PcmFormat::SPEECH), "flac");
        assert_eq!((rate, channels), (24_000, 1));
        assert_eq!(decoded, samples);
    }

    #[test]
    fn flac_stereo_at_a_rate_without_a_frame_code_round_trips() {
        // 11,025 Hz is read from STREAMINFO; channels are interleaved in PCM
        // and one subframe each in FLAC.
        let samples = signal(2 * (FLAC_BLOCK + 5));
        let format = PcmFormat::new(11_025, 2).unwrap();
        let (rate, channels, decoded) = decode(flac(&le_bytes(&samples), format), "flac");
        assert_eq!((rate, channels), (11_025, 2));
        assert_eq!(decoded, samples);
    }

    #[test]
    fn flac_of_one_sample_and_of_nothing_are_valid() {
        let (_, _, decoded) = decode(flac(&le_bytes(&[-5]), PcmFormat::SPEECH), "flac");
        assert_eq!(decoded, vec![-5]);
        let empty = flac(&[], PcmFormat::SPEECH);
        assert_eq!(empty.len(), 42, "marker, block header and STREAMINFO only");
        assert_eq!(audio_duration_seconds(&empty, "audio/flac"), None);
    }

    #[test]
    fn flac_streaminfo_fields() {
        let file = flac(&le_bytes(&signal(48_000)), PcmFormat::SPEECH);
        assert_eq!(&file[0..8], b"fLaC\x80\x00\x00\x22");
        assert_eq!(u16::from_be_bytes([file[8], file[9]]), 4096);
        assert_eq!(u16::from_be_bytes([file[10], file[11]]), 4096);
        assert_eq!(audio_duration_seconds(&file, "audio/flac"), Some(2.0));
        // The first frame: sync code, 4096-sample block, 24 kHz code.
        assert_eq!(&file[42..45], &[0xFF, 0xF8, 0xC7]);
    }

    #[test]
    fn flac_frame_numbers_use_the_utf8_like_coding() {
        let coded = |n| {
            let mut out = Vec::new();
            flac_coded_number(&mut out, n);
            out
        };
        assert_eq!(coded(0), [0x00]);
        assert_eq!(coded(0x7F), [0x7F]);
        assert_eq!(coded(0x80), [0xC2, 0x80]);
        assert_eq!(coded(0x7FF), [0xDF, 0xBF]);
        assert_eq!(coded(0x800), [0xE0, 0xA0, 0x80]);
        assert_eq!(coded(0x1_0000), [0xF0, 0x90, 0x80, 0x80]);
        assert_eq!(coded(0x7FFF_FFFF), [0xFD, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF]);
        assert_eq!(
            coded(0x8000_0000),
            [0xFE, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80]
        );
    }

    #[test]
    fn flac_checksums_are_flacs() {
        // Check values of the catalogued CRCs FLAC specifies.
        assert_eq!(FLAC_CRC8.checksum(b"123456789"), 0xF4);
        assert_eq!(FLAC_CRC16.checksum(b"123456789"), 0xFEE8);
    }

    #[test]
    fn a_partial_sample_frame_is_left_out() {
        let file = wav(&[1, 0, 2], PcmFormat::SPEECH);
        assert_eq!(&file[40..], &[2, 0, 0, 0, 1, 0]);
        let (_, _, decoded) = decode(flac(&[1, 0, 2, 0, 3], PcmFormat::SPEECH), "flac");
        assert_eq!(decoded, vec![1, 2]);
    }

    #[test]
    fn pcm_formats_from_mime_types() {
        let speech = Some(PcmFormat::SPEECH);
        assert_eq!(pcm_format("audio/L16;codec=pcm;rate=24000"), speech);
        assert_eq!(pcm_format("audio/pcm; rate=24000"), speech);
        assert_eq!(pcm_format("AUDIO/L16; Rate=\"24000\""), speech);
        assert_eq!(
            pcm_format("audio/L16;rate=16000;channels=2"),
            PcmFormat::new(16_000, 2)
        );
        assert_eq!(pcm_format("audio/L16;codec=pcm"), None, "no rate");
        assert_eq!(pcm_format("audio/L16;rate=fast"), None);
        assert_eq!(pcm_format("audio/L16;rate=0"), None);
        assert_eq!(pcm_format("audio/L16;rate=24000;channels=9"), None);
        assert_eq!(pcm_format("audio/wav;rate=24000"), None);
    }

    #[test]
    fn durations_of_wav_flac_and_pcm() {
        let second = le_bytes(&signal(24_000));
        let file = wav(&second, PcmFormat::SPEECH);
        assert_eq!(audio_duration_seconds(&file, "audio/wav"), Some(1.0));
        assert_eq!(audio_duration_seconds(&file, "audio/x-wav"), Some(1.0));
        let stereo = wav(&second, PcmFormat::new(8_000, 2).unwrap());
        assert_eq!(audio_duration_seconds(&stereo, "audio/wav"), Some(1.5));
        assert_eq!(
            audio_duration_seconds(&flac(&second, PcmFormat::SPEECH), "audio/flac"),
            Some(1.0)
        );
        assert_eq!(
            audio_duration_seconds(&second, "audio/L16;codec=pcm;rate=24000"),
            Some(1.0)
        );
        assert_eq!(
            audio_duration_seconds(&second, "audio/pcm;rate=16000"),
            Some(1.5)
        );
        assert_eq!(audio_duration_seconds(&second, "audio/mp3"), None);
    }

    #[test]
    fn wav_duration_skips_other_chunks_and_tolerates_a_streamed_size() {
        let mut file = wav(&le_bytes(&signal(12_000)), PcmFormat::SPEECH);
        // A LIST chunk of odd size (padded) between fmt and data.
        let list = [b"LIST".as_slice(), &3u32.to_le_bytes(), b"abc\0"].concat();
        file.splice(36..36, list);
        assert_eq!(audio_duration_seconds(&file, "audio/wav"), Some(0.5));
        // A streamed WAV's data size is a placeholder.
        let size_at = file.windows(4).position(|w| w == b"data").unwrap() + 4;
        file[size_at..size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(audio_duration_seconds(&file, "audio/wav"), Some(0.5));
    }

    #[test]
    fn broken_headers_have_no_duration() {
        for bytes in [
            b"".as_slice(),
            b"RIFF",
            b"RIFF\0\0\0\0WAVE",
            b"RIFF\0\0\0\0WAVEdata\x04\0\0\0abcd",
            b"RIFF\0\0\0\0WAVEfmt \xff\xff\xff\xff",
            b"fLaC\x80\0\0\x22",
        ] {
            assert_eq!(
                audio_duration_seconds(bytes, "audio/wav"),
                None,
                "{bytes:?}"
            );
            assert_eq!(
                audio_duration_seconds(bytes, "audio/flac"),
                None,
                "{bytes:?}"
            );
        }
    }
}
