//! How the kernel's and iptables' refusals become the model's `ErrorKind`s.
//!
//! Two tables, both documented here and tested below:
//! - `ERRNO_KINDS`: errno → kind, for netlink requests, /proc/sys writes and socket calls.
//!   One errno depends on the op: `EADDRNOTAVAIL` means "no such address" when deleting an
//!   address (`RTM_DELADDR`) but "not a local address" when binding a socket.
//! - `IPTABLES_KINDS`: a fragment of an `iptables-restore` message → kind. iptables-nft
//!   reports its own checks as text (`Chain already exists.`) and kernel refusals as
//!   `RULE_APPEND failed (Invalid argument)`, so both are matched by text.
//!
//! Anything not in a table is `ErrorKind::Unexpected`, with the errno or the message in the
//! detail, so that an unknown refusal shows up in a differential run instead of hiding.

use nettwin_core::error::{ErrorKind, OpError};
use nix::errno::Errno;

use crate::netlink::errno_text;

/// The family of an operation, where it changes what an errno means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OpClass {
    /// Anything without a special case.
    General,
    /// `RTM_DELADDR`: `EADDRNOTAVAIL` is "that address is not there".
    AddrDel,
}

/// errno → kind (see the module docs).
pub const ERRNO_KINDS: &[(Errno, ErrorKind)] = &[
    (Errno::EEXIST, ErrorKind::AlreadyExists),
    (Errno::ENODEV, ErrorKind::NotFound),
    (Errno::ENOENT, ErrorKind::NotFound),
    (Errno::ESRCH, ErrorKind::NotFound),
    (Errno::EINVAL, ErrorKind::InvalidArgument),
    (Errno::ERANGE, ErrorKind::InvalidArgument),
    (Errno::EBUSY, ErrorKind::InUse),
    (Errno::ENOTEMPTY, ErrorKind::InUse),
    (Errno::EADDRINUSE, ErrorKind::AddressInUse),
    (Errno::EADDRNOTAVAIL, ErrorKind::AddressNotAvailable),
    (Errno::ENETUNREACH, ErrorKind::Unreachable),
    (Errno::EHOSTUNREACH, ErrorKind::Unreachable),
    (Errno::EACCES, ErrorKind::PermissionDenied),
    (Errno::ENETDOWN, ErrorKind::LinkDown),
    (Errno::EOPNOTSUPP, ErrorKind::NotSupported),
    (Errno::ELOOP, ErrorKind::Loop),
    (Errno::EMLINK, ErrorKind::Loop),
    (Errno::ENOBUFS, ErrorKind::NoBufferSpace),
];

/// The kind of an errno for an op of class `class`.
pub fn errno_kind(class: OpClass, errno: i32) -> ErrorKind {
    let e = Errno::from_raw(errno);
    if class == OpClass::AddrDel && e == Errno::EADDRNOTAVAIL {
        return ErrorKind::NotFound;
    }
    ERRNO_KINDS.iter().find(|(n, _)| *n == e).map_or(ErrorKind::Unexpected, |(_, k)| *k)
}

/// An `OpError` for an errno, with the errno's name and text as the detail.
pub fn errno_error(
    class: OpClass,
    errno: i32,
    action: &'static str,
    object: impl std::fmt::Display,
) -> OpError {
    OpError::new(errno_kind(class, errno), action, object).detail(errno_text(errno))
}

/// Fragments of iptables(-restore) messages → kind, checked in order (see the module docs).
/// Measured with iptables 1.8.9 (nf_tables) on Linux 6.18.
pub const IPTABLES_KINDS: &[(&str, ErrorKind)] = &[
    ("Chain already exists", ErrorKind::AlreadyExists),
    ("No chain/target/match by that name", ErrorKind::NotFound),
    ("Bad rule (does a matching rule exist in that chain?)", ErrorKind::NotFound),
    ("Index of deletion too big", ErrorKind::NotFound),
    ("Index of replacement too big", ErrorKind::NotFound),
    ("does not exist", ErrorKind::NotFound),
    ("Index of insertion too big", ErrorKind::InvalidArgument),
    ("Bad built-in chain name", ErrorKind::InvalidArgument),
    ("Invalid rule number", ErrorKind::InvalidArgument),
    ("is not intended for filtering", ErrorKind::InvalidArgument),
    ("Can't use -", ErrorKind::InvalidArgument),
    ("Device or resource busy", ErrorKind::InUse),
    ("Directory not empty", ErrorKind::InUse),
    ("Too many links", ErrorKind::Loop),
    ("Too many levels of symbolic links", ErrorKind::Loop),
    ("Operation not supported", ErrorKind::NotSupported),
    ("No such file or directory", ErrorKind::NotFound),
    ("File exists", ErrorKind::AlreadyExists),
    ("Invalid argument", ErrorKind::InvalidArgument),
];

