//! iptables ops on the kernel against the model: batches through iptables-restore give
//! each op the kind it would have had alone, and the canonical rules match the model's.

mod common;

use common::{apply_both, assert_same_state, backend, kind, op};
use nettwin_core::backend::Backend;
use nettwin_core::error::ErrorKind;
use nettwin_core::op::Op;
use nettwin_core::state::State;
use rstest::rstest;

const BASE: &[&str] = &[
    "ip netns add h",
    "ip netns exec h iptables -N A",
    "ip netns exec h iptables -N B",
    "ip netns exec h iptables -A A -j B",
    "ip netns exec h iptables -A FORWARD -j A",
    "ip netns exec h iptables -A INPUT -s 10.0.0.1/32 -j ACCEPT",
    "ip netns exec h iptables -t nat -N M",
    "ip netns exec h iptables -t nat -A M -j MASQUERADE",
];

fn ipt(cmd: &str) -> String {
    format!("ip netns exec h iptables {cmd}")
}

#[rstest]
#[case::new_chain_exists("-N A", Some(ErrorKind::AlreadyExists))]
#[case::delete_missing_chain("-X NOPE", Some(ErrorKind::NotFound))]
#[case::delete_unused_builtin_chain("-X OUTPUT", Some(ErrorKind::NotFound))]
#[case::delete_referenced_chain("-X B", Some(ErrorKind::InUse))]
#[case::delete_non_empty_chain("-X A", Some(ErrorKind::InUse))]
#[case::jump_to_missing_chain("-A FORWARD -j NOPE", Some(ErrorKind::NotFound))]
#[case::jump_to_used_builtin("-A FORWARD -j INPUT", Some(ErrorKind::NotSupported))]
#[case::loop_reachable_from_a_hook("-A B -j A", Some(ErrorKind::Loop))]
#[case::loop_nothing_reaches("-t nat -A M -j M", None)]
#[case::insert_past_the_end("-I A 3 -j ACCEPT", Some(ErrorKind::InvalidArgument))]
#[case::insert_at_the_end("-I A 2 -j ACCEPT", None)]
#[case::delete_absent_rule("-D A -j ACCEPT", Some(ErrorKind::NotFound))]
#[case::delete_index_too_big("-D A 2", Some(ErrorKind::NotFound))]
#[case::delete_by_index("-D A 1", None)]
#[case::delete_by_spec("-D INPUT -s 10.0.0.1/32 -j ACCEPT", None)]
#[case::policy_on_user_chain("-P A DROP", Some(ErrorKind::InvalidArgument))]
#[case::policy_drop("-P FORWARD DROP", None)]
#[case::append_to_missing_chain("-A NOPE -j ACCEPT", Some(ErrorKind::NotFound))]
#[case::flush_missing_chain("-F NOPE", Some(ErrorKind::NotFound))]
#[case::flush_chain("-F A", None)]
#[case::flush_table("-F", None)]
#[case::masquerade_from_prerouting("-t nat -A PREROUTING -j M", Some(ErrorKind::InvalidArgument))]
#[case::masquerade_from_postrouting("-t nat -A POSTROUTING -j M", None)]
#[case::masquerade_in_output("-t nat -A OUTPUT -j MASQUERADE", Some(ErrorKind::InvalidArgument))]
#[case::dnat_in_filter(
    "-A INPUT -j DNAT --to-destination 1.2.3.4",
    Some(ErrorKind::InvalidArgument)
)]
#[case::reject_in_nat("-t nat -A PREROUTING -j REJECT", Some(ErrorKind::InvalidArgument))]
fn iptables_refusals_have_the_models_kind(#[case] cmd: &str, #[case] expected: Option<ErrorKind>) {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, BASE);
    let text = ipt(cmd);
    let o = op(&text);
    let k = b.apply(&o);
    let m = s.apply(&o);
    assert_eq!(kind(&k), expected, "{text}: kernel said {k:?}");
    assert_eq!(kind(&k), kind(&m), "{text}: kernel {k:?}, model {m:?}");
    assert_same_state(&mut b, &s, &text);
}

#[test]
fn a_jump_to_a_builtin_chain_iptables_never_used_is_not_found() {
    // Kernel fact (iptables-nft 1.8.9): built-in chains exist in the kernel only once a
    // rule or policy used them, so jumping to an untouched OUTPUT is ENOENT, not EOPNOTSUPP.
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, BASE);
    let o = op(&ipt("-A FORWARD -j OUTPUT"));
    let (k, m) = (b.apply(&o), s.apply(&o));
    assert_eq!((kind(&k), kind(&m)), (Some(ErrorKind::NotFound), Some(ErrorKind::NotFound)));
}

#[test]
fn deleting_a_builtin_chain_depends_on_whether_the_kernel_has_it() {
    // Kernel facts (iptables-nft 1.8.9, Linux 6.18): -X of a built-in chain is
    // "No chain/target/match by that name" while iptables never used it, CHAIN_DEL EBUSY
    // while it has rules, "Directory not empty" while its policy is DROP, and it succeeds
    // (the base chain is removed; iptables-save still shows it as ACCEPT) once it is empty
    // again with policy ACCEPT.
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, BASE);
    let cases = [
        ("-X OUTPUT", Some(ErrorKind::NotFound)),
        ("-X INPUT", Some(ErrorKind::InUse)),
        ("-P OUTPUT DROP", None),
        ("-X OUTPUT", Some(ErrorKind::InUse)),
        ("-F INPUT", None),
        ("-X INPUT", None),
        ("-X INPUT", Some(ErrorKind::NotFound)),
    ];
    for (cmd, want) in cases {
        let o = op(&ipt(cmd));
        let (k, m) = (b.apply(&o), s.apply(&o));
        assert_eq!((kind(&k), kind(&m)), (want, want), "{cmd}: kernel {k:?}, model {m:?}");
    }
    assert_same_state(&mut b, &s, "iptables-save shows a deleted built-in chain as ACCEPT");
}

