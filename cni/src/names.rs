//! Names and comment texts that the CNI reference plugins (containernetworking/plugins
//! v1.1.1) derive from the network name and the container id, and the fixed names of the
//! chains they share between containers.
//!
//! Derived chain names are `prefix` + the lowercase hex SHA-512 of `network + container_id`
//! (the two strings concatenated, no separator), cut to 28 bytes, iptables' chain name limit
//! (`utils.MustFormatHashWithPrefix` in the plugins). So the masquerade chain `CNI-` gets 24
//! hex digits and the portmap chain `CNI-DN-` gets 21: the same hash, cut shorter.
//! Verified against chains the real plugins created (docs/cni-reference.md, "Chain names and comments").

use sha2::{Digest, Sha512};

use nettwin_core::names::ChainName;
use nettwin_core::static_name;

/// The firewall plugin's private chain in the filter table (`privChainName`).
pub const FORWARD_CHAIN: &str = "CNI-FORWARD";

/// The firewall plugin's admin chain when the configuration names none.
pub const DEFAULT_ADMIN_CHAIN: &str = "CNI-ADMIN";

/// portmap's top-level DNAT chain in the nat table, entered from PREROUTING and OUTPUT.
pub const HOSTPORT_DNAT_CHAIN: &str = "CNI-HOSTPORT-DNAT";

/// portmap's chain that sets the masquerade mark and returns.
pub const HOSTPORT_SETMARK_CHAIN: &str = "CNI-HOSTPORT-SETMARK";

/// portmap's chain, entered first from POSTROUTING, that masquerades marked packets.
pub const HOSTPORT_MASQ_CHAIN: &str = "CNI-HOSTPORT-MASQ";

/// Comment on the `FORWARD -j CNI-FORWARD` jump.
pub const FIREWALL_RULES_COMMENT: &str = "CNI firewall plugin rules";

/// Comment on the `CNI-FORWARD -j <admin chain>` jump.
pub const FIREWALL_ADMIN_COMMENT: &str = "CNI firewall plugin admin overrides";

/// Comment on the `POSTROUTING -j CNI-HOSTPORT-MASQ` jump.
pub const PORTFWD_MASQ_COMMENT: &str = "CNI portfwd requiring masquerade";

/// Comment on the rule in CNI-HOSTPORT-SETMARK.
pub const PORTFWD_MARK_COMMENT: &str = "CNI portfwd masquerade mark";

/// portmap's default mark bit (`DefaultMarkBit`, 13): the mark is `1 << 13`.
pub const MASQ_MARK_BIT: u32 = 13;

/// The mark value and mask portmap uses, `0x2000/0x2000`.
pub const MASQ_MARK: u32 = 1 << MASQ_MARK_BIT;

/// The multicast range the masquerade chain leaves alone (`! -d 224.0.0.0/4`).
pub const MULTICAST_NET: &str = "224.0.0.0/4";

/// Most ports one `-m multiport --dports` list may hold; portmap splits longer lists.
pub const MULTIPORT_MAX: usize = 15;

/// Longest comment iptables accepts; portmap cuts longer ones to 253 bytes plus `...`.
pub const COMMENT_MAX: usize = 255;

const CHAIN_PREFIX: &str = "CNI-";

/// `prefix` followed by the hex SHA-512 of `network` and `container_id` concatenated, cut
/// to 28 bytes (`CHAIN_NAME_MAX`).
fn hashed_chain(prefix: &ChainName, network: &str, container_id: &str) -> ChainName {
    let digest = Sha512::new().chain_update(network).chain_update(container_id).finalize();
    ChainName::hex_suffixed(prefix, &digest)
}

/// The bridge plugin's per-container masquerade chain in the nat table:
/// `CNI-` + 24 hex digits (`utils.FormatChainName`).
pub fn masquerade_chain(network: &str, container_id: &str) -> ChainName {
    hashed_chain(&static_name!(ChainName, CHAIN_PREFIX), network, container_id)
}

/// portmap's per-container DNAT chain in the nat table: `CNI-DN-` + 21 hex digits
/// (`utils.MustFormatChainNameWithPrefix(name, id, "DN-")`).
pub fn portmap_dnat_chain(network: &str, container_id: &str) -> ChainName {
    hashed_chain(&static_name!(ChainName, "CNI-DN-"), network, container_id)
}

/// The SNAT chain of portmap versions before 0.7 (`CNI-SN-` + 21 hex digits), which
/// portmap's DEL still creates and deletes again in passing.
pub fn portmap_old_snat_chain(network: &str, container_id: &str) -> ChainName {
    hashed_chain(&static_name!(ChainName, "CNI-SN-"), network, container_id)
}

