//! Deterministic embedding vectors: the model's full-size vector is drawn
//! from a PRNG seeded with (seed, model, input), cut to the requested
//! dimension and scaled to unit length. Equal inputs give equal vectors;
//! a shortened vector is a prefix of the full one, renormalised.

use rand::Rng;

use crate::prng::Digest;

pub fn unit_vector(seed: u64, model: &str, input: &[u8], native: usize, dims: usize) -> Vec<f32> {
    let mut rng = Digest::new(seed)
        .part("embedding")
        .part(model)
        .part(input)
        .rng();
    let mut v: Vec<f32> = (0..native)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    v.truncate(dims);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_length_deterministic_and_input_sensitive() {
        let a = unit_vector(0, "m", b"hello", 768, 768);
        assert_eq!(a.len(), 768);
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        assert_eq!(a, unit_vector(0, "m", b"hello", 768, 768));
        assert_ne!(a, unit_vector(0, "m", b"hellp", 768, 768));
        assert_ne!(a, unit_vector(1, "m", b"hello", 768, 768));
        let short = unit_vector(0, "m", b"hello", 768, 8);
        assert_eq!(short.len(), 8);
        assert!((a[0] / a[1] - short[0] / short[1]).abs() < 1e-3);
    }
}
