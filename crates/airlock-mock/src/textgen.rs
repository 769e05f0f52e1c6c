//! Deterministic prose: sentences of words drawn from a fixed vocabulary, and
//! the splits of a text into stream chunks.

use rand::Rng;
use rand::rngs::SmallRng;

const VOCABULARY: &[&str] = &[
    "airlock", "amber", "anchor", "answer", "apple", "arc", "autumn", "balance", "beacon",
    "bridge", "bright", "calm", "canyon", "careful", "cedar", "signal", "clear", "cloud", "coast",
    "compass", "copper", "coral", "crisp", "current", "delta", "desert", "distant", "drift",
    "eager", "echo", "ember", "field", "forest", "gentle", "glacier", "golden", "granite",
    "harbor", "hollow", "horizon", "island", "ivory", "journey", "kettle", "lantern", "layer",
    "linen", "lively", "marble", "meadow", "method", "mirror", "model", "morning", "mountain",
    "narrow", "north", "ocean", "orbit", "packet", "paper", "pattern", "pebble", "pilot", "planet",
    "quiet", "rapid", "river", "rocket", "saddle", "silver", "simple", "smooth", "spring",
    "steady", "stone", "summit", "sunlit", "swift", "thread", "timber", "token", "tower", "travel",
    "valley", "velvet", "vessel", "violet", "window", "winter", "wonder", "yellow", "zephyr",
    "gateway", "request", "stream", "latency", "replica", "cipher", "vector",
];

fn word(rng: &mut SmallRng) -> &'static str {
    VOCABULARY[rng.random_range(0..VOCABULARY.len())]
}

/// A few words, lower case, separated by spaces (for short string values).
pub fn phrase(rng: &mut SmallRng, words: usize) -> String {
    (0..words.max(1))
        .map(|_| word(rng))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Between 12 and 48 words in sentences of 4 to 10 words each.
pub fn prose(rng: &mut SmallRng) -> String {
    let target = rng.random_range(12..=48usize);
    let mut sentences = Vec::new();
    let mut written = 0;
    while written < target {
        let len = rng.random_range(4..=10usize).min(target - written).max(1);
        let mut sentence = phrase(rng, len);
        if let Some(first) = sentence.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        sentence.push('.');
        sentences.push(sentence);
        written += len;
    }
    sentences.join(" ")
}

/// Splits `text` at spaces into 3 to 8 pieces (fewer for texts of fewer
/// words) whose concatenation is `text`. Never returns an empty list.
pub fn chunks(text: &str, rng: &mut SmallRng) -> Vec<String> {
    let boundaries: Vec<usize> = text.match_indices(' ').map(|(i, _)| i).collect();
    let wanted = rng.random_range(3..=8usize).min(boundaries.len() + 1);
    let mut pieces = Vec::with_capacity(wanted);
    let mut start = 0;
    for k in 1..wanted {
        let cut = boundaries[k * boundaries.len() / wanted];
        if cut > start {
            pieces.push(text[start..cut].to_owned());
            start = cut;
        }
    }
    pieces.push(text[start..].to_owned());
    pieces
}

/// `text` cut into `pieces` parts of about equal length (fewer for short
/// texts), at character boundaries.
pub fn split_even(text: &str, pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = pieces.clamp(1, chars.len().max(1));
    (0..n)
        .map(|k| {
            chars[k * chars.len() / n..(k + 1) * chars.len() / n]
                .iter()
                .collect()
        })
        .filter(|s: &String| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prng::Digest;

    #[test]
    fn prose_is_deterministic_and_sized() {
        let a = prose(&mut Digest::new(7).rng());
        assert_eq!(a, prose(&mut Digest::new(7).rng()));
        let words = a.split(' ').count();
        assert!((12..=48).contains(&words), "{a}");
        assert!(a.ends_with('.') && a.chars().next().unwrap().is_ascii_uppercase());
    }

    #[test]
    fn chunks_reassemble() {
        for seed in 0..50 {
            let mut rng = Digest::new(seed).rng();
            let text = prose(&mut rng);
            let parts = chunks(&text, &mut rng);
            assert!((3..=8).contains(&parts.len()), "{}", parts.len());
            assert_eq!(parts.concat(), text);
            assert!(parts.iter().all(|p| !p.is_empty()));
        }
        let mut rng = Digest::new(0).rng();
        assert_eq!(chunks("", &mut rng), vec![String::new()]);
        assert_eq!(chunks("one two", &mut rng).concat(), "one two");
    }

    #[test]
    fn even_split() {
        assert_eq!(split_even("abcdefgh", 3).concat(), "abcdefgh");
        assert_eq!(split_even("ab", 8), vec!["a", "b"]);
        assert_eq!(split_even("", 3), Vec::<String>::new());
    }
}
