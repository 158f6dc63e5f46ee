//! Nomad's allocation ids, seeded (`nettwin_cni::seed`): the real ones come from
//! `uuid.Generate`, which reads crypto/rand, so the twin matches their form and replays.

use nettwin_cni::seed::Seed;

/// An allocation id shaped like Nomad's (`uuid.Generate`: 16 random bytes printed
/// `8-4-4-4-12` in lowercase hex, no version or variant bits set), for the `index`-th
/// allocation of `group` in `job`.
pub fn alloc_id(seed: Seed, job: &str, group: &str, index: u32) -> String {
    let mut s = seed.stream(&["alloc", job, group, &index.to_string()]);
    let mut b = [0u8; 16];
    s.fill(&mut b);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(HEX[usize::from(x >> 4)]));
        id.push(char::from(HEX[usize::from(x & 0xf)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_place_replay_the_same_id() {
        assert_eq!(alloc_id(Seed(7), "cloak", "redis", 0), alloc_id(Seed(7), "cloak", "redis", 0));
        assert_ne!(alloc_id(Seed(7), "cloak", "redis", 0), alloc_id(Seed(8), "cloak", "redis", 0));
        assert_ne!(alloc_id(Seed(7), "cloak", "redis", 0), alloc_id(Seed(7), "cloak", "redis", 1));
    }

    #[test]
    fn alloc_ids_look_like_nomads() {
        let id = alloc_id(Seed(42), "job", "group", 3);
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
    }
}
