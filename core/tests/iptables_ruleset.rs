//! `Ruleset::apply`: every command's success and every error kind, as iptables v1.8.9
//! (nf_tables) and the kernel give them. Each `#[case]` was run against the real tool in a
//! throwaway netns (`data/iptables/check-commands.sh` replays them); these tests need
//! neither root nor iptables.

use nettwin_core::error::ErrorKind;
use nettwin_core::iptables::{
    Command, MAX_JUMP_DEPTH, Policy, Rule, Ruleset, Table, parse_command, parse_save,
};
use nettwin_core::names::ChainName;
use nettwin_core::text::{Cursor, ParseErrorKind, tokenize};
use rstest::rstest;

fn command(line: &str) -> (Table, Command) {
    let tokens = tokenize(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    parse_command(&mut Cursor::new(&tokens, line.len())).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

fn ruleset(setup: &str) -> Ruleset {
    let mut rs = Ruleset::default();
    for line in setup.split(';').map(str::trim).filter(|l| !l.is_empty()) {
        let (table, cmd) = command(line);
        rs.apply(table, &cmd).unwrap_or_else(|e| panic!("setup {line:?}: {e}"));
    }
    rs
}

#[rstest]
// -N
#[case::new_chain_creates_it("", "-N X", "ok")]
#[case::new_chain_twice_already_exists("-N X", "-N X", "already-exists")]
#[case::new_chain_named_like_a_builtin_already_exists("", "-N INPUT", "already-exists")]
#[case::new_chain_named_like_another_tables_builtin_is_created("", "-N PREROUTING", "ok")]
#[case::nat_new_chain_named_input_already_exists("", "-t nat -N INPUT", "already-exists")]
#[case::new_chain_lowercase_target_name_is_created("", "-N accept", "ok")]
// -X
#[case::delete_chain_removes_it("-N X", "-X X", "ok")]
#[case::delete_missing_chain_is_not_found("", "-X NOPE", "not-found")]
#[case::delete_builtin_chain_is_not_found("", "-X INPUT", "not-found")]
#[case::delete_builtin_chain_with_rules_is_in_use("-A INPUT -j ACCEPT", "-X INPUT", "in-use")]
#[case::delete_builtin_chain_with_policy_drop_is_in_use("-P INPUT DROP", "-X INPUT", "in-use")]
#[case::delete_builtin_chain_used_and_emptied_succeeds(
    "-A INPUT -j ACCEPT; -D INPUT -j ACCEPT",
    "-X INPUT",
    "ok"
)]
#[case::delete_builtin_chain_flushed_succeeds("-F OUTPUT", "-X OUTPUT", "ok")]
#[case::delete_builtin_chain_twice_is_not_found("-F OUTPUT; -X OUTPUT", "-X OUTPUT", "not-found")]
#[case::nat_delete_builtin_chain_flushed_succeeds(
    "-t nat -A POSTROUTING -j ACCEPT; -t nat -F POSTROUTING",
    "-t nat -X POSTROUTING",
    "ok"
)]
#[case::append_jump_to_deleted_builtin_is_not_found(
    "-N X; -F INPUT; -X INPUT",
    "-A X -j INPUT",
    "not-found"
)]
#[case::delete_chain_with_rules_is_in_use("-N X; -A X -j ACCEPT", "-X X", "in-use")]
#[case::delete_chain_still_referenced_is_in_use("-N X; -A FORWARD -j X", "-X X", "in-use")]
#[case::delete_chain_referenced_by_goto_is_in_use("-N X; -A FORWARD -g X", "-X X", "in-use")]
#[case::delete_chain_referenced_from_user_chain_is_in_use(
    "-N X; -N Y; -A X -j Y",
    "-X Y",
    "in-use"
)]
#[case::delete_chain_jumping_to_itself_is_in_use("-N X; -A X -j X", "-X X", "in-use")]
#[case::delete_chain_jumping_to_itself_after_flush("-N X; -A X -j X; -F X", "-X X", "ok")]
#[case::delete_chain_after_its_reference_is_deleted(
    "-N X; -A FORWARD -j X; -D FORWARD -j X",
    "-X X",
    "ok"
)]
#[case::delete_chain_after_its_referrer_is_flushed(
    "-N X; -A FORWARD -j X; -F FORWARD",
    "-X X",
    "ok"
)]
#[case::delete_chain_still_referenced_twice_after_one_delete(
    "-N X; -A FORWARD -j X; -A FORWARD -g X; -D FORWARD -g X",
    "-X X",
    "in-use"
)]
// -F
#[case::flush_table_empties_every_chain("-N X; -A X -j ACCEPT; -A FORWARD -j X", "-F", "ok")]
#[case::flush_table_that_does_not_exist_yet("", "-F", "ok")]
#[case::flush_builtin_chain("-A FORWARD -j ACCEPT", "-F FORWARD", "ok")]
#[case::flush_user_chain("-N X; -A X -j ACCEPT", "-F X", "ok")]
#[case::flush_missing_chain_is_not_found("", "-F NOPE", "not-found")]
// -A
#[case::append_to_builtin("", "-A FORWARD -s 10.0.0.1 -j ACCEPT", "ok")]
#[case::append_output_device_to_input_is_invalid(
    "",
    "-A INPUT -o eth0 -j ACCEPT",
    "invalid-argument"
)]
#[case::insert_input_device_to_output_is_invalid(
    "",
    "-I OUTPUT 1 ! -i lo -j ACCEPT",
    "invalid-argument"
)]
#[case::nat_append_output_device_to_prerouting_is_invalid(
    "",
    "-t nat -A PREROUTING -o eth0 -j ACCEPT",
    "invalid-argument"
)]
#[case::delete_input_device_from_postrouting_is_invalid(
    "",
    "-t nat -D POSTROUTING -i eth0 -j ACCEPT",
    "invalid-argument"
)]
#[case::append_jump_to_the_builtin_chain_itself_is_not_supported(
    "",
    "-A FORWARD -j FORWARD",
    "not-supported"
)]
#[case::nat_append_jump_to_the_builtin_chain_itself_is_not_supported(
    "",
    "-t nat -A PREROUTING -j PREROUTING",
    "not-supported"
)]
#[case::append_output_device_to_user_chain("-N X; -A INPUT -j X", "-A X -o eth0 -j ACCEPT", "ok")]
#[case::append_to_missing_chain_is_not_found("", "-A NOPE -j ACCEPT", "not-found")]
#[case::append_nat_target_to_missing_chain_is_not_found(
    "",
    "-A NOPE -j DNAT --to-destination 1.2.3.4",
    "not-found"
)]
#[case::append_jump_to_missing_chain_is_not_found("", "-A FORWARD -j NOPE", "not-found")]
#[case::append_jump_to_chain_of_the_other_table_is_not_found(
    "-t nat -N X",
    "-A FORWARD -j X",
    "not-found"
)]
#[case::append_jump_to_builtin_is_not_supported(
    "-A FORWARD -j ACCEPT",
    "-A FORWARD -j FORWARD",
    "not-supported"
)]
#[case::append_goto_builtin_is_not_supported(
    "-A FORWARD -j ACCEPT",
    "-A FORWARD -g FORWARD",
    "not-supported"
)]
#[case::append_jump_to_builtin_not_in_kernel_yet_is_not_found(
    "",
    "-A FORWARD -j INPUT",
    "not-found"
)]
#[case::append_jump_to_builtin_after_its_policy_is_not_supported(
    "-P INPUT ACCEPT",
    "-A FORWARD -j INPUT",
    "not-supported"
)]
#[case::append_jump_to_builtin_after_its_flush_is_not_supported(
    "-F OUTPUT",
    "-A FORWARD -j OUTPUT",
    "not-supported"
)]
#[case::append_jump_from_user_chain_to_builtin_is_not_supported(
    "-N X; -A FORWARD -j ACCEPT",
    "-A X -j FORWARD",
    "not-supported"
)]
#[case::append_self_jump_in_unreached_chain_is_accepted("-N X", "-A X -j X", "ok")]
#[case::append_self_jump_in_reached_chain_is_a_loop("-N X; -A FORWARD -j X", "-A X -j X", "loop")]
#[case::append_jump_closing_a_cycle_among_unreached_chains_is_accepted(
    "-N X; -N Y; -A Y -j X",
    "-A X -j Y",
    "ok"
)]
#[case::append_jump_closing_a_cycle_below_a_base_chain_is_a_loop(
    "-N X; -N Y; -A FORWARD -j Y; -A Y -j X",
    "-A X -j Y",
    "loop"
)]
#[case::append_goto_closing_a_cycle_below_a_base_chain_is_a_loop(
    "-N X; -N Y; -A FORWARD -j Y; -A Y -j X",
    "-A X -g Y",
    "loop"
)]
#[case::append_jump_from_base_chain_into_a_cycle_is_a_loop(
    "-N X; -N Y; -A Y -j X; -A X -j Y",
    "-A FORWARD -j Y",
    "loop"
)]
#[case::append_jump_from_base_chain_into_a_self_loop_is_a_loop(
    "-N X; -A X -j X",
    "-A FORWARD -j X",
    "loop"
)]
#[case::nat_cycle_among_unreached_chains_takes_dnat_and_masquerade(
    "-t nat -N X; -t nat -N Y; -t nat -A Y -j X; -t nat -A X -j Y; -t nat -A X -j DNAT --to-destination 1.2.3.4",
    "-t nat -A Y -j MASQUERADE",
    "ok"
)]
#[case::append_negated_zero_prefix_is_invalid(
    "",
    "-A FORWARD ! -s 0.0.0.0/0 -j ACCEPT",
    "invalid-argument"
)]
#[case::append_negated_zero_prefix_destination_is_invalid(
    "",
    "-A FORWARD ! -d 0.0.0.0/0 -j ACCEPT",
    "invalid-argument"
)]
#[case::append_empty_tcp_match_without_proto_is_invalid(
    "",
    "-A FORWARD -m tcp -j ACCEPT",
    "invalid-argument"
)]
#[case::append_empty_tcp_match_with_negated_proto_is_invalid(
    "",
    "-A FORWARD ! -p tcp -m tcp -j ACCEPT",
    "invalid-argument"
)]
#[case::append_empty_tcp_match_under_udp_is_invalid(
    "",
    "-A FORWARD -p udp -m tcp -j ACCEPT",
    "invalid-argument"
)]
#[case::append_tcp_ports_under_negated_tcp("", "-A FORWARD ! -p tcp --dport 80 -j ACCEPT", "ok")]
#[case::append_tcp_reset_without_tcp_is_invalid(
    "",
    "-A FORWARD -j REJECT --reject-with tcp-reset",
    "invalid-argument"
)]
#[case::append_tcp_reset_with_tcp("", "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset", "ok")]
#[case::filter_append_dnat_is_invalid(
    "",
    "-A FORWARD -j DNAT --to-destination 1.2.3.4",
    "invalid-argument"
)]
#[case::filter_append_dnat_to_unreferenced_chain_is_invalid(
    "-N X",
    "-A X -j DNAT --to-destination 1.2.3.4",
    "invalid-argument"
)]
#[case::filter_append_snat_is_invalid(
    "",
    "-A FORWARD -j SNAT --to-source 1.2.3.4",
    "invalid-argument"
)]
#[case::filter_append_masquerade_is_invalid("", "-A FORWARD -j MASQUERADE", "invalid-argument")]
#[case::filter_append_mark_anywhere("", "-A INPUT -j MARK --set-xmark 0x1/0xffffffff", "ok")]
#[case::nat_append_mark("", "-t nat -A PREROUTING -j MARK --set-mark 0x2000/0x2000", "ok")]
#[case::nat_append_reject_is_invalid("", "-t nat -A PREROUTING -j REJECT", "invalid-argument")]
#[case::nat_append_reject_to_unreferenced_chain_is_invalid(
    "-t nat -N X",
    "-t nat -A X -j REJECT",
    "invalid-argument"
)]
#[case::nat_append_accept_to_user_chain("-t nat -N X", "-t nat -A X -j ACCEPT", "ok")]
#[case::nat_append_dnat_in_prerouting(
    "",
    "-t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:8080",
    "ok"
)]
#[case::nat_append_dnat_in_output("", "-t nat -A OUTPUT -j DNAT --to-destination 1.2.3.4", "ok")]
#[case::nat_append_dnat_in_postrouting_is_invalid(
    "",
    "-t nat -A POSTROUTING -j DNAT --to-destination 1.2.3.4",
    "invalid-argument"
)]
#[case::nat_append_dnat_in_input_is_invalid(
    "",
    "-t nat -A INPUT -j DNAT --to-destination 1.2.3.4",
    "invalid-argument"
)]
#[case::nat_append_snat_in_input("", "-t nat -A INPUT -j SNAT --to-source 1.2.3.4", "ok")]
#[case::nat_append_snat_in_postrouting(
    "",
    "-t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4",
    "ok"
)]
#[case::nat_append_snat_in_output_is_invalid(
    "",
    "-t nat -A OUTPUT -j SNAT --to-source 1.2.3.4",
    "invalid-argument"
)]
#[case::nat_append_masquerade_in_postrouting(
    "",
    "-t nat -A POSTROUTING ! -d 224.0.0.0/4 -j MASQUERADE",
    "ok"
)]
#[case::nat_append_masquerade_in_input_is_invalid(
    "",
    "-t nat -A INPUT -j MASQUERADE",
    "invalid-argument"
)]
#[case::nat_unreferenced_chain_takes_dnat_next_to_masquerade(
    "-t nat -N Z; -t nat -A Z -j MASQUERADE",
    "-t nat -A Z -j DNAT --to-destination 1.2.3.4",
    "ok"
)]
#[case::nat_jump_from_prerouting_to_dnat_chain(
    "-t nat -N X; -t nat -A X -j DNAT --to-destination 1.2.3.4",
    "-t nat -A PREROUTING -j X",
    "ok"
)]
#[case::nat_jump_from_output_to_dnat_chain(
    "-t nat -N X; -t nat -A X -j DNAT --to-destination 1.2.3.4",
    "-t nat -A OUTPUT -j X",
    "ok"
)]
#[case::nat_jump_from_postrouting_to_dnat_chain_is_invalid(
    "-t nat -N X; -t nat -A X -j DNAT --to-destination 1.2.3.4",
    "-t nat -A POSTROUTING -j X",
    "invalid-argument"
)]
#[case::nat_jump_from_input_to_dnat_chain_is_invalid(
    "-t nat -N X; -t nat -A X -j DNAT --to-destination 1.2.3.4",
    "-t nat -A INPUT -j X",
    "invalid-argument"
)]
#[case::nat_snat_into_chain_reached_from_prerouting_is_invalid(
    "-t nat -N X; -t nat -A PREROUTING -j X",
    "-t nat -A X -j SNAT --to-source 1.2.3.4",
    "invalid-argument"
)]
#[case::nat_masquerade_into_chain_reached_from_prerouting_is_invalid(
    "-t nat -N X; -t nat -A PREROUTING -j X",
    "-t nat -A X -j MASQUERADE",
    "invalid-argument"
)]
#[case::nat_dnat_into_chain_reached_from_prerouting_and_postrouting_is_invalid(
    "-t nat -N X; -t nat -A PREROUTING -j X; -t nat -A POSTROUTING -j X",
    "-t nat -A X -j DNAT --to-destination 1.2.3.4",
    "invalid-argument"
)]
#[case::nat_jump_to_chain_masquerading_two_levels_down_from_prerouting_is_invalid(
    "-t nat -N X; -t nat -A X -j MASQUERADE; -t nat -N Y; -t nat -A Y -j X; -t nat -A POSTROUTING -j Y",
    "-t nat -A PREROUTING -j Y",
    "invalid-argument"
)]
#[case::nat_linking_masquerade_chain_below_prerouting_is_invalid(
    "-t nat -N X; -t nat -A PREROUTING -j X; -t nat -N Y; -t nat -A Y -j MASQUERADE",
    "-t nat -A X -j Y",
    "invalid-argument"
)]
#[case::nat_masquerade_chain_below_postrouting_via_goto(
    "-t nat -N X; -t nat -A X -j MASQUERADE; -t nat -N Y; -t nat -A Y -g X",
    "-t nat -A POSTROUTING -j Y",
    "ok"
)]
// -I
#[case::insert_into_empty_chain("-N X", "-I X -j ACCEPT", "ok")]
#[case::insert_at_len_plus_one("-N X; -A X -j ACCEPT", "-I X 2 -j DROP", "ok")]
#[case::insert_past_len_plus_one_is_invalid(
    "-N X; -A X -j ACCEPT",
    "-I X 3 -j DROP",
    "invalid-argument"
)]
#[case::insert_past_end_of_empty_chain_is_invalid("-N X", "-I X 2 -j DROP", "invalid-argument")]
#[case::insert_into_builtin_not_in_kernel_past_end_is_invalid(
    "",
    "-I FORWARD 2 -j ACCEPT",
    "invalid-argument"
)]
#[case::insert_into_missing_chain_is_not_found("", "-I NOPE 5 -j DROP", "not-found")]
#[case::insert_index_error_comes_before_jump_to_builtin(
    "-N X",
    "-I X 5 -j FORWARD",
    "invalid-argument"
)]
#[case::insert_index_error_comes_before_nat_hook_error(
    "-t nat -N X; -t nat -A X -j DNAT --to-destination 1.2.3.4",
    "-t nat -I POSTROUTING 5 -j X",
    "invalid-argument"
)]
#[case::insert_jump_to_missing_chain_comes_before_index_error(
    "-N X",
    "-I X 5 -j NOPE",
    "not-found"
)]
#[case::insert_closing_a_cycle_below_a_base_chain_is_a_loop(
    "-N X; -N Y; -A FORWARD -j X; -A Y -j X",
    "-I X -j Y",
    "loop"
)]
// -D
#[case::delete_rule_by_spec(
    "-N X; -A X -p tcp --dport 80 -j ACCEPT",
    "-D X -p tcp -m tcp --dport 80 -j ACCEPT",
    "ok"
)]
#[case::delete_rule_by_spec_after_canonicalization(
    "-N X; -A X -s 10.1.2.3/24 -j ACCEPT",
    "-D X -s 10.1.2.0/24 -j ACCEPT",
    "ok"
)]
#[case::delete_rule_with_another_comment_is_not_found(
    "-N X; -A X -m comment --comment a -j ACCEPT",
    "-D X -m comment --comment b -j ACCEPT",
    "not-found"
)]
#[case::delete_missing_rule_is_not_found("-N X", "-D X -j ACCEPT", "not-found")]
#[case::delete_rule_from_missing_chain_is_not_found("", "-D NOPE -j DROP", "not-found")]
#[case::delete_spec_jumping_to_missing_chain_is_not_found("-N X", "-D X -j NOPE", "not-found")]
#[case::delete_by_index("-N X; -A X -j ACCEPT", "-D X 1", "ok")]
#[case::delete_index_past_end_is_not_found("-N X; -A X -j ACCEPT", "-D X 2", "not-found")]
#[case::delete_index_in_missing_chain_is_not_found("", "-D NOPE 1", "not-found")]
#[case::delete_index_in_builtin_not_in_kernel_is_not_found("", "-D FORWARD 1", "not-found")]
// -P
#[case::policy_drop_on_builtin("", "-P FORWARD DROP", "ok")]
#[case::policy_accept_on_nat_builtin("", "-t nat -P PREROUTING ACCEPT", "ok")]
#[case::policy_on_user_chain_is_invalid("-N X", "-P X DROP", "invalid-argument")]
#[case::policy_on_missing_chain_is_invalid("", "-P NOPE DROP", "invalid-argument")]
fn apply_gives_the_kernels_answer(#[case] setup: &str, #[case] line: &str, #[case] expected: &str) {
    let mut rs = ruleset(setup);
    let before = rs.clone();
    let (table, cmd) = command(line);
    let got = rs.apply(table, &cmd);
    match got {
        Ok(()) => {
            assert_eq!(expected, "ok", "{line:?} succeeded");
            assert_ne!(rs.generation(), before.generation(), "generation moves on success");
        }
        Err(e) => {
            assert_eq!(e.kind.as_str(), expected, "{line:?}: {e}");
            assert_eq!(rs, before, "{line:?} failed, so nothing may change");
            let chain = cmd.chain().map(|c| format!("{table}/{c}")).unwrap_or_default();
            assert_eq!(e.object, chain, "the error names table/chain");
        }
    }
}

