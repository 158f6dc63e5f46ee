//! Gating for kernel tests: `require_linux()` says whether a test that needs root, the
//! tools and network namespaces can run here.
//!
//! When it cannot, the test prints a visible `SKIPPED (...)` line to stderr and returns;
//! with `NETTWIN_REQUIRE_LINUX=1` (set by CI) a missing capability fails the test instead,
//! so that kernel tests never pass silently without running.

use crate::netns::NsWorker;

/// The environment variable that turns a skip into a failure.
pub const REQUIRE_ENV: &str = "NETTWIN_REQUIRE_LINUX";

/// Why kernel tests cannot run here, or `None` when they can.
pub fn missing_capability() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".to_owned());
    }
    for tool in ["ip", "iptables", "iptables-restore", "iptables-save"] {
        if crate::tools::find(tool).is_none() {
            return Some(format!("{tool} is not installed"));
        }
    }
    if let Err(e) = NsWorker::spawn("check") {
        return Some(format!("cannot create a network namespace: {e}"));
    }
    None
}

/// Whether a kernel test should run. Prints `SKIPPED (why)` to stderr and returns `false`
/// when it cannot; panics instead when `NETTWIN_REQUIRE_LINUX=1`.
///
/// ```no_run
/// if !nettwin_linux::testing::require_linux() {
///     return;
/// }
/// ```
pub fn require_linux() -> bool {
    match missing_capability() {
        None => true,
        Some(why) => {
            if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE_ENV}=1 but the linux backend cannot run here: {why}");
            }
            // Written to the stderr handle, not with `eprintln!`, which the test harness
            // captures: a skip must show even when the test passes.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (linux backend tests need root, ip, iptables and netns: {why})"
            );
            false
        }
    }
}
