//! Entry bundles: a tile's entries, each as a big-endian uint16 length
//! followed by its bytes.

use crate::FormatError;

/// The bundle of `entries`; an entry longer than 65535 bytes cannot be in
/// one.
pub fn entry_bundle(entries: &[&[u8]]) -> Result<Vec<u8>, FormatError> {
    let mut bundle = Vec::with_capacity(entries.iter().map(|entry| entry.len() + 2).sum());
    for (index, entry) in entries.iter().enumerate() {
        let len = u16::try_from(entry.len()).map_err(|_| FormatError::EntryTooLong {
            index,
            len: entry.len(),
        })?;
        bundle.extend_from_slice(&len.to_be_bytes());
        bundle.extend_from_slice(entry);
    }
    Ok(bundle)
}

/// The entries of a bundle, which must end exactly after its last entry.
pub fn parse_entry_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, FormatError> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let truncated = FormatError::TruncatedEntryBundle {
            index: entries.len(),
        };
        let (len, after_len) = rest.split_first_chunk::<2>().ok_or(truncated.clone())?;
        let len = usize::from(u16::from_be_bytes(*len));
        if after_len.len() < len {
            return Err(truncated);
        }
        let (entry, after_entry) = after_len.split_at(len);
        entries.push(entry.to_vec());
        rest = after_entry;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_entries() {
        let long = vec![7u8; 65535];
        let entries: [&[u8]; 4] = [b"first", b"", &long, b"\x00\x01"];
        let bundle = entry_bundle(&entries).expect("entries fit");
        assert_eq!(&bundle[..7], b"\x00\x05first");
        assert_eq!(
            parse_entry_bundle(&bundle),
            Ok(entries.map(<[u8]>::to_vec).to_vec())
        );
        assert_eq!(parse_entry_bundle(&[]), Ok(vec![]));
    }

    #[test]
    fn rejects_oversized_and_truncated_entries() {
        let too_long = vec![0u8; 65536];
        assert_eq!(
            entry_bundle(&[b"ok", &too_long]),
            Err(FormatError::EntryTooLong {
                index: 1,
                len: 65536
            })
        );
        assert_eq!(
            parse_entry_bundle(b"\x00\x01a\x00"),
            Err(FormatError::TruncatedEntryBundle { index: 1 })
        );
        assert_eq!(
            parse_entry_bundle(b"\x00\x03ab"),
            Err(FormatError::TruncatedEntryBundle { index: 0 })
        );
    }
}