/// A chain of `n` user chains C0 → C1 → … → C(n-1), nothing jumping to C0.
fn jump_chain(n: usize) -> Ruleset {
    let mut rs = Ruleset::default();
    for i in 0..n {
        rs.apply(Table::Filter, &command(&format!("-N C{i}")).1).expect("new chain");
    }
    for i in 1..n {
        let (t, cmd) = command(&format!("-A C{} -j C{i}", i - 1));
        rs.apply(t, &cmd).expect("unreferenced chains take any depth");
    }
    rs
}

#[test]
fn append_jump_to_a_path_of_fifteen_jumps_below_a_base_chain_succeeds() {
    let mut rs = jump_chain(MAX_JUMP_DEPTH as usize);
    let (t, cmd) = command("-A FORWARD -j C0");
    assert_eq!(rs.apply(t, &cmd), Ok(()));
}

#[test]
fn append_jump_making_sixteen_jumps_below_a_base_chain_is_a_loop() {
    let mut rs = jump_chain(MAX_JUMP_DEPTH as usize + 1);
    let (t, cmd) = command("-A FORWARD -j C0");
    assert_eq!(rs.apply(t, &cmd).map_err(|e| e.kind), Err(ErrorKind::Loop));
    // Adding depth at the bottom of a reached path is checked too.
    let mut rs = jump_chain(MAX_JUMP_DEPTH as usize);
    rs.apply(Table::Filter, &command("-A FORWARD -j C0").1).expect("15 jumps");
    rs.apply(Table::Filter, &command("-N D").1).expect("new chain");
    let (t, cmd) = command(&format!("-A C{} -j D", MAX_JUMP_DEPTH - 1));
    assert_eq!(rs.apply(t, &cmd).map_err(|e| e.kind), Err(ErrorKind::Loop));
}