/// The kind of an iptables message.
pub fn iptables_kind(message: &str) -> ErrorKind {
    IPTABLES_KINDS
        .iter()
        .find(|(frag, _)| message.contains(frag))
        .map_or(ErrorKind::Unexpected, |(_, k)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(OpClass::General, Errno::EEXIST, ErrorKind::AlreadyExists)]
    #[case(OpClass::General, Errno::ENODEV, ErrorKind::NotFound)]
    #[case(OpClass::General, Errno::EADDRNOTAVAIL, ErrorKind::AddressNotAvailable)]
    #[case(OpClass::AddrDel, Errno::EADDRNOTAVAIL, ErrorKind::NotFound)]
    #[case(OpClass::General, Errno::ELOOP, ErrorKind::Loop)]
    #[case(OpClass::General, Errno::EPERM, ErrorKind::Unexpected)]
    fn errno_maps_to_the_models_kind(
        #[case] class: OpClass,
        #[case] errno: Errno,
        #[case] kind: ErrorKind,
    ) {
        assert_eq!(errno_kind(class, errno as i32), kind);
    }

    #[test]
    fn an_unknown_errno_keeps_its_name_in_the_detail() {
        let e = errno_error(OpClass::General, Errno::EPERM as i32, "add", "x");
        assert_eq!(e.kind, ErrorKind::Unexpected);
        assert!(e.detail.unwrap_or_default().contains("EPERM"));
    }

    #[rstest]
    #[case("iptables-restore: line 2 failed: Chain already exists.", ErrorKind::AlreadyExists)]
    #[case(
        "iptables-restore: line 2 failed: No chain/target/match by that name.",
        ErrorKind::NotFound
    )]
    #[case("line 2: CHAIN_DEL failed (Device or resource busy): chain A", ErrorKind::InUse)]
    #[case("iptables-restore v1.8.9 (nf_tables): Chain 'NOPE' does not exist", ErrorKind::NotFound)]
    #[case("line 2: RULE_APPEND failed (Too many links): rule in chain B", ErrorKind::Loop)]
    #[case(
        "line 2: RULE_APPEND failed (Operation not supported): rule in chain FORWARD",
        ErrorKind::NotSupported
    )]
    #[case(
        "iptables-restore: line 2 failed: Index of insertion too big.",
        ErrorKind::InvalidArgument
    )]
    #[case("iptables-restore: line 2 failed: Index of deletion too big.", ErrorKind::NotFound)]
    #[case(
        "iptables-restore: line 2 failed: Bad rule (does a matching rule exist in that chain?).",
        ErrorKind::NotFound
    )]
    #[case("iptables-restore: line 2 failed: Bad built-in chain name.", ErrorKind::InvalidArgument)]
    #[case(
        "line 2: RULE_APPEND failed (Invalid argument): rule in chain PREROUTING",
        ErrorKind::InvalidArgument
    )]
    #[case("iptables: Directory not empty.", ErrorKind::InUse)]
    #[case(
        "iptables-restore v1.8.9 (nf_tables): Can't use -o with INPUT",
        ErrorKind::InvalidArgument
    )]
    #[case("unknown option \"--dprt\"", ErrorKind::Unexpected)]
    fn iptables_messages_map_to_the_models_kind(#[case] msg: &str, #[case] kind: ErrorKind) {
        assert_eq!(iptables_kind(msg), kind);
    }
}
