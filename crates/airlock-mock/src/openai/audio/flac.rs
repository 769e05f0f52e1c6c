//! FLAC streams of 16-bit mono audio, written with VERBATIM subframes (the
//! samples as they are: valid FLAC that needs no predictor), and read
//! back: any FLAC file's length from its STREAMINFO, and the samples of one
//! written this way.
//!
//! A stream is `fLaC`, one STREAMINFO block (MD5 left unset, as the format
//! allows), and frames of [`BLOCK`] samples (the last one shorter), each
//! with its CRC-8 header and CRC-16 frame checksums.

use crc::{CRC_8_SMBUS, CRC_16_UMTS, Crc};

/// Samples per frame.
pub const BLOCK: usize = 4096;
/// The block size code of a [`BLOCK`]-sample frame.
const BLOCK_CODE: u8 = 0b1100;
/// The block size code for "16-bit size minus one after the header".
const SIZE_AFTER_HEADER: u8 = 0b0111;
/// The subframe header of an unshifted VERBATIM subframe.
const VERBATIM: u8 = 0b0000_0010;

const CRC8: Crc<u8> = Crc::<u8>::new(&CRC_8_SMBUS);
const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_UMTS);

/// The frame header's code for a sample rate (0: "see STREAMINFO").
fn rate_code(rate: u32) -> u8 {
    match rate {
        8000 => 0b0100,
        16000 => 0b0101,
        22050 => 0b0110,
        24000 => 0b0111,
        32000 => 0b1000,
        44100 => 0b1001,
        48000 => 0b1010,
        _ => 0,
    }
}

/// A frame number as FLAC codes it (UTF-8's scheme, extended to 36 bits).
fn coded_number(n: u64, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    // Continuation bytes after the lead byte, for the bits n needs.
    let extra = match n {
        0x80..0x800 => 1,
        0x800..0x1_0000 => 2,
        0x1_0000..0x20_0000 => 3,
        0x20_0000..0x400_0000 => 4,
        0x400_0000..0x8000_0000 => 5,
        _ => 6,
    };
    let lead_marker = !(0xFFu8 >> (extra + 1));
    out.push(lead_marker | (n >> (6 * extra)) as u8);
    for i in (0..extra).rev() {
        out.push(0x80 | ((n >> (6 * i)) & 0x3F) as u8);
    }
}