#[test]
fn delete_chain_still_referenced_names_table_and_chain() {
    let mut rs = ruleset("-N Y; -A FORWARD -j Y");
    let e = rs.apply(Table::Filter, &command("-X Y").1).expect_err("in use");
    assert_eq!(e.kind, ErrorKind::InUse);
    assert!(e.to_string().starts_with(r#"could not delete "filter/Y": in use"#), "{e}");
}

#[rstest]
#[case::nat_drop_target_is_refused_by_iptables("-t nat -A PREROUTING -j DROP", "DROP")]
#[case::nat_drop_policy_is_refused_by_iptables("-t nat -P PREROUTING DROP", "DROP")]
#[case::new_chain_named_like_a_target_is_refused("-N ACCEPT", "ACCEPT")]
#[case::new_chain_named_like_an_extension_target_is_refused("-N LOG", "LOG")]
#[case::insert_at_zero_is_refused("-I FORWARD 0 -j DROP", "0")]
#[case::delete_at_zero_is_refused("-D FORWARD 0", "0")]
#[case::policy_return_is_refused("-P FORWARD RETURN", "RETURN")]
#[case::unknown_table_is_refused("-t bogus -A FORWARD", "bogus")]
#[case::chain_name_too_long_is_refused(
    "-N abcdefghijklmnopqrstuvwxyzabc",
    "abcdefghijklmnopqrstuvwxyzabc"
)]
#[case::two_tables_are_refused("-t nat -t filter -F", "-t")]
fn parse_command_refuses_what_iptables_refuses(#[case] line: &str, #[case] token: &str) {
    let tokens = tokenize(line).expect("tokenizes");
    let e = parse_command(&mut Cursor::new(&tokens, line.len())).expect_err("refused");
    assert!(
        matches!(e.kind, ParseErrorKind::Invalid { .. } | ParseErrorKind::Conflict { .. }),
        "{line:?}: {e}"
    );
    assert_eq!(&line[e.span.clone()], token, "{line:?}: {e}");
}

