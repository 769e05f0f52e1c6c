//! What media bytes really are, read from their first bytes (magic
//! numbers), never from the type a client declared: the gateway refuses
//! uploads whose bytes are not the image or audio a field takes, and the
//! translations name the MIME type they send a provider.

/// The MIME type of an image: PNG, JPEG, WebP or GIF.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

/// The MIME type of audio (or of a video container that carries it):
/// WAV, FLAC, Ogg, MP3 (with an ID3 tag or from a frame sync), AAC in
/// ADTS, MP4/M4A and WebM.
pub fn sniff_audio(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        Some("audio/wav")
    } else if bytes.starts_with(b"fLaC") {
        Some("audio/flac")
    } else if bytes.starts_with(b"OggS") {
        Some("audio/ogg")
    } else if bytes.starts_with(b"ID3") {
        Some("audio/mpeg")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some("audio/mp4")
    } else if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("audio/webm")
    } else if bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xF6 == 0xF0 {
        // ADTS: sync word, layer 00.
        Some("audio/aac")
    } else if bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 {
        // An MPEG audio frame sync with a layer set.
        (bytes[1] & 0x06 != 0).then_some("audio/mpeg")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_told_by_their_bytes() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(sniff_image(b"hello, I am a text file"), None);
        assert_eq!(sniff_image(b""), None);
    }

    #[test]
    fn audio_is_told_by_its_bytes() {
        assert_eq!(sniff_audio(b"RIFF\0\0\0\0WAVEfmt "), Some("audio/wav"));
        assert_eq!(sniff_audio(b"fLaC\0\0\0\x22"), Some("audio/flac"));
        assert_eq!(sniff_audio(b"OggS\0\x02"), Some("audio/ogg"));
        assert_eq!(sniff_audio(b"ID3\x04\0"), Some("audio/mpeg"));
        assert_eq!(sniff_audio(&[0xFF, 0xFB, 0x90, 0x64]), Some("audio/mpeg"));
        assert_eq!(sniff_audio(&[0xFF, 0xF1, 0x50, 0x80]), Some("audio/aac"));
        assert_eq!(sniff_audio(b"\0\0\0\x20ftypM4A "), Some("audio/mp4"));
        assert_eq!(
            sniff_audio(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]),
            Some("audio/webm")
        );
        assert_eq!(sniff_audio(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(sniff_audio(b"plain text"), None);
        assert_eq!(sniff_audio(&[0xFF]), None);
    }
}
