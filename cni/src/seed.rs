//! Determinism: everything the plugins, the kernel or an orchestrator would draw at random —
//! host veth names, MACs, and (through [`Seed::stream`]) allocation ids and dynamic host
//! ports — derived from a seed.
//!
//! The generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014; the constants of Vigna's public-domain reference), written
//! here in a few lines rather than taken from a crate, so its output can never change under
//! us with a dependency update. Each value comes from its own stream, keyed by the seed and
//! a purpose path (`["alloc", job, group, "0"]`), so adding a group does not shift the
//! values of the others. The key is folded into the stream's start state with SHA-256.
//!
//! The real values are unseeded (the bridge plugin's `RandomVethName` reads crypto/rand,
//! the kernel picks random MACs, Nomad's `uuid.Generate` too), so a twin can only match
//! their *form*, which these helpers guarantee; runs of the twin replay exactly.

use sha2::{Digest, Sha256};

use nettwin_core::names::{IfName, Mac};

/// A seed: the one number that fixes every choice of a run. Printed on failure and
/// written into snapshot headers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Seed(pub u64);

impl Seed {
    /// The stream for one purpose. The same seed and path always give the same stream.
    pub fn stream(self, path: &[&str]) -> SplitMix64 {
        let mut h = Sha256::new();
        h.update(self.0.to_le_bytes());
        for part in path {
            // Length-prefixed, so ["ab", "c"] and ["a", "bc"] differ.
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let d = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        SplitMix64::new(u64::from_le_bytes(first))
    }

    /// A host-side veth name shaped like the bridge plugin's (`RandomVethName`: `veth` and
    /// 4 random bytes in hex, 12 bytes in all) for the container with this id.
    pub fn veth_name(self, container_id: &str) -> IfName {
        let mut s = self.stream(&["veth", container_id]);
        let mut b = [0u8; 4];
        s.fill(&mut b);
        IfName::hex_suffixed(&nettwin_core::static_name!(IfName, "veth"), &b)
    }

    /// A MAC shaped like the kernel's random ones (`eth_random_addr`: locally administered,
    /// unicast) for the link `ifname` in namespace `netns`.
    pub fn mac(self, netns: &str, ifname: &str) -> Mac {
        let mut s = self.stream(&["mac", netns, ifname]);
        let mut b = [0u8; 6];
        s.fill(&mut b);
        b[0] = (b[0] & 0xfe) | 0x02;
        Mac(b)
    }
}

/// SplitMix64: a 64-bit state advanced by a constant and mixed on output. Small, fast,
/// and equidistributed enough for picking names and ports; not for secrets.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `state`.
    pub fn new(state: u64) -> SplitMix64 {
        SplitMix64 { state }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (Lemire's multiply-shift with rejection, so without bias).
    /// `below(0)` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            // The low 64 bits decide rejection; the high 64 bits are the result.
            let low = m as u64;
            if low >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // First outputs of Vigna's splitmix64.c from state 1234567.
        let mut s = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..3).map(|_| s.next_u64()).collect();
        assert_eq!(
            got,
            [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423]
        );
    }

    #[test]
    fn same_seed_and_path_replay_the_same_stream() {
        assert_eq!(Seed(7).stream(&["veth", "a"]), Seed(7).stream(&["veth", "a"]));
        assert_ne!(Seed(7).stream(&["veth", "a"]), Seed(8).stream(&["veth", "a"]));
        assert_ne!(Seed(7).stream(&["ab", "c"]), Seed(7).stream(&["a", "bc"]));
    }

    #[test]
    fn veth_names_are_veth_and_eight_hex_digits() {
        let name = Seed(42).veth_name("8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512");
        let s = name.as_str();
        assert_eq!(s.len(), 12);
        assert!(s.starts_with("veth"));
        assert!(s[4..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn macs_are_local_unicast() {
        for i in 0..64 {
            let m = Seed(i).mac("host", "nomad");
            assert_eq!(m.0[0] & 0x03, 0x02, "{m}");
        }
    }

    #[test]
    fn below_stays_in_bounds_and_covers_small_ranges() {
        let mut s = Seed(1).stream(&["t"]);
        let mut seen = [false; 5];
        for _ in 0..200 {
            let v = s.below(5);
            assert!(v < 5);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|x| *x));
        assert_eq!(s.below(0), 0);
        assert_eq!(s.below(1), 0);
    }
}