#[test]
fn one_batch_reports_every_op_as_if_run_alone() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    apply_both(&mut b, &mut s, BASE);
    let cmds = [
        "-N C",
        "-N A",
        "-A C -s 10.0.0.2/32 -j ACCEPT",
        "-A FORWARD -j NOPE",
        "-t nat -N D",
        "-X NOPE",
        "-A C -j DROP",
        "-t nat -A POSTROUTING -s 172.26.64.5/32 -j D",
        "-t nat -N D",
        "-I C 9 -j ACCEPT",
        "-A FORWARD -j C",
    ];
    let ops: Vec<Op> = cmds.iter().map(|c| op(&ipt(c))).collect();
    let kernel = b.apply_all(&ops);
    let model: Vec<_> = ops.iter().map(|o| s.apply(o)).collect();
    let k: Vec<_> = kernel.iter().map(kind).collect();
    let m: Vec<_> = model.iter().map(kind).collect();
    assert_eq!(k, m, "kernel (left) and model (right) per op");
    assert_eq!(
        k,
        vec![
            None,
            Some(ErrorKind::AlreadyExists),
            None,
            Some(ErrorKind::NotFound),
            None,
            Some(ErrorKind::NotFound),
            None,
            None,
            Some(ErrorKind::AlreadyExists),
            Some(ErrorKind::InvalidArgument),
            None
        ]
    );
    assert_same_state(&mut b, &s, "after the batch");
}

/// The per-allocation rules of the Nomad bridge network (CNI bridge ipMasq, firewall and
/// portmap plugins), in the order Nomad's CNI chain adds them.
const NOMAD_RULES: &[&str] = &[
    "-N NOMAD-ADMIN",
    "-A NOMAD-ADMIN -d 172.26.64.0/20 -o nomad -j ACCEPT",
    "-N CNI-FORWARD",
    "-I FORWARD 1 -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD",
    "-I CNI-FORWARD 1 -m comment --comment \"CNI firewall plugin admin overrides\" -j NOMAD-ADMIN",
    "-A CNI-FORWARD -d 172.26.64.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT",
    "-t nat -N CNI-0092ee727397973a4eaa5a5e",
    "-t nat -A CNI-0092ee727397973a4eaa5a5e -d 172.26.64.0/20 -m comment --comment \"name: \\\"nomad\\\" id: \\\"a1\\\"\" -j ACCEPT",
    "-t nat -A CNI-0092ee727397973a4eaa5a5e ! -d 224.0.0.0/4 -m comment --comment \"name: \\\"nomad\\\" id: \\\"a1\\\"\" -j MASQUERADE",
    "-t nat -A POSTROUTING -s 172.26.64.2/32 -m comment --comment \"name: \\\"nomad\\\" id: \\\"a1\\\"\" -j CNI-0092ee727397973a4eaa5a5e",
    "-t nat -N CNI-HOSTPORT-DNAT",
    "-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
    "-t nat -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
    "-t nat -N CNI-DN-0092ee727397973a4eaa5",
    "-t nat -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"nomad\\\" id: \\\"a1\\\"\" -m multiport --dports 7000 -j CNI-DN-0092ee727397973a4eaa5",
    "-t nat -A CNI-DN-0092ee727397973a4eaa5 -s 172.26.64.0/20 -p tcp -m tcp --dport 7000 -j MARK --set-xmark 0x2000/0x2000",
    "-t nat -A CNI-DN-0092ee727397973a4eaa5 -s 127.0.0.1/32 -p tcp -m tcp --dport 7000 -j MARK --set-xmark 0x2000/0x2000",
    "-t nat -A CNI-DN-0092ee727397973a4eaa5 -p tcp -m tcp --dport 7000 -j DNAT --to-destination 172.26.64.2:7000",
    "-t nat -N CNI-HOSTPORT-MASQ",
    "-t nat -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE",
    "-t nat -A POSTROUTING -m comment --comment \"CNI portfwd requiring masquerade\" -j CNI-HOSTPORT-MASQ",
];

#[test]
fn nomad_allocation_rules_read_back_in_canonical_form() {
    let Some(mut b) = backend() else { return };
    let mut s = State::new();
    let mut ops = vec!["ip netns add h".to_owned()];
    ops.extend(NOMAD_RULES.iter().map(|c| ipt(c)));
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    apply_both(&mut b, &mut s, &ops);
    assert_same_state(&mut b, &s, "Nomad rules");
    // Tearing down in reverse gives the default tables back.
    let teardown = [
        "-t nat -D POSTROUTING -s 172.26.64.2/32 -m comment --comment \"name: \\\"nomad\\\" id: \\\"a1\\\"\" -j CNI-0092ee727397973a4eaa5a5e",
        "-t nat -F CNI-0092ee727397973a4eaa5a5e",
        "-t nat -X CNI-0092ee727397973a4eaa5a5e",
        "-D CNI-FORWARD -s 172.26.64.2/32 -j ACCEPT",
        "-D CNI-FORWARD -d 172.26.64.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ];
    let teardown: Vec<String> = teardown.iter().map(|c| ipt(c)).collect();
    let teardown: Vec<&str> = teardown.iter().map(String::as_str).collect();
    apply_both(&mut b, &mut s, &teardown);
    assert_same_state(&mut b, &s, "after teardown");
}
