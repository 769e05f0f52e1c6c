//! Test-only: reads the audio the simulator writes back through a real
//! demuxer and decoder (symphonia's), so each container module's tests check
//! their output the way a client's player would.

use std::io::{Cursor, ErrorKind};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::conv::ConvertibleSample;
use symphonia::core::errors::Error;
use symphonia::core::formats::{FormatOptions, FormatReader, Packet};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// What a decoder read from a whole stream.
pub(super) struct Decoded<S> {
    /// Every sample, channels interleaved.
    pub samples: Vec<S>,
    /// The sample rate the stream declares.
    pub rate: u32,
    /// How many frames (samples per channel) each packet decoded to.
    pub frames: Vec<usize>,
}

/// Decodes `bytes`, probed as a file named `*.{extension}`, with the
/// decoder's own checks on (FLAC's MD5 of the samples); panics on anything
/// the demuxer or decoder rejects.
pub(super) fn decode<S: ConvertibleSample>(bytes: &[u8], extension: &str) -> Decoded<S> {
    let mut format = demux(bytes, extension);
    let track = format.default_track().expect("a track");
    let rate = track.codec_params.sample_rate.expect("a sample rate");
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions { verify: true })
        .expect("a decoder for the track");
    let mut decoded = Decoded {
        samples: Vec::new(),
        rate,
        frames: Vec::new(),
    };
    while let Some(packet) = next(format.as_mut()) {
        let audio = decoder.decode(&packet).expect("a decodable packet");
        decoded.frames.push(audio.frames());
        let mut buffer = SampleBuffer::<S>::new(audio.capacity() as u64, *audio.spec());
        buffer.copy_interleaved_ref(audio);
        decoded.samples.extend_from_slice(buffer.samples());
    }
    decoded
}

/// The data of every packet a demuxer reads from `bytes`, probed as a file
/// named `*.{extension}` (for codecs symphonia cannot decode, like Opus).
pub(super) fn packets(bytes: &[u8], extension: &str) -> Vec<Vec<u8>> {
    let mut format = demux(bytes, extension);
    std::iter::from_fn(|| next(format.as_mut()))
        .map(|packet| packet.data.to_vec())
        .collect()
}

fn demux(bytes: &[u8], extension: &str) -> Box<dyn FormatReader> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(extension);
    symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .expect("a recognised container")
        .format
}

/// The next packet, or `None` at the end of the stream; panics on any other
/// demuxing error.
fn next(format: &mut dyn FormatReader) -> Option<Packet> {
    match format.next_packet() {
        Ok(packet) => Some(packet),
        Err(Error::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => None,
        Err(e) => panic!("demuxing failed: {e}"),
    }
}
