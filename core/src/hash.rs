//! Deterministic hashing: rustc-hash's FxHash, the multiply-rotate hash rustc uses
//! internally. Fast on the short keys of the model (names, rules) and seedless, unlike the
//! std `RandomState`, so a run never depends on a random seed.
//!
//! Only for maps that are looked up, or iterated in insertion order (`IndexMap`): never
//! for a map whose own iteration order reaches an output. Not resistant to chosen keys;
//! nothing here hashes input from a network.

pub(crate) use rustc_hash::{FxBuildHasher, FxHashMap};

/// A deterministic insertion-ordered map.
pub(crate) type FxIndexMap<K, V> = indexmap::IndexMap<K, V, FxBuildHasher>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn hashing_is_seedless_and_sees_every_byte() {
        let h = |s: &str| FxBuildHasher.hash_one(s);
        assert_eq!(h("CNI-FORWARD"), h("CNI-FORWARD"));
        assert_ne!(h("CNI-FORWARD"), h("CNI-FORWARE"));
        assert_ne!(h("abcdefgh1"), h("abcdefgh2"));
    }
}
