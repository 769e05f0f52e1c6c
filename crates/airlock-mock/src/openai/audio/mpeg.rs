//! MPEG audio (MP3): streams of silent frames as long as the speech they
//! stand for, and the length of any MPEG audio file, found by walking its
//! frame headers.
//!
//! The silence is MPEG-2 Layer III at 24 kHz (the rate of the simulator's
//! voice; MPEG-1 has no 24 kHz), 32 kbit/s mono: 96-byte frames of 576
//! samples whose side information is all zero, so every granule holds no
//! data and decodes to silence.

/// Samples per MPEG-2 Layer III frame.
pub const FRAME_SAMPLES: usize = 576;
/// The rate the silence is written at.
pub const RATE: u32 = 24000;
/// 72 × 32 kbit/s ÷ 24 kHz.
const FRAME_BYTES: usize = 96;
/// Sync, MPEG-2, Layer III, no CRC; 32 kbit/s, 24 kHz, no padding; mono,
/// original.
const HEADER: [u8; 4] = [0xFF, 0xF3, 0x44, 0xC4];

/// Silent frames covering `samples` samples at 24 kHz (none for none).
pub fn silence(samples: usize) -> Vec<u8> {
    let frames = samples.div_ceil(FRAME_SAMPLES);
    let mut out = vec![0; frames * FRAME_BYTES];
    for frame in out.chunks_exact_mut(FRAME_BYTES) {
        frame[..4].copy_from_slice(&HEADER);
    }
    out
}

/// Kilobits per second by bitrate index (1..=14), for MPEG-1 Layers I, II,
/// III and MPEG-2/2.5 Layer I, and Layers II and III.
const BITRATES: [[u32; 14]; 5] = [
    [
        32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ],
    [
        32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ],
    [
        32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ],
    [
        32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ],
    [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];

/// One frame header: its length in bytes, its samples and its rate.
fn frame(header: &[u8]) -> Option<(usize, u32, u32)> {
    let [0xFF, b1, b2, _, ..] = *header else {
        return None;
    };
    if b1 & 0xE0 != 0xE0 {
        return None;
    }
    // Version: 0 MPEG-2.5, 2 MPEG-2, 3 MPEG-1; layer: 1 III, 2 II, 3 I.
    let (version, layer) = ((b1 >> 3) & 0x3, (b1 >> 1) & 0x3);
    let (bitrate_index, rate_index) = (usize::from(b2 >> 4), usize::from((b2 >> 2) & 0x3));
    if version == 1 || layer == 0 || !(1..=14).contains(&bitrate_index) || rate_index == 3 {
        return None;
    }
    let padding = u32::from((b2 >> 1) & 1);
    let mpeg1 = version == 3;
    let table = match (mpeg1, layer) {
        (true, 3) => 0,
        (true, 2) => 1,
        (true, _) => 2,
        (false, 3) => 3,
        (false, _) => 4,
    };
    let bitrate = BITRATES[table][bitrate_index - 1] * 1000;
    let rate = [44100, 48000, 32000][rate_index] >> (3 - u32::from(version)).min(2);
    let (samples, bytes) = match layer {
        3 => (384, (12 * bitrate / rate + padding) * 4),
        2 => (1152, 144 * bitrate / rate + padding),
        _ if mpeg1 => (1152, 144 * bitrate / rate + padding),
        _ => (576, 72 * bitrate / rate + padding),
    };
    Some((usize::try_from(bytes).ok()?, samples, rate))
}

/// The length in milliseconds of an MPEG audio file (after an ID3v2 tag, if
/// any): its frames, up to the first bytes that are not one (a trailing
/// tag). `None` when it does not start with a frame.
pub fn duration_ms(bytes: &[u8]) -> Option<u64> {
    let mut at = match bytes {
        [b'I', b'D', b'3', _, _, flags, a, b, c, d, ..] => {
            // A syncsafe size: 7 bits a byte; a footer adds 10 bytes.
            let size = [a, b, c, d]
                .iter()
                .fold(0usize, |n, byte| n << 7 | usize::from(**byte & 0x7F));
            10 + size + if flags & 0x10 != 0 { 10 } else { 0 }
        }
        _ => 0,
    };
    let mut micros: u64 = 0;
    let mut frames = 0;
    while let Some((length, samples, rate)) = bytes.get(at..).and_then(frame) {
        if length < 4 {
            break;
        }
        micros += u64::from(samples) * 1_000_000 / u64::from(rate);
        frames += 1;
        at += length;
    }
    (frames > 0).then_some(micros / 1000)
}

#[cfg(test)]
mod tests {
    use super::super::decoding::decode;
    use super::*;

    #[test]
    fn silence_has_the_length_of_the_speech() {
        let mp3 = silence(24000);
        assert_eq!(mp3.len(), 42 * FRAME_BYTES, "ceil(24000 / 576) frames");
        assert_eq!(duration_ms(&mp3), Some(1008));
        assert!(silence(0).is_empty());
        assert_eq!(duration_ms(b"hello"), None);
    }

    #[test]
    fn a_decoder_reads_the_silence() {
        let decoded = decode::<f32>(&silence(5000), "mp3");
        assert_eq!(decoded.rate, RATE);
        assert_eq!(decoded.frames, [FRAME_SAMPLES; 9]);
    }

    #[test]
    fn other_mpeg_files_are_measured() {
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417 or 418 bytes, 1152 samples.
        let mut mp3 = b"ID3\x03\x00\x00\x00\x00\x00\x02xx".to_vec();
        for padded in [false, true] {
            let mut f = vec![0; 417 + usize::from(padded)];
            f[..4].copy_from_slice(&[0xFF, 0xFB, 0x90 | (u8::from(padded) << 1), 0x64]);
            mp3.extend_from_slice(&f);
        }
        mp3.extend_from_slice(b"TAG trailing");
        assert_eq!(duration_ms(&mp3), Some(52), "2 × 1152 / 44.1 kHz");
    }
}
