//! `OpError`: why an operation was refused, in the kernel's and iptables' own terms.

use std::fmt;

use serde::Serialize;

/// The kind of a refusal. Each kind maps to what the kernel or iptables reports, so that
/// the simulator and the linux backend can be compared kind for kind.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// EEXIST; iptables "Chain already exists".
    AlreadyExists,
    /// ENODEV, ENOENT, ESRCH; iptables "No chain/target/match by that name", "Bad rule",
    /// "Index of deletion too big"; deleting an address that is not there.
    NotFound,
    /// EINVAL: a value the kernel refuses (bad MTU, target not valid in this hook,
    /// "Index of insertion too big", a policy on a user chain).
    InvalidArgument,
    /// EBUSY / ENOTEMPTY: a chain still referenced or not empty.
    InUse,
    /// EADDRINUSE: a socket already bound to that address and port.
    AddressInUse,
    /// EADDRNOTAVAIL on bind: the address is not local.
    AddressNotAvailable,
    /// host-local: no address left in the range.
    PoolExhausted,
    /// ENETUNREACH: a gateway that no connected route reaches.
    Unreachable,
    /// ENETDOWN: the route's device is down.
    LinkDown,
    /// EACCES: a `prohibit` rule refused the lookup.
    PermissionDenied,
    /// EOPNOTSUPP: the object cannot do that (enslave to a non-bridge, jump to a built-in
    /// chain, hairpin on a link that is not a bridge port).
    NotSupported,
    /// ELOOP / EMLINK: a jump that would make a loop, a bridge enslaved to itself.
    Loop,
    /// ENOBUFS: an address for a device without IPv4 configuration (`lo` with an MTU
    /// below 68).
    NoBufferSpace,
    /// Anything the linux backend saw that has no kind above (the errno is in the detail).
    Unexpected,
}

impl ErrorKind {
    /// The short text used in messages and scenario files (`already-exists`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::AlreadyExists => "already-exists",
            ErrorKind::NotFound => "not-found",
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::InUse => "in-use",
            ErrorKind::AddressInUse => "address-in-use",
            ErrorKind::AddressNotAvailable => "address-not-available",
            ErrorKind::PoolExhausted => "pool-exhausted",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::LinkDown => "link-down",
            ErrorKind::PermissionDenied => "permission-denied",
            ErrorKind::NotSupported => "not-supported",
            ErrorKind::Loop => "loop",
            ErrorKind::NoBufferSpace => "no-buffer-space",
            ErrorKind::Unexpected => "unexpected",
        }
    }

    /// Every kind, for parsers and tables.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::AlreadyExists,
        ErrorKind::NotFound,
        ErrorKind::InvalidArgument,
        ErrorKind::InUse,
        ErrorKind::AddressInUse,
        ErrorKind::AddressNotAvailable,
        ErrorKind::PoolExhausted,
        ErrorKind::Unreachable,
        ErrorKind::PermissionDenied,
        ErrorKind::LinkDown,
        ErrorKind::NotSupported,
        ErrorKind::Loop,
        ErrorKind::NoBufferSpace,
        ErrorKind::Unexpected,
    ];

    /// The human phrase used after the object in messages.
    fn phrase(self) -> &'static str {
        match self {
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::NotFound => "not found",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::InUse => "in use",
            ErrorKind::AddressInUse => "address in use",
            ErrorKind::AddressNotAvailable => "address not available",
            ErrorKind::PoolExhausted => "no addresses left",
            ErrorKind::Unreachable => "network unreachable",
            ErrorKind::LinkDown => "link is down",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::NotSupported => "not supported",
            ErrorKind::Loop => "would make a loop",
            ErrorKind::NoBufferSpace => "no buffer space",
            ErrorKind::Unexpected => "unexpected error",
        }
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown error kind {s:?}; expected one of {}", names.join(", "))
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused operation: the kind, the verb, the object it names and an optional detail.
/// Displays as `could not add "veth1a2b3c4d": already exists`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct OpError {
    /// What kind of refusal.
    pub kind: ErrorKind,
    /// The verb of the refused operation (`add`, `delete`, `set`, `bind`, ...).
    pub action: &'static str,
    /// The object it names (`veth1a2b3c4d`, `nat/CNI-HOSTPORT-DNAT`, `172.26.64.2/20`).
    pub object: String,
    /// More about why, when the kind alone does not say it.
    pub detail: Option<String>,
}

impl OpError {
    /// An error without detail.
    pub fn new(kind: ErrorKind, action: &'static str, object: impl fmt::Display) -> OpError {
        OpError { kind, action, object: object.to_string(), detail: None }
    }

    /// Adds a detail.
    pub fn detail(mut self, detail: impl Into<String>) -> OpError {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not {} {:?}: {}", self.action, self.object, self.kind.phrase())?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for OpError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_object() {
        let e = OpError::new(ErrorKind::AlreadyExists, "add", "veth1a2b3c4d");
        assert_eq!(e.to_string(), r#"could not add "veth1a2b3c4d": already exists"#);
        let e = OpError::new(ErrorKind::InUse, "delete", "filter/CNI-FORWARD")
            .detail("referenced by 1 rule");
        assert_eq!(
            e.to_string(),
            r#"could not delete "filter/CNI-FORWARD": in use (referenced by 1 rule)"#
        );
    }

    #[test]
    fn kinds_round_trip_through_text() {
        for k in ErrorKind::ALL {
            assert_eq!(k.as_str().parse::<ErrorKind>(), Ok(k));
        }
        assert!("nope".parse::<ErrorKind>().is_err());
    }
}
