//! nettwin-fuzz: one function per parser, taking arbitrary bytes. A target must never
//! panic, whatever the input; where a parser's output can be printed back, the printed
//! form must parse to the same value (the printers are canonical).
//!
//! - [`op`]: an op line (`ip -n host link add ...`), `core::op::text`.
//! - [`iptables_save`]: `iptables-save [-c]` output, `core::iptables::parse_save_counted`.
//! - [`scenario`]: a scenario file, `nettwin_scenarios::load_str`.
//! - [`jobspec`]: a Nomad jobspec and a client file, `nettwin_nomad`.
//! - [`packet`]: a captured Ethernet frame, the linux backend's packet parser.
//!
//! `fuzz/run.sh` runs them under libFuzzer (the `libfuzzer/` crate holds the harness);
//! `tests/replay.rs` runs every file of `corpus/` and `crashes/` through them in
//! `cargo test`.

#![forbid(unsafe_code)]

use nettwin_core::iptables::{Table, parse_save, parse_save_counted};
use nettwin_core::op::Op;
use nettwin_core::op::text::parse_op;

/// A fuzz target: bytes in, a panic on a broken invariant.
pub type Target = fn(&[u8]);

/// The targets by name, as `run.sh` and the replay test know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("op", op),
    ("iptables_save", iptables_save),
    ("scenario", scenario),
    ("jobspec", jobspec),
    ("packet", packet),
];

/// An op line: parses or is refused; a parsed op prints as text that parses to it again.
pub fn op(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(op) = parse_op(text) else { return };
    let printed = op.to_string();
    match parse_op(&printed) {
        Ok(again) => assert_eq!(again, op, "{text:?} printed as {printed:?}"),
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }
    let _: &Op = &op;
}

/// `iptables-save` output: parses or is refused; a parsed rule set prints as
/// `iptables-save` text that parses to the same tables (the rule sets' change counters,
/// which count commands, may differ) and prints the same again.
pub fn iptables_save(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok((rules, counters)) = parse_save_counted(text) else { return };
    assert!(counters.iter().all(|c| c.rule.is_none_or(|n| n >= 1)));
    let printed = rules.to_string();
    match parse_save(&printed) {
        Ok(again) => {
            for t in Table::ALL {
                assert_eq!(again.table(t), rules.table(t), "{text:?} printed as {printed:?}");
            }
            assert_eq!(again.to_string(), printed, "{text:?}: the printer is not canonical");
        }
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }
}

/// A scenario file: loads or is refused with located problems (every place inside the
/// file).
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = nettwin_scenarios::load_str("fuzz.yaml", text) {
        for p in &e.problems {
            assert!(p.place.bytes.end <= text.len(), "{p:?} is outside the file");
            assert!(p.place.line >= 1 && p.place.column >= 1, "{p:?}");
        }
    }
}

/// A jobspec and a client file: parse or are refused at a place inside the file.
pub fn jobspec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for result in [
        nettwin_nomad::jobspec::parse_job(text).map(drop),
        nettwin_nomad::client_file::parse_client_file(text).map(drop),
    ] {
        if let Err(e) = result {
            assert!(e.at.bytes.end <= text.len(), "{e:?} is outside the file");
        }
    }
}

/// A captured frame: parses or is ignored.
pub fn packet(data: &[u8]) {
    if let Some(p) = nettwin_linux::probe::packet::parse_frame(data) {
        let _ = p;
    }
    let _ = nettwin_linux::probe::packet::parse_ipv4(data);
}