#[rstest]
#[case::security_table("-t security -A INPUT -j ACCEPT", "security")]
#[case::list("-L FORWARD", "-L")]
#[case::check("-C FORWARD -j ACCEPT", "-C")]
#[case::delete_every_chain("-X", "-X")]
#[case::option_before_command("-s 1.2.3.4 -A FORWARD", "-s")]
fn parse_command_marks_unmodeled_commands_unsupported(#[case] line: &str, #[case] token: &str) {
    let tokens = tokenize(line).expect("tokenizes");
    let e = parse_command(&mut Cursor::new(&tokens, line.len())).expect_err("refused");
    assert!(matches!(e.kind, ParseErrorKind::Unsupported { .. }), "{line:?}: {e}");
    assert_eq!(&line[e.span.clone()], token, "{line:?}: {e}");
}

#[rstest]
#[case("-A FORWARD -s 10.0.0.1 -j ACCEPT", Table::Filter, "-A FORWARD -s 10.0.0.1/32 -j ACCEPT")]
#[case("-t nat -I POSTROUTING 2 -j MASQUERADE", Table::Nat, "-I POSTROUTING 2 -j MASQUERADE")]
#[case(
    "--table nat --append X -p tcp --dport 80 -j ACCEPT",
    Table::Nat,
    "-A X -p tcp -m tcp --dport 80 -j ACCEPT"
)]
#[case("-A X -j ACCEPT -t nat", Table::Nat, "-A X -j ACCEPT")]
#[case("-I X -j ACCEPT", Table::Filter, "-I X 1 -j ACCEPT")]
#[case("-D X -j ACCEPT", Table::Filter, "-D X -j ACCEPT")]
#[case("-D X 3", Table::Filter, "-D X 3")]
#[case("-N X", Table::Filter, "-N X")]
#[case("--delete-chain X", Table::Filter, "-X X")]
#[case("-F", Table::Filter, "-F")]
#[case("--flush X", Table::Filter, "-F X")]
#[case("-P FORWARD DROP", Table::Filter, "-P FORWARD DROP")]
#[case("-A X", Table::Filter, "-A X")]
fn commands_print_as_iptables_arguments(
    #[case] line: &str,
    #[case] table: Table,
    #[case] printed: &str,
) {
    let (t, cmd) = command(line);
    assert_eq!(t, table);
    assert_eq!(cmd.to_string(), printed);
    assert_eq!(command(printed).1, cmd, "printing is a fixed point");
}

