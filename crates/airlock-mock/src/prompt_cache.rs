//! Implicit prompt caching: a request whose prompt starts like one the
//! model has already read is billed for that shared start as cached tokens,
//! as both providers do it without being asked.
//!
//! A prompt is read token by token in the order the model reads it (see
//! [`crate::tokens`]: the same rule that counts its prompt tokens, so a
//! cached prefix never disagrees with the prompt count). Every
//! [`BLOCK_TOKENS`] tokens, the hash of everything read so far (the model's
//! name, the structure and the tokens) is a block boundary. A request's
//! cached tokens are those up to its last boundary in an unbroken run of
//! boundaries already remembered, counted by modality; then all its
//! boundaries are remembered (least recently used forgotten first, at most
//! [`CAPACITY_BLOCKS`] for the whole simulator, across models). Nothing is
//! timed, so the same requests in the same order always get the same
//! answers.
//!
//! Each provider decides which models cache and from what length
//! (`gemini::caching`, `openai::caching`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::server::lock;
use crate::tokens::{Modality, Tally, Tokens};

/// Cache hits come in whole blocks of this many tokens (OpenAI: "cache hits
/// occurring in increments of 128 tokens"; Google documents no granularity,
/// so Gemini models use the same).
pub const BLOCK_TOKENS: u64 = 128;

/// Block boundaries remembered across all models: 2,097,152 tokens of
/// prefixes, about 1 MiB.
pub const CAPACITY_BLOCKS: usize = 16_384;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A prompt read for the cache: its block boundaries, each with the tokens
/// before it by modality.
#[derive(Debug, Clone)]
pub struct Prefix {
    hash: u64,
    read: Tally,
    /// Characters of the text token being read.
    pending_chars: u8,
    blocks: Vec<(u64, Tally)>,
}

impl Prefix {
    /// An empty prompt of `model` (prefixes of different models never meet).
    pub fn new(model: &str) -> Self {
        let mut prefix = Prefix {
            hash: FNV_OFFSET,
            read: Tally::default(),
            pending_chars: 0,
            blocks: Vec::new(),
        };
        prefix.mark(model.as_bytes());
        prefix
    }

    fn feed(&mut self, data: &[u8]) {
        for b in data {
            self.hash ^= u64::from(*b);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
    }

    /// One more token read.
    fn token(&mut self, modality: Modality) {
        self.read.add(modality, 1);
        if self.read.total().is_multiple_of(BLOCK_TOKENS) {
            self.blocks.push((self.hash, self.read));
        }
    }

    /// The tokens read, by modality.
    #[cfg(test)]
    pub fn tokens(&self) -> Tally {
        self.read
    }
}

impl Tokens for Prefix {
    fn mark(&mut self, structure: &[u8]) {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        self.feed(&(structure.len() as u64).to_le_bytes());
        self.feed(structure);
    }

    /// Four characters a token, the last one possibly shorter: the text
    /// rule, token by token.
    fn text(&mut self, text: &str) {
        self.mark(b"text");
        let mut utf8 = [0u8; 4];
        for c in text.chars() {
            self.feed(c.encode_utf8(&mut utf8).as_bytes());
            self.pending_chars += 1;
            if self.pending_chars == 4 {
                self.pending_chars = 0;
                self.token(Modality::Text);
            }
        }
        if self.pending_chars > 0 {
            self.pending_chars = 0;
            self.token(Modality::Text);
        }
    }

    fn media_costing(&mut self, modality: Modality, identity: &[u8], tokens: u64) {
        self.mark(format!("{modality:?}").as_bytes());
        self.mark(identity);
        for i in 0..tokens {
            self.feed(&i.to_le_bytes());
            self.token(modality);
        }
    }
}

/// The simulator's memory of block boundaries, shared by every model.
#[derive(Debug, Default)]
pub struct PromptCache {
    lru: Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    /// Boundary → when it was last read.
    used: HashMap<u64, u64>,
    /// When → boundary, oldest first.
    by_use: BTreeMap<u64, u64>,
    clock: u64,
}

impl Lru {
    fn touch(&mut self, boundary: u64) {
        self.clock += 1;
        if let Some(before) = self.used.insert(boundary, self.clock) {
            self.by_use.remove(&before);
        }
        self.by_use.insert(self.clock, boundary);
        while self.used.len() > CAPACITY_BLOCKS {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.used.remove(&oldest);
        }
    }
}

impl PromptCache {
    /// The tokens of `prompt`'s longest remembered prefix (whole blocks), by
    /// modality; then remembers every block of `prompt` (the first
    /// [`CAPACITY_BLOCKS`] of a longer one).
    pub fn read_through(&self, prompt: &Prefix) -> Tally {
        let blocks = &prompt.blocks[..prompt.blocks.len().min(CAPACITY_BLOCKS)];
        let mut lru = lock(&self.lru);
        let hit = blocks
            .iter()
            .take_while(|(boundary, _)| lru.used.contains_key(boundary))
            .last()
            .map(|(_, read)| *read)
            .unwrap_or_default();
        for (boundary, _) in blocks {
            lru.touch(*boundary);
        }
        hit
    }

