//! NAT in the rule model: the nat hooks where each NAT target is valid (the kernel refuses
//! a rule whose target is not valid in every hook that reaches its chain), and the count
//! each chain keeps of its own NAT targets so that the check needs no walk. What NAT does
//! to packets is the simulator's business (`nettwin_sim`'s `walk::nat`).

use super::rule::Target;

/// Hook masks per built-in chain position in `Table::builtin_chains` (bit i = chain i).
/// In nat: PREROUTING 1, INPUT 2, OUTPUT 4, POSTROUTING 8.
pub(super) const NAT_HOOKS: [u8; 3] = [
    0b0101, // DNAT: PREROUTING, OUTPUT
    0b1010, // SNAT: INPUT, POSTROUTING
    0b1000, // MASQUERADE: POSTROUTING
];

/// Which of `Chain::nat` a target counts in.
pub(super) fn nat_slot(t: &Target) -> Option<usize> {
    match t {
        Target::Dnat { .. } => Some(0),
        Target::Snat { .. } => Some(1),
        Target::Masquerade => Some(2),
        _ => None,
    }
}

/// The nat hooks a chain's own rules allow, given how many of each NAT target it holds
/// (indexed by [`nat_slot`]).
pub(super) fn own_mask(counts: &[u32; 3]) -> u8 {
    (0..3).filter(|i| counts[*i] > 0).fold(0xff, |m, i| m & NAT_HOOKS[i])
}