#[test]
fn programmatic_commands_get_the_same_checks_as_parsed_ones() {
    let mut rs = Ruleset::default();
    let chain = |s: &str| ChainName::new(s).expect("valid");
    let drop = Rule { target: nettwin_core::iptables::Target::Drop, ..Rule::default() };
    let e =
        rs.apply(Table::Nat, &Command::Append(chain("PREROUTING"), drop)).expect_err("nat DROP");
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let e =
        rs.apply(Table::Nat, &Command::Policy(chain("OUTPUT"), Policy::Drop)).expect_err("policy");
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let e = rs.apply(Table::Filter, &Command::NewChain(chain("MARK"))).expect_err("target name");
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let e = rs.apply(Table::Filter, &Command::Insert(chain("FORWARD"), 0, Rule::default()));
    assert_eq!(e.map_err(|e| e.kind), Err(ErrorKind::InvalidArgument));
    assert_eq!(rs, Ruleset::default(), "nothing changed");
}

const NOMAD_COMMANDS: &str = include_str!("data/iptables/nomad-commands.txt");
const NOMAD_SAVE: &str = include_str!("data/iptables/nomad-save.txt");
const NOMAD_SAVE_C: &str = include_str!("data/iptables/nomad-save-c.txt");

fn replay(commands: &str) -> Ruleset {
    let mut rs = Ruleset::default();
    for line in commands.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (table, cmd) = command(line);
        rs.apply(table, &cmd).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    }
    rs
}