    /// Block boundaries remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.lru).used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(model: &str, texts: &[&str]) -> Prefix {
        let mut p = Prefix::new(model);
        for t in texts {
            p.mark(b"user");
            p.text(t);
        }
        p
    }

    #[test]
    fn reads_like_the_token_rule() {
        let text = "é".repeat(1_001);
        let mut tally = Tally::default();
        tally.text(&text);
        tally.media(Modality::Image, b"png");
        let mut p = Prefix::new("m");
        p.text(&text);
        p.media(Modality::Image, b"png");
        assert_eq!(p.tokens(), tally);
        // 251 text tokens then 258 image tokens: boundaries at 128, 256, 384.
        let read: Vec<Tally> = p.blocks.iter().map(|(_, t)| *t).collect();
        assert_eq!(read.len(), 3);
        assert_eq!((read[0].text, read[0].image), (128, 0));
        assert_eq!((read[1].text, read[1].image), (251, 5));
        assert_eq!((read[2].text, read[2].image), (251, 133));
    }

    #[test]
    fn a_shared_start_is_cached_in_whole_blocks() {
        let cache = PromptCache::default();
        let long = "a".repeat(4 * 1_000);
        assert_eq!(cache.read_through(&prompt("m", &[&long, "one"])).total(), 0);
        // Same first 1,000 tokens: 7 whole blocks (896 tokens).
        assert_eq!(
            cache.read_through(&prompt("m", &[&long, "two"])).total(),
            896
        );
        // Another model never shares.
        assert_eq!(cache.read_through(&prompt("n", &[&long, "two"])).total(), 0);
        // A different first token shares nothing, even if the rest agrees.
        let other = format!("b{}", &long[1..]);
        assert_eq!(cache.read_through(&prompt("m", &[&other])).total(), 0);
        // Structure counts: the same text split in two messages (at token
        // 500) shares the blocks before the split only.
        let (head, tail) = long.split_at(2_000);
        assert_eq!(cache.read_through(&prompt("m", &[head, tail])).total(), 384);
        // A prompt exactly as long as its blocks is cached whole.
        let exact = "c".repeat(4 * 256);
        cache.read_through(&prompt("m", &[&exact]));
        assert_eq!(cache.read_through(&prompt("m", &[&exact])).total(), 256);
    }

    #[test]
    fn memory_is_bounded_and_least_recently_used_goes_first() {
        let cache = PromptCache::default();
        let first = "x".repeat(4 * 128 * 4);
        cache.read_through(&prompt("m", &[&first]));
        // Fill the rest, keeping `first` in use half way.
        let filler_blocks = CAPACITY_BLOCKS;
        let mut n = 0;
        while n < filler_blocks {
            let text = format!("{n:08}").repeat(4 * 128 / 8 * 64);
            let p = prompt("filler", &[&text]);
            n += p.blocks.len();
            cache.read_through(&p);
            if n >= filler_blocks / 2 && n < filler_blocks / 2 + 64 {
                assert_eq!(cache.read_through(&prompt("m", &[&first])).total(), 512);
            }
            assert!(cache.len() <= CAPACITY_BLOCKS);
        }
        assert_eq!(cache.len(), CAPACITY_BLOCKS);
        // Touched half way, `first` outlived the oldest fillers.
        assert_eq!(cache.read_through(&prompt("m", &[&first])).total(), 512);
        let early = format!("{:08}", 0).repeat(4 * 128 / 8 * 64);
        assert_eq!(cache.read_through(&prompt("filler", &[&early])).total(), 0);
    }
}
