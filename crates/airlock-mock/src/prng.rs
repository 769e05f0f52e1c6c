//! Deterministic randomness: every "random" choice of the simulator comes from
//! a PRNG seeded with a stable 64-bit FNV-1a hash of the configured seed and
//! the inputs that should decide the choice.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// An incremental FNV-1a hasher; each part is length-prefixed so that
/// `("ab", "c")` and `("a", "bc")` hash differently.
#[derive(Debug, Clone, Copy)]
pub struct Digest(u64);

impl Digest {
    pub fn new(seed: u64) -> Self {
        Self(FNV_OFFSET).bytes(&seed.to_le_bytes())
    }

    fn bytes(mut self, data: &[u8]) -> Self {
        for b in data {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
        self
    }

    pub fn part(self, data: impl AsRef<[u8]>) -> Self {
        let data = data.as_ref();
        self.bytes(&(data.len() as u64).to_le_bytes()).bytes(data)
    }

    pub fn number(self, n: u64) -> Self {
        self.bytes(&n.to_le_bytes())
    }

    pub fn value(self) -> u64 {
        self.0
    }

    pub fn rng(self) -> SmallRng {
        SmallRng::seed_from_u64(self.0)
    }
}

/// `len` characters of `[A-Za-z0-9]` drawn from `digest`, as OpenAI's ids
/// (`chatcmpl-…`, `call_…`, `event_…`) are made of.
pub fn alphanumeric(digest: Digest, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = digest.rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_stream() {
        let a: u64 = Digest::new(1).part("x").rng().random();
        let b: u64 = Digest::new(1).part("x").rng().random();
        assert_eq!(a, b);
    }

    #[test]
    fn parts_are_delimited_and_seed_matters() {
        assert_ne!(
            Digest::new(0).part("ab").part("c").value(),
            Digest::new(0).part("a").part("bc").value()
        );
        assert_ne!(
            Digest::new(0).part("x").value(),
            Digest::new(1).part("x").value()
        );
    }
}