#[test]
fn nomad_setup_displays_exactly_as_iptables_save() {
    assert_eq!(replay(NOMAD_COMMANDS).to_string(), NOMAD_SAVE);
}

#[test]
fn iptables_save_with_counters_parses_back_to_the_same_rule_set() {
    let parsed = parse_save(NOMAD_SAVE_C).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.to_string(), NOMAD_SAVE);
    let again = parse_save(&parsed.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.to_string(), NOMAD_SAVE, "Display and parse_save round-trip");
    let nat = parsed.table(Table::Nat);
    assert_eq!(nat.references("CNI-HOSTPORT-DNAT"), 2);
    let e = {
        let mut p = parsed.clone();
        p.apply(Table::Nat, &command("-t nat -A POSTROUTING -j CNI-HOSTPORT-DNAT").1)
    };
    assert_eq!(e.map_err(|e| e.kind), Err(ErrorKind::InvalidArgument), "DNAT below POSTROUTING");
}

#[rstest]
#[case::fresh_namespace_shows_no_table("", "")]
#[case::flushing_a_table_that_does_not_exist_creates_nothing("-F", "")]
#[case::flushing_a_builtin_chain_creates_the_table(
    "-F FORWARD",
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
)]
#[case::a_table_back_in_its_default_state_is_still_shown(
    "-t nat -N X; -t nat -X X",
    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
)]
#[case::failed_commands_create_no_table("", "")]
#[case::user_chains_sort_by_bytes_and_rules_follow_chain_order(
    "-N b; -N Z; -N _x; -N A; -A b -j ACCEPT; -A A -j ACCEPT; -A FORWARD -j A; -A INPUT",
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n:Z - [0:0]\n:_x - [0:0]\n:b - [0:0]\n-A INPUT\n-A FORWARD -j A\n-A A -j ACCEPT\n-A b -j ACCEPT\nCOMMIT\n"
)]
fn display_matches_iptables_save(#[case] setup: &str, #[case] expected: &str) {
    let mut rs = ruleset(setup);
    for failing in [
        "-A NOPE -j ACCEPT",
        "-X NOPE",
        "-t nat -P X ACCEPT",
        "-D FORWARD 9",
        "-I FORWARD 9 -j ACCEPT",
    ] {
        let (t, cmd) = command(failing);
        let _ = rs.apply(t, &cmd);
    }
    assert_eq!(rs.to_string(), expected);
}