/// The comment on the masquerade chain's rules and on its POSTROUTING jump:
/// `name: "nomad" id: "<id>"`, each value quoted as Go's `%q` does
/// (`utils.FormatComment`).
pub fn masquerade_comment(network: &str, container_id: &str) -> String {
    format!("name: {} id: {}", go_quote(network), go_quote(container_id))
}

/// The comment on portmap's CNI-HOSTPORT-DNAT jumps: `dnat name: "nomad" id: "<id>"`,
/// values inserted verbatim between quotes (Go `"%s"`, not `%q`), cut to 255 bytes.
pub fn portmap_dnat_comment(network: &str, container_id: &str) -> String {
    trim_comment(format!(r#"dnat name: "{network}" id: "{container_id}""#))
}

/// portmap's `trimComment`: comments over 255 bytes become their first 253 bytes plus
/// `...` (256 bytes; byte-wise, as Go slices strings).
fn trim_comment(text: String) -> String {
    if text.len() <= COMMENT_MAX {
        return text;
    }
    let mut cut = 253;
    // Go cuts bytes; we must stay on a char boundary to keep a String. For ASCII input
    // (every name Nomad produces) this is the same cut.
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

/// Quotes `s` as Go's `%q` does for the printable ASCII subset, escaping `"` and `\`;
/// control characters become `\n`, `\t`, `\r` or `\xNN`; other characters are kept.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // Chain names captured from the real plugins (docs/cni-findings.md, experiments 1 and 2).
    #[rstest]
    #[case(
        "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512",
        "CNI-d4de66d3f509c581e1745fd7",
        "CNI-DN-d4de66d3f509c581e1745"
    )]
    #[case(
        "1c9e7b04-a3d2-6f58-9e10-4b7d2c8f6a33",
        "CNI-95968102fef69b1cd8f148f5",
        "CNI-DN-95968102fef69b1cd8f14"
    )]
    #[case(
        "f07a5c9d-2e81-4b36-a7c4-93d1e6b0f285",
        "CNI-bc22077807f7be4da5a573bd",
        "CNI-DN-bc22077807f7be4da5a57"
    )]
    #[case(
        "0b5e4c3a-1111-2222-3333-444455556666",
        "CNI-f87362c39c490948b9a267bc",
        "CNI-DN-f87362c39c490948b9a26"
    )]
    #[case("c1-no-ports", "CNI-3841ba775b355a8340599c7a", "CNI-DN-3841ba775b355a8340599")]
    fn container_id_hashes_to_the_plugins_chain_names(
        #[case] id: &str,
        #[case] masq: &str,
        #[case] dnat: &str,
    ) {
        assert_eq!(masquerade_chain("nomad", id).as_str(), masq);
        assert_eq!(portmap_dnat_chain("nomad", id).as_str(), dnat);
    }

    #[test]
    fn network_name_is_part_of_the_hash() {
        let id = "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512";
        assert_ne!(masquerade_chain("nomad", id), masquerade_chain("other", id));
        // Concatenation without separator: ("nomad", "x") and ("noma", "dx") collide.
        assert_eq!(masquerade_chain("nomad", "x"), masquerade_chain("noma", "dx"));
        assert_eq!(masquerade_chain("nomad", id).as_str().len(), 28);
    }

    #[test]
    fn comments_match_the_plugins_text() {
        let id = "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512";
        assert_eq!(
            masquerade_comment("nomad", id),
            r#"name: "nomad" id: "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512""#
        );
        assert_eq!(
            portmap_dnat_comment("nomad", id),
            r#"dnat name: "nomad" id: "8d3f2a61-54c7-0b9e-2f41-6ce0a7b9d512""#
        );
    }

    #[test]
    fn masquerade_comment_quotes_like_go_and_dnat_comment_does_not() {
        assert_eq!(masquerade_comment("n\"x", "a\\b"), r#"name: "n\"x" id: "a\\b""#);
        assert_eq!(portmap_dnat_comment("n\"x", "a"), r#"dnat name: "n"x" id: "a""#);
    }

    #[test]
    fn long_dnat_comment_is_cut_to_253_bytes_plus_dots() {
        let id = "x".repeat(300);
        let c = portmap_dnat_comment("nomad", &id);
        assert_eq!(c.len(), 256);
        assert!(c.ends_with("xx..."));
        assert_eq!(portmap_dnat_comment("nomad", &"y".repeat(230)).len(), 255);
    }
}
