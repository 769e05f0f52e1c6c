//! AAC in ADTS frames: streams of silent AAC-LC frames as long as the
//! speech they stand for.
//!
//! Each frame is a 7-byte ADTS header (MPEG-4, AAC-LC, mono, no CRC) and
//! one raw data block of 1024 samples: a single channel element whose
//! channel stream codes no scale-factor band (`max_sfb` 0, so every
//! spectral line is zero), then the END element.

/// Samples per AAC frame.
pub const FRAME_SAMPLES: usize = 1024;

/// The raw data block: SCE tag 0, global gain 0, long window, `max_sfb` 0,
/// no pulse, TNS or gain control data, END (`111`), byte-aligned.
const SILENT_BLOCK: [u8; 4] = [0x00, 0x00, 0x00, 0x07];
const HEADER_BYTES: usize = 7;

/// The ADTS sampling frequency index of a rate (24 kHz when unlisted).
fn rate_index(rate: u32) -> u64 {
    const RATES: [u32; 12] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000,
    ];
    RATES.iter().position(|r| *r == rate).unwrap_or(6) as u64
}

/// Silent frames covering `samples` samples at `rate` Hz (none for none).
pub fn silence(samples: usize, rate: u32) -> Vec<u8> {
    let length = (HEADER_BYTES + SILENT_BLOCK.len()) as u64;
    let header: u64 = 0xFFF << 44 // syncword
        | 1 << 40 // MPEG-4, layer 0, no CRC
        | 1 << 38 // profile: AAC LC (object type 2, less one)
        | rate_index(rate) << 34
        | 1 << 30 // channel configuration: mono
        | length << 13
        | 0x7FF << 2; // buffer fullness: variable bit rate
    let header = &header.to_be_bytes()[1..];
    let frames = samples.div_ceil(FRAME_SAMPLES);
    let mut out = Vec::with_capacity(frames * (HEADER_BYTES + SILENT_BLOCK.len()));
    for _ in 0..frames {
        out.extend_from_slice(header);
        out.extend_from_slice(&SILENT_BLOCK);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::decoding::decode;
    use super::*;

    #[test]
    fn headers_are_adts() {
        let aac = silence(2048, 24000);
        assert_eq!(aac.len(), 22);
        // Sync, MPEG-4, no CRC; LC, 24 kHz (6), mono; frame length 11.
        assert_eq!(&aac[..7], [0xFF, 0xF1, 0x58, 0x40, 0x01, 0x7F, 0xFC]);
        assert_eq!(aac[..11], aac[11..]);
        assert!(silence(0, 24000).is_empty());
        assert_eq!(silence(1, 24000).len(), 11);
    }

    #[test]
    fn a_decoder_reads_silence() {
        let samples = decode::<f32>(&silence(10 * 1024, 24000), "aac").samples;
        assert!(samples.iter().all(|s| *s == 0.0));
        assert_eq!(samples.len(), 10 * 1024);
    }
}