#[rstest]
#[case::rule_outside_a_table("-A FORWARD -j ACCEPT\n", 1)]
#[case::missing_commit("*filter\n:INPUT ACCEPT [0:0]\n", 1)]
#[case::unsupported_table("*security\nCOMMIT\n", 1)]
#[case::undeclared_jump_target("*filter\n-A FORWARD -j X\nCOMMIT\n", 2)]
#[case::bad_rule("# header\n*filter\n[0:0] -A FORWARD -j CONNMARK\nCOMMIT\n", 3)]
#[case::policy_on_user_chain("*filter\n:X DROP [0:0]\nCOMMIT\n", 2)]
fn parse_save_names_the_bad_line(#[case] text: &str, #[case] line: usize) {
    let e = parse_save(text).expect_err("refused");
    assert_eq!(e.line, line, "{e}");
    assert!(e.error.span.end <= text.len());
}

/// What the simulator does for a full /20 of allocations: per allocation the firewall
/// plugin's two CNI-FORWARD rules, the ipMasq chain with its two rules and the POSTROUTING
/// jump, the portmap chain with mark and DNAT rules for tcp and udp and its jump from
/// CNI-HOSTPORT-DNAT (about 40,000 commands). Timing is left to benchmarks; this checks
/// the result stays consistent at that size.
#[test]
fn building_a_full_slash_20_of_allocations_keeps_the_bookkeeping_consistent() {
    let mut rs = replay(
        "-N CNI-FORWARD; -A FORWARD -j CNI-FORWARD; -t nat -N CNI-HOSTPORT-DNAT; \
         -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT; \
         -t nat -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"
            .replace("; ", "\n")
            .as_str(),
    );
    let mut count = 0;
    for i in 0..4093u32 {
        let ip = format!("172.26.{}.{}", 64 + (i + 2) / 256, (i + 2) % 256);
        let masq = format!("CNI-{i:024x}");
        let dn = format!("CNI-DN-{i:021x}");
        let port = 20000 + i % 12000;
        let lines = [
            format!(
                "-A CNI-FORWARD -d {ip}/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            ),
            format!("-A CNI-FORWARD -s {ip}/32 -j ACCEPT"),
            format!("-t nat -N {masq}"),
            format!("-t nat -A {masq} -d 172.26.64.0/20 -j ACCEPT"),
            format!("-t nat -A {masq} ! -d 224.0.0.0/4 -j MASQUERADE"),
            format!("-t nat -A POSTROUTING -s {ip}/32 -j {masq}"),
            format!("-t nat -N {dn}"),
            format!(
                "-t nat -A {dn} -s 172.26.64.0/20 -p tcp --dport {port} -j MARK --set-xmark 0x2000/0x2000"
            ),
            format!("-t nat -A {dn} -p tcp --dport {port} -j DNAT --to-destination {ip}:{port}"),
            format!(
                "-t nat -A {dn} -s 172.26.64.0/20 -p udp --dport {port} -j MARK --set-xmark 0x2000/0x2000"
            ),
            format!("-t nat -A {dn} -p udp --dport {port} -j DNAT --to-destination {ip}:{port}"),
            format!("-t nat -A CNI-HOSTPORT-DNAT -p tcp -m multiport --dports {port} -j {dn}"),
        ];
        for line in &lines {
            let (t, cmd) = command(line);
            rs.apply(t, &cmd).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            count += 1;
        }
    }
    assert!(count > 40_000);
    let nat = rs.table(Table::Nat);
    assert_eq!(nat.references("CNI-HOSTPORT-DNAT"), 2);
    assert_eq!(nat.chain("POSTROUTING").map(|c| c.rules.len()), Some(4093));
    let e = rs.apply(Table::Nat, &command("-t nat -A POSTROUTING -j CNI-HOSTPORT-DNAT").1);
    assert_eq!(e.map_err(|e| e.kind), Err(ErrorKind::InvalidArgument));
}

#[test]
fn a_refused_first_command_leaves_a_ruleset_equal_to_a_fresh_one() {
    // Tables are stored lazily; one made for a command that failed must not show.
    let fresh = Ruleset::default();
    let mut rs = Ruleset::default();
    for line in ["-X NOPE", "-t nat -A NOPE -j ACCEPT", "-t nat -X POSTROUTING"] {
        let (table, cmd) = command(line);
        assert!(rs.apply(table, &cmd).is_err(), "{line}");
    }
    assert_eq!(rs, fresh);
    assert_eq!(format!("{rs:?}"), format!("{fresh:?}"));
    assert_eq!(rs.to_string(), "");
    for t in Table::ALL {
        assert!(rs.table(t).is_default() && !rs.table(t).exists(), "{t}");
        assert_eq!(rs.table(t).chains().count(), t.builtin_chains().len());
    }
    let (table, cmd) = command("-t nat -F");
    rs.apply(table, &cmd).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rs.to_string(), "", "-F of a whole missing table does not create it");
    assert_ne!(rs, fresh, "but it counts as a change");
}

