//! Where a rule may be: the netfilter hooks each target or match is valid in, as the
//! kernel checks them. Two kinds of check exist (measured on Linux 6.18, iptables-nft
//! 1.8.9):
//!
//! - through the jump graph: the kernel refuses a rule whose target or match is not valid
//!   in every hook whose base chain reaches the rule's chain (DNAT only from PREROUTING
//!   and OUTPUT, `-m owner` only from OUTPUT and POSTROUTING, REDIRECT from PREROUTING
//!   and OUTPUT, TCPMSS --clamp-mss-to-pmtu from FORWARD, OUTPUT and POSTROUTING (--set-mss
//!   anywhere), REJECT from INPUT, FORWARD
//!   and OUTPUT); each chain counts its own
//!   restricted rules so that the check needs no walk (`restricted`, `own_mask`);
//! - in the base chain only (the extension's entry check, which sees no hook when the
//!   rule goes into a user chain): `-m physdev --physdev-out` in OUTPUT (`direct_problem`).
//!
//! Hooks are bits, the same in every table: PREROUTING 1, INPUT 2, FORWARD 4, OUTPUT 8,
//! POSTROUTING 16. What the targets do to packets is the simulator's business.

use super::rule::{Match, Rule, Target};

/// The hook bit of a built-in chain's name.
pub(super) fn hook_bit(chain: &str) -> Option<u8> {
    match chain {
        "PREROUTING" => Some(PRE),
        "INPUT" => Some(IN),
        "FORWARD" => Some(FWD),
        "OUTPUT" => Some(OUT),
        "POSTROUTING" => Some(POST),
        _ => None,
    }
}

const PRE: u8 = 1;
const IN: u8 = 2;
const FWD: u8 = 4;
const OUT: u8 = 8;
const POST: u8 = 16;

/// How many kinds of restricted rule a chain counts.
pub(super) const RESTRICTIONS: usize = 7;

/// The hooks each restriction allows, by slot.
const ALLOWED: [u8; RESTRICTIONS] = [
    PRE | OUT,        // DNAT
    IN | POST,        // SNAT
    POST,             // MASQUERADE
    OUT | POST,       // -m owner
    PRE | OUT,        // REDIRECT
    FWD | OUT | POST, // TCPMSS --clamp-mss-to-pmtu
    IN | FWD | OUT,   // REJECT
];

/// The restriction slots a rule counts in, as bits of slot numbers.
pub(super) fn restrictions(rule: &Rule) -> u8 {
    let target = match &rule.target {
        Target::Dnat(_) => 1,
        Target::Snat(_) => 2,
        Target::Masquerade { .. } => 4,
        Target::Redirect { .. } => 16,
        Target::Tcpmss(None) => 32,
        Target::Reject(_) => 64,
        _ => 0,
    };
    let owner = if rule.matches.iter().any(|m| matches!(m, Match::Owner(_))) { 8 } else { 0 };
    target | owner
}

/// The hooks a rule's own targets and matches allow (every hook when unrestricted).
pub(super) fn rule_mask(rule: &Rule) -> u8 {
    slots_mask(restrictions(rule))
}

fn slots_mask(slots: u8) -> u8 {
    (0..RESTRICTIONS).filter(|i| slots & (1 << i) != 0).fold(0xff, |m, i| m & ALLOWED[i])
}

/// The hooks a chain's own rules allow, given how many rules of each restriction it has.
pub(super) fn own_mask(counts: &[u32; RESTRICTIONS]) -> u8 {
    let slots = (0..RESTRICTIONS).filter(|i| counts[*i] > 0).fold(0, |s, i| s | (1 << i));
    slots_mask(slots)
}

/// Adds (or removes) a rule's restrictions to a chain's counts.
pub(super) fn count(counts: &mut [u32; RESTRICTIONS], rule: &Rule, add: bool) {
    let slots = restrictions(rule);
    for (i, n) in counts.iter_mut().enumerate() {
        if slots & (1 << i) != 0 {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
    }
}

/// What the kernel refuses in a rule added straight to the base chain of `hook` (the
/// extensions' entry checks, which a rule in a user chain escapes).
pub(super) fn direct_problem(hook: u8, rule: &Rule) -> Option<&'static str> {
    for m in &rule.matches {
        if let Match::Physdev(p) = m
            && hook == OUT
            && p.needs_bridged_output()
        {
            return Some("--physdev-out and --physdev-is-out need bridged traffic (not OUTPUT)");
        }
    }
    None
}
