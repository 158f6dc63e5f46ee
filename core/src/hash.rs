//! FxHash, the multiply-rotate hash rustc uses internally: fast on the short keys of the
//! model (names, rule hashes) and deterministic (no seed), unlike the std `RandomState`.
//!
//! Only for maps that are looked up, or iterated in insertion order (`IndexMap`): never
//! for a map whose own iteration order reaches an output. Not resistant to chosen keys;
//! nothing here hashes input from a network.

use std::hash::{BuildHasherDefault, Hasher};

/// The hasher: each word is mixed in with a rotate, an xor and a multiply.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct FxHasher(u64);

/// `BuildHasher` for [`FxHasher`], for `HashMap`/`IndexMap` type parameters.
pub(crate) type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A deterministic insertion-ordered map.
pub(crate) type FxIndexMap<K, V> = indexmap::IndexMap<K, V, FxBuildHasher>;

/// A deterministic hash map (look it up; do not let its iteration order reach output).
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Whole words, then a 4-, 2- and 1-byte tail: fixed-size loads only (a
        // variable-length copy of the tail into a word would be a `memcpy` call).
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let mut rest = chunks.remainder();
        if let [a, b, c, d, tail @ ..] = rest {
            self.add(u64::from(u32::from_le_bytes([*a, *b, *c, *d])));
            rest = tail;
        }
        if let [a, b, tail @ ..] = rest {
            self.add(u64::from(u16::from_le_bytes([*a, *b])));
            rest = tail;
        }
        if let [a] = rest {
            self.add(u64::from(*a));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    #[test]
    fn hashing_is_seedless_and_sees_every_byte() {
        let h = |s: &str| FxBuildHasher::default().hash_one(s);
        assert_eq!(h("CNI-FORWARD"), h("CNI-FORWARD"));
        assert_ne!(h("CNI-FORWARD"), h("CNI-FORWARE"));
        assert_ne!(h("abcdefgh1"), h("abcdefgh2"));
        let mut a = FxHasher::default();
        "x".hash(&mut a);
        assert_eq!(a.finish(), h("x"));
    }
}
