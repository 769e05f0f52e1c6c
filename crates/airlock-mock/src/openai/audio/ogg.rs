//! Ogg: Opus streams of silence as long as the speech they stand for, and
//! the length of an Ogg Opus or Vorbis file from its last page.
//!
//! A stream (RFC 7845) is an `OpusHead` page (mono, 312 samples of
//! pre-skip, the input rate), an `OpusTags` page, then pages of up to 50
//! packets of 20 ms of silence (`F8 FF FE`: one CELT frame the decoder
//! reads as silence), the last page marked end-of-stream with a granule
//! position that trims the stream to the exact length. Every page carries
//! Ogg's CRC-32.

use crc::{Algorithm, Crc};

/// Ogg's CRC-32: polynomial 0x04C11DB7, no reflection, no final XOR.
const OGG_CRC: Algorithm<u32> = Algorithm {
    width: 32,
    poly: 0x04C1_1DB7,
    init: 0,
    refin: false,
    refout: false,
    xorout: 0,
    check: 0x89A1_897F,
    residue: 0,
};
const CRC: Crc<u32> = Crc::<u32>::new(&OGG_CRC);

/// Opus counts granules at 48 kHz.
const OPUS_RATE: u64 = 48000;
/// Samples (at 48 kHz) a decoder drops at the start.
const PRE_SKIP: u16 = 312;
/// One 20 ms CELT frame of silence.
const SILENT_PACKET: [u8; 3] = [0xF8, 0xFF, 0xFE];
const PACKET_SAMPLES: u64 = 960;
const PACKETS_PER_PAGE: usize = 50;
const SERIAL: u32 = 0x4149_524C;

const BEGINNING: u8 = 0x02;
const END: u8 = 0x04;

/// One page of `packets` (each under 255 bytes).
fn page(out: &mut Vec<u8>, flags: u8, granule: u64, sequence: u32, packets: &[&[u8]]) {
    let start = out.len();
    out.extend_from_slice(b"OggS\0");
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&SERIAL.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // CRC, filled in below
    out.push(u8::try_from(packets.len()).unwrap_or(u8::MAX));
    out.extend(
        packets
            .iter()
            .map(|p| u8::try_from(p.len()).unwrap_or(u8::MAX)),
    );
    for packet in packets {
        out.extend_from_slice(packet);
    }
    let crc = CRC.checksum(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

/// An Ogg Opus stream of silence lasting `samples` samples at `rate` Hz.
pub fn opus_silence(samples: usize, rate: u32) -> Vec<u8> {
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend_from_slice(&PRE_SKIP.to_le_bytes());
    head.extend_from_slice(&rate.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]); // output gain 0, mapping family 0
    let mut tags = b"OpusTags".to_vec();
    let vendor = b"airlock-mock";
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    let mut out = Vec::new();
    page(&mut out, BEGINNING, 0, 0, &[&head]);
    page(&mut out, 0, 0, 1, &[&tags]);
    let length = samples as u64 * OPUS_RATE / u64::from(rate.max(1));
    let packets = usize::try_from(length.div_ceil(PACKET_SAMPLES))
        .unwrap_or(0)
        .max(1);
    let mut sent = 0;
    let mut sequence = 2;
    while sent < packets {
        let count = PACKETS_PER_PAGE.min(packets - sent);
        sent += count;
        let last = sent == packets;
        let granule = u64::from(PRE_SKIP)
            + if last {
                length
            } else {
                sent as u64 * PACKET_SAMPLES
            };
        let page_packets = vec![&SILENT_PACKET[..]; count];
        page(
            &mut out,
            if last { END } else { 0 },
            granule,
            sequence,
            &page_packets,
        );
        sequence += 1;
    }
    out
}

/// The length in milliseconds of an Ogg Opus or Vorbis file, from its
/// first packet (the codec's header) and the granule position of its last
/// page; `None` for other Ogg streams or what is not Ogg.
pub fn duration_ms(bytes: &[u8]) -> Option<u64> {
    if !bytes.starts_with(b"OggS") {
        return None;
    }
    let segments = usize::from(*bytes.get(26)?);
    let first = bytes.get(27 + segments..)?;
    let (rate, skip) = if first.starts_with(b"OpusHead") {
        let skip = u16::from_le_bytes(first.get(10..12)?.try_into().ok()?);
        (OPUS_RATE, u64::from(skip))
    } else if first.starts_with(b"\x01vorbis") {
        let rate = u32::from_le_bytes(first.get(12..16)?.try_into().ok()?);
        (u64::from(rate), 0)
    } else {
        return None;
    };
    let last = bytes.windows(4).rposition(|w| w == b"OggS")?;
    let granule = u64::from_le_bytes(bytes.get(last + 6..last + 14)?.try_into().ok()?);
    Some(granule.saturating_sub(skip) * 1000 / rate.max(1))
}

#[cfg(test)]
mod tests {
    use super::super::decoding::packets;
    use super::*;

    #[test]
    fn the_crc_is_oggs() {
        assert_eq!(CRC.checksum(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn streams_last_as_long_as_the_speech() {
        let ogg = opus_silence(24000 * 3 / 2, 24000);
        assert_eq!(duration_ms(&ogg), Some(1500));
        // 75 packets: pages of 50 and 25 after the two header pages.
        assert_eq!(ogg.windows(4).filter(|w| *w == b"OggS").count(), 4);
        assert_eq!(duration_ms(b"OggS"), None);
        assert_eq!(duration_ms(b"RIFF....WAVE"), None);
    }

    #[test]
    fn a_demuxer_reads_every_page_and_packet() {
        let packets = packets(&opus_silence(24000, 24000), "ogg");
        assert_eq!(packets.len(), 50);
        assert!(packets.iter().all(|p| p == &SILENT_PACKET));
    }
}