#[test]
fn rule_lookups_agree_with_a_scan_as_a_chain_grows_and_shrinks() {
    // Small chains are scanned, long ones looked up by rule hash; -C and -D must not
    // notice the switch either way, duplicates included.
    let rule = |i: usize| command(&format!("-A X -s 10.0.0.{}/32 -j ACCEPT", i % 7)).1;
    let spec = |cmd: &Command| match cmd {
        Command::Append(_, r) => r.clone(),
        other => panic!("{other:?}"),
    };
    let mut rs = ruleset("-N X");
    let check = |rs: &Ruleset| {
        let chain = rs.table(Table::Filter).chain("X").map(|c| c.rules.clone()).unwrap_or_default();
        for i in 0..8 {
            let r = spec(&rule(i));
            assert_eq!(rs.table(Table::Filter).contains_rule("X", &r), chain.contains(&r), "{i}");
        }
    };
    for i in 0..20 {
        rs.apply(Table::Filter, &rule(i)).unwrap_or_else(|e| panic!("{e}"));
        check(&rs);
    }
    for i in (0..20).rev() {
        let (table, del) = command(&format!("-D X -s 10.0.0.{}/32 -j ACCEPT", i % 7));
        rs.apply(table, &del).unwrap_or_else(|e| panic!("{i}: {e}"));
        check(&rs);
    }
    let (table, del) = command("-D X -s 10.0.0.1/32 -j ACCEPT");
    assert_eq!(rs.apply(table, &del).map_err(|e| e.kind), Err(ErrorKind::NotFound));
}

#[test]
fn a_built_comment_with_a_control_character_is_refused_and_changes_nothing() {
    let mut rs = Ruleset::default();
    let before = rs.clone();
    let rule = Rule {
        matches: vec![nettwin_core::iptables::Match::Comment("a\nCOMMIT".into())],
        target: nettwin_core::iptables::Target::Accept,
        ..Rule::default()
    };
    let chain = ChainName::new("INPUT").expect("name");
    let err = rs.apply(Table::Filter, &Command::Append(chain, rule)).expect_err("refused");
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert_eq!(rs, before);
}