/// A FLAC stream of `pcm` (16-bit little-endian mono) at `rate` Hz.
pub fn encode(pcm: &[u8], rate: u32) -> Vec<u8> {
    let samples: Vec<i16> = pcm
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mut out = Vec::with_capacity(42 + samples.len() * 2 + samples.len() / BLOCK * 16);
    out.extend_from_slice(b"fLaC");
    // The last (and only) metadata block: STREAMINFO, 34 bytes.
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    let block = u16::try_from(BLOCK).unwrap_or(u16::MAX);
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&[0; 6]); // frame sizes unknown
    let packed = (u64::from(rate & 0xF_FFFF) << 44)
        | (15 << 36) // 16 bits per sample, less one; one channel (0)
        | (samples.len() as u64 & 0xF_FFFF_FFFF);
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]); // MD5 unset
    for (number, frame) in samples.chunks(BLOCK).enumerate() {
        let start = out.len();
        let code = if frame.len() == BLOCK {
            BLOCK_CODE
        } else {
            SIZE_AFTER_HEADER
        };
        out.extend_from_slice(&[0xFF, 0xF8, (code << 4) | rate_code(rate), 0b0000_1000]);
        coded_number(number as u64, &mut out);
        if code == SIZE_AFTER_HEADER {
            let size = u16::try_from(frame.len() - 1).unwrap_or(u16::MAX);
            out.extend_from_slice(&size.to_be_bytes());
        }
        out.push(CRC8.checksum(&out[start..]));
        out.push(VERBATIM);
        for sample in frame {
            out.extend_from_slice(&sample.to_be_bytes());
        }
        let crc = CRC16.checksum(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

/// What a FLAC file is: its rate, its length and, when it is 16-bit mono
/// audio written in VERBATIM frames (as [`encode`] writes), its samples
/// as 16-bit little-endian PCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flac {
    pub rate: u32,
    /// Samples per channel; 0 when STREAMINFO does not say.
    pub samples: u64,
    pub pcm: Option<Vec<u8>>,
}

/// Reads a FLAC file; `None` when it does not start with a STREAMINFO.
pub fn read(bytes: &[u8]) -> Option<Flac> {
    let rest = bytes.strip_prefix(b"fLaC")?;
    // STREAMINFO comes first; other metadata blocks may follow it.
    let info = rest.get(4..38).filter(|_| rest[0] & 0x7F == 0)?;
    let packed = u64::from_be_bytes(info[10..18].try_into().ok()?);
    let rate = u32::try_from(packed >> 44).ok()?;
    let channels = ((packed >> 41) & 0x7) + 1;
    let bits = ((packed >> 36) & 0x1F) + 1;
    let samples = packed & 0xF_FFFF_FFFF;
    let mut at = 0;
    loop {
        let header = rest.get(at..at + 4)?;
        let length =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        at += 4 + length;
        if header[0] & 0x80 != 0 {
            break;
        }
    }
    let pcm = (channels == 1 && bits == 16)
        .then(|| verbatim_frames(rest.get(at..)?, rate))
        .flatten()
        .filter(|pcm| samples == 0 || pcm.len() as u64 == samples * 2);
    Some(Flac { rate, samples, pcm })
}

/// The samples of frames that are all unshifted VERBATIM 16-bit mono.
fn verbatim_frames(mut frames: &[u8], rate: u32) -> Option<Vec<u8>> {
    let mut pcm = Vec::new();
    while !frames.is_empty() {
        let [0xFF, 0xF8, sizes, 0b0000_1000, ..] = *frames else {
            return None;
        };
        let (code, rate_bits) = (sizes >> 4, sizes & 0x0F);
        if rate_bits != 0 && rate_bits != rate_code(rate) {
            return None;
        }
        // The coded frame number: its lead byte says how many bytes follow.
        let lead = *frames.get(4)?;
        let number_len = 1 + lead.leading_ones().saturating_sub(1) as usize;
        let mut at = 4 + number_len;
        let block = match code {
            BLOCK_CODE => BLOCK,
            SIZE_AFTER_HEADER => {
                let size = frames.get(at..at + 2)?;
                at += 2;
                usize::from(u16::from_be_bytes([size[0], size[1]])) + 1
            }
            _ => return None,
        };
        if CRC8.checksum(frames.get(..at)?) != *frames.get(at)? || *frames.get(at + 1)? != VERBATIM
        {
            return None;
        }
        let body = frames.get(at + 2..at + 2 + block * 2)?;
        let end = at + 2 + block * 2;
        let crc = frames.get(end..end + 2)?;
        if CRC16.checksum(&frames[..end]) != u16::from_be_bytes([crc[0], crc[1]]) {
            return None;
        }
        for sample in body.chunks_exact(2) {
            pcm.extend_from_slice(&[sample[1], sample[0]]);
        }
        frames = &frames[end + 2..];
    }
    Some(pcm)
}

#[cfg(test)]
mod tests {
    use super::super::decoding::decode;
    use super::*;

    fn ramp(samples: usize) -> Vec<u8> {
        (0..samples)
            .flat_map(|i| ((i as i32 * 37 % 65536 - 32768) as i16).to_le_bytes())
            .collect()
    }

    #[test]
    fn a_decoder_reads_back_every_sample() {
        let pcm = ramp(BLOCK * 2 + 123);
        let flac = encode(&pcm, 24000);
        let decoded: Vec<u8> = decode::<i16>(&flac, "flac")
            .samples
            .into_iter()
            .flat_map(i16::to_le_bytes)
            .collect();
        assert_eq!(decoded, pcm);
    }

    #[test]
    fn reads_its_own_streams_back() {
        let pcm = ramp(5000);
        let flac = read(&encode(&pcm, 24000)).unwrap();
        assert_eq!((flac.rate, flac.samples), (24000, 5000));
        assert_eq!(flac.pcm, Some(pcm));
        assert_eq!(read(b"RIFF"), None);
    }

    #[test]
    fn a_damaged_frame_leaves_only_the_length() {
        let mut flac = encode(&ramp(100), 16000);
        let last = flac.len() - 5;
        flac[last] ^= 0xFF;
        let damaged = read(&flac).unwrap();
        assert_eq!(
            (damaged.rate, damaged.samples, damaged.pcm),
            (16000, 100, None)
        );
    }

    #[test]
    fn frame_numbers_are_coded_like_utf8() {
        let coded = |n| {
            let mut out = Vec::new();
            coded_number(n, &mut out);
            out
        };
        assert_eq!(coded(5), [5]);
        assert_eq!(coded(0x7FF), "\u{7FF}".as_bytes());
        assert_eq!(coded(0xFFFF), [0xEF, 0xBF, 0xBF]);
        assert_eq!(coded(0x10_0000), "\u{100000}".as_bytes());
        assert_eq!(coded(0x7FFF_FFFF), [0xFD, 0xBF, 0xBF, 0xBF, 0xBF, 0xBF]);
    }
}
