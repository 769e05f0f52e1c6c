//! Tile and entry bundle paths (`tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>[.p/<W>]`), written and parsed strictly: only the one
//! canonical spelling of a tile is accepted.

use crate::FormatError;
use crate::decimal::parse_canonical_decimal;

/// The highest level a tile path may name.
const MAX_LEVEL: u32 = 63;

/// A tile's or entry bundle's path, including the leading `tile/`.
/// A partial tile's `width` is 1..=255; `None` is a full tile.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TilePath {
    Hashes {
        level: u32,
        index: u64,
        width: Option<u16>,
    },
    Entries {
        index: u64,
        width: Option<u16>,
    },
}

impl TilePath {
    /// Parses a path that starts with `tile/`, rejecting any spelling but
    /// the canonical one (levels above 63, widths 0 or above 255, leading
    /// zeros, missing or extra `x` groups).
    pub fn parse(path: &str) -> Result<TilePath, FormatError> {
        let malformed = |reason| FormatError::TilePath {
            path: path.to_owned(),
            reason,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| malformed("it does not start with \"tile/\""))?;
        let (kind, rest) = rest
            .split_once('/')
            .ok_or_else(|| malformed("it has no tile index"))?;
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => (index, Some(parse_width(width).map_err(malformed)?)),
            None => (rest, None),
        };
        let index = parse_index(index).map_err(malformed)?;
        if kind == "entries" {
            return Ok(TilePath::Entries { index, width });
        }
        let level = parse_level(kind).map_err(malformed)?;
        Ok(TilePath::Hashes {
            level,
            index,
            width,
        })
    }

    /// The path, starting with `tile/`.
    pub fn to_path(&self) -> String {
        let (kind, index, width) = match self {
            TilePath::Hashes {
                level,
                index,
                width,
            } => (level.to_string(), *index, *width),
            TilePath::Entries { index, width } => ("entries".to_owned(), *index, *width),
        };
        let mut path = format!("tile/{kind}/{}", encode_index(index));
        if let Some(width) = width {
            path.push_str(&format!(".p/{width}"));
        }
        path
    }
}

/// `index` as 3-digit groups, all but the last prefixed with `x`:
/// 1234067 is `x001/x234/067`.
fn encode_index(index: u64) -> String {
    let mut groups = vec![format!("{:03}", index % 1000)];
    let mut rest = index / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn parse_index(text: &str) -> Result<u64, &'static str> {
    let groups: Vec<&str> = text.split('/').collect();
    let mut index: u64 = 0;
    for (position, group) in groups.iter().enumerate() {
        let is_last = position + 1 == groups.len();
        let digits = if is_last {
            *group
        } else {
            group
                .strip_prefix('x')
                .ok_or("every index group but the last starts with 'x'")?
        };
        if digits.len() != 3 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err("index groups are three decimal digits");
        }
        if position == 0 && !is_last && digits == "000" {
            return Err("the index has a leading zero group");
        }
        let value: u64 = digits
            .parse()
            .map_err(|_| "index groups are three decimal digits")?;
        index = index
            .checked_mul(1000)
            .and_then(|index| index.checked_add(value))
            .ok_or("the index is too large")?;
    }
    Ok(index)
}

fn parse_level(text: &str) -> Result<u32, &'static str> {
    let level = parse_canonical_decimal(text).ok_or("the level is not a decimal number")?;
    u32::try_from(level)
        .ok()
        .filter(|level| *level <= MAX_LEVEL)
        .ok_or("the level is above 63")
}

fn parse_width(text: &str) -> Result<u16, &'static str> {
    let width = parse_canonical_decimal(text).ok_or("the partial width is not a decimal number")?;
    u16::try_from(width)
        .ok()
        .filter(|width| (1..=255).contains(width))
        .ok_or("the partial width is not between 1 and 255")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(level: u32, index: u64, width: Option<u16>) -> TilePath {
        TilePath::Hashes {
            level,
            index,
            width,
        }
    }

    #[test]
    fn encodes_the_spec_examples() {
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
        assert_eq!(hashes(0, 1_234_067, None).to_path(), "tile/0/x001/x234/067");
        assert_eq!(hashes(2, 5, Some(17)).to_path(), "tile/2/005.p/17");
        let bundle = TilePath::Entries {
            index: 1_234_067,
            width: Some(1),
        };
        assert_eq!(bundle.to_path(), "tile/entries/x001/x234/067.p/1");
    }

    #[test]
    fn parses_what_it_writes() {
        let paths = [
            hashes(0, 0, None),
            hashes(63, 1_234_067, Some(255)),
            hashes(1, 999, Some(1)),
            hashes(0, u64::MAX, None),
            TilePath::Entries {
                index: 1000,
                width: None,
            },
            TilePath::Entries {
                index: 7,
                width: Some(128),
            },
        ];
        for path in paths {
            assert_eq!(TilePath::parse(&path.to_path()), Ok(path), "{path:?}");
        }
    }

    #[test]
    fn rejects_every_other_spelling() {
        let bad = [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "/tile/0/000",
            "tiles/0/000",
            "tile/0/5",
            "tile/0/0005",
            "tile/0/x000/005",
            "tile/0/x001",
            "tile/0/001/002",
            "tile/0/x1/002",
            "tile/0/x001/002/",
            "tile/0/+05",
            "tile/0/00a",
            "tile/64/000",
            "tile/01/000",
            "tile/+1/000",
            "tile//000",
            "tile/data/000",
            "tile/0/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/07",
            "tile/0/005.p/",
            "tile/0/005.p/+7",
            "tile/0/005.p/7/",
            "tile/0/005.p/7.p/7",
            "tile/entries/005.p/300",
            "tile/entries/x005",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x001/x018/x446/x744/x073/x709/x551/615",
        ];
        for path in bad {
            assert!(
                matches!(TilePath::parse(path), Err(FormatError::TilePath { .. })),
                "{path:?} parsed"
            );
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            TilePath::parse("tile/0/005.p/256").map_err(|error| error.to_string()),
            Err("tile path \"tile/0/005.p/256\" is malformed: the partial width is not between 1 and 255".to_owned())
        );
    }
}
