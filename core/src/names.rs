//! Validated names: network namespaces, interfaces, iptables chains, MAC addresses.
//!
//! Each type checks its invariant in its constructor (`FromStr` / `new`) and never
//! offers a setter, so a value that exists is a value the kernel would accept.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("{what} name is empty")]
    Empty {
        /// What kind of name it was (interface, namespace, chain).
        what: &'static str,
    },
    /// The name is longer than the kernel allows.
    #[error("{what} name {name:?} is {len} bytes long; the limit is {max}")]
    TooLong {
        /// What kind of name it was.
        what: &'static str,
        /// The refused name.
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The name contains a character the kernel refuses.
    #[error("{what} name {name:?} contains {ch:?}, which is not allowed")]
    BadChar {
        /// What kind of name it was.
        what: &'static str,
        /// The refused name.
        name: String,
        /// The offending character.
        ch: char,
    },
    /// The name is one the kernel reserves (`.` or `..`).
    #[error("{what} name {name:?} is reserved")]
    Reserved {
        /// What kind of name it was.
        what: &'static str,
        /// The refused name.
        name: String,
    },
}

/// Longest interface name the kernel accepts: `IFNAMSIZ` (16) minus the NUL.
pub const IFNAME_MAX: usize = 15;

/// Longest chain name iptables accepts: `XT_EXTENSION_MAXNAMELEN` (29) minus the NUL.
pub const CHAIN_NAME_MAX: usize = 28;

/// Longest namespace name we accept (a file name under /run/netns; kept short so that
/// sandbox prefixes still fit).
pub const NETNS_NAME_MAX: usize = 64;

macro_rules! string_name {
    ($(#[$doc:meta])* $ty:ident, $check:path, $const_check:path, $max:expr) => {
        $(#[$doc])*
        ///
        /// Shared text: a clone is a reference count, not a copy (traces clone names into
        /// every hop).
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(std::sync::Arc<str>);

        impl $ty {
            /// Checks `s` and wraps it.
            pub fn new(s: &str) -> Result<Self, NameError> {
                $check(s)?;
                Ok(Self(std::sync::Arc::from(s)))
            }

            /// Whether a name is valid, in a `const` context: what [`static_name!`](crate::static_name!) checks
            /// at compile time. It accepts only ASCII, so it never accepts a name that
            /// `new` refuses.
            pub const fn is_valid_static(s: &str) -> bool {
                $const_check(s.as_bytes())
            }

            /// Wraps a name that [`static_name!`](crate::static_name!) checked at compile time. Use the macro:
            /// this constructor checks nothing itself.
            #[doc(hidden)]
            pub fn from_checked_static(s: &'static str) -> Self {
                Self(std::sync::Arc::from(s))
            }

            /// `prefix` followed by the lowercase hex digits of `bytes`, cut to the
            /// longest name the kernel takes. Infallible: a valid name followed by hex
            /// digits, no longer than the limit, is valid.
            pub fn hex_suffixed(prefix: &Self, bytes: &[u8]) -> Self {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut out = String::with_capacity($max);
                out.push_str(prefix.as_str());
                for b in bytes {
                    for nibble in [b >> 4, b & 0xf] {
                        if out.len() < $max {
                            out.push(char::from(HEX[usize::from(nibble)]));
                        }
                    }
                }
                Self(std::sync::Arc::from(out))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_name!(
    /// An interface name the kernel accepts: 1–15 bytes, not `.` or `..`, no `/`, `:` or
    /// whitespace (the rules of `dev_valid_name`).
    IfName,
    check_ifname,
    valid_ifname_bytes,
    IFNAME_MAX
);

string_name!(
    /// A network namespace name: 1–64 bytes of `[A-Za-z0-9_.-]`, not `.` or `..`
    /// (it becomes a file name under /run/netns).
    NetnsName,
    check_netns,
    valid_netns_bytes,
    NETNS_NAME_MAX
);

string_name!(
    /// An iptables chain name: 1–28 bytes, no whitespace, not starting with `-` or `!`.
    ChainName,
    check_chain,
    valid_chain_bytes,
    CHAIN_NAME_MAX
);

/// A name of a fixed text, checked at compile time: `static_name!(IfName, "lo")`. The
/// text must be a constant; an invalid one does not compile.
#[macro_export]
macro_rules! static_name {
    ($ty:ident, $s:expr) => {{
        const TEXT: &str = $s;
        const _: () = assert!($crate::names::$ty::is_valid_static(TEXT), "not a valid name");
        $crate::names::$ty::from_checked_static(TEXT)
    }};
}

/// `len` within `1..=max`, every byte ASCII and graphic (no whitespace, no control
/// characters), and not `.` or `..`; the common part of the `const` checks.
const fn plain_ascii(b: &[u8], max: usize) -> bool {
    if b.is_empty() || b.len() > max {
        return false;
    }
    if (b.len() == 1 && b[0] == b'.') || (b.len() == 2 && b[0] == b'.' && b[1] == b'.') {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_graphic() {
            return false;
        }
        i += 1;
    }
    true
}

const fn valid_ifname_bytes(b: &[u8]) -> bool {
    if !plain_ascii(b, IFNAME_MAX) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' || b[i] == b':' {
            return false;
        }
        i += 1;
    }
    true
}

const fn valid_netns_bytes(b: &[u8]) -> bool {
    if !plain_ascii(b, NETNS_NAME_MAX) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.' || b[i] == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

const fn valid_chain_bytes(b: &[u8]) -> bool {
    plain_ascii(b, CHAIN_NAME_MAX) && b[0] != b'-' && b[0] != b'!'
}

fn check_ifname(s: &str) -> Result<(), NameError> {
    const WHAT: &str = "interface";
    check_len(WHAT, s, IFNAME_MAX)?;
    check_reserved(WHAT, s)?;
    if let Some(ch) = s.chars().find(|c| *c == '/' || *c == ':' || c.is_whitespace()) {
        return Err(NameError::BadChar { what: WHAT, name: s.to_owned(), ch });
    }
    Ok(())
}

fn check_netns(s: &str) -> Result<(), NameError> {
    const WHAT: &str = "namespace";
    check_len(WHAT, s, NETNS_NAME_MAX)?;
    check_reserved(WHAT, s)?;
    if let Some(ch) =
        s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(NameError::BadChar { what: WHAT, name: s.to_owned(), ch });
    }
    Ok(())
}

fn check_chain(s: &str) -> Result<(), NameError> {
    const WHAT: &str = "chain";
    check_len(WHAT, s, CHAIN_NAME_MAX)?;
    if let Some(ch) = s.chars().find(|c| c.is_whitespace() || !c.is_ascii_graphic()) {
        return Err(NameError::BadChar { what: WHAT, name: s.to_owned(), ch });
    }
    if let Some(ch) = s.chars().next().filter(|c| matches!(c, '-' | '!')) {
        return Err(NameError::BadChar { what: WHAT, name: s.to_owned(), ch });
    }
    Ok(())
}

fn check_len(what: &'static str, s: &str, max: usize) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty { what });
    }
    if s.len() > max {
        return Err(NameError::TooLong { what, name: s.to_owned(), len: s.len(), max });
    }
    Ok(())
}

fn check_reserved(what: &'static str, s: &str) -> Result<(), NameError> {
    if s == "." || s == ".." {
        return Err(NameError::Reserved { what, name: s.to_owned() });
    }
    Ok(())
}

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

/// Why a MAC address did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex bytes like 02:00:00:00:00:01")]
pub struct MacError(pub String);

impl Mac {
    /// Whether this is a group address (multicast or broadcast: the low bit of the first
    /// byte is set).
    pub fn is_group(self) -> bool {
        self.0[0] & 1 == 1
    }

    /// A locally administered unicast MAC derived from `parts` (FNV-1a), so that a link
    /// whose MAC is not given still gets the same one on every run and on every backend.
    ///
    /// Written out here on purpose, like the seeded generator in `nettwin_cni::seed`: these
    /// bytes reach snapshots and the kernel, so they must never change under us with a
    /// dependency update (a hashing crate may change its output between versions; rustc-hash
    /// did from 1 to 2).
    pub fn derive(parts: &[&str]) -> Mac {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in parts {
            for b in part.bytes().chain(std::iter::once(0xff)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        let b = h.to_be_bytes();
        // 0x02: locally administered, unicast.
        Mac([(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]])
    }
}

impl FromStr for Mac {
    type Err = MacError;
    fn from_str(s: &str) -> Result<Self, MacError> {
        let err = || MacError(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let p = parts.next().ok_or_else(err)?;
            if p.len() != 2 {
                return Err(err());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn static_names_are_the_names_new_makes() {
        assert_eq!(crate::static_name!(IfName, "lo"), IfName::new("lo").expect("valid"));
        assert_eq!(crate::static_name!(NetnsName, "host"), NetnsName::new("host").expect("ok"));
        let chain = crate::static_name!(ChainName, "CNI-FORWARD");
        assert_eq!(chain, ChainName::new("CNI-FORWARD").expect("valid"));
    }

    #[rstest]
    #[case("eth0")]
    #[case("veth1a2b3c4d")]
    #[case("a.b")]
    #[case("")]
    #[case(".")]
    #[case("..")]
    #[case("a b")]
    #[case("a/b")]
    #[case("a:b")]
    #[case("sixteen-bytes-xx")]
    #[case("é")]
    #[case("-x")]
    #[case("!x")]
    #[case("ok_name-1")]
    fn the_const_checks_never_accept_what_new_refuses(#[case] s: &str) {
        if IfName::is_valid_static(s) {
            assert!(IfName::new(s).is_ok(), "{s:?}");
        }
        if NetnsName::is_valid_static(s) {
            assert!(NetnsName::new(s).is_ok(), "{s:?}");
        }
        if ChainName::is_valid_static(s) {
            assert!(ChainName::new(s).is_ok(), "{s:?}");
        }
        // And they accept the plain ASCII names the plugins and the kernel use.
        if s.is_ascii() && IfName::new(s).is_ok() {
            assert!(IfName::is_valid_static(s), "{s:?}");
        }
    }

    #[test]
    fn hex_suffixed_names_are_cut_at_the_limit() {
        let veth = IfName::hex_suffixed(&crate::static_name!(IfName, "veth"), &[0xde, 0xad, 1, 2]);
        assert_eq!(veth.as_str(), "vethdead0102");
        let long = ChainName::hex_suffixed(&crate::static_name!(ChainName, "CNI-"), &[0xab; 64]);
        assert_eq!(long.as_str().len(), CHAIN_NAME_MAX);
        assert!(ChainName::new(long.as_str()).is_ok());
        let cut = IfName::hex_suffixed(&crate::static_name!(IfName, "veth"), &[0xff; 16]);
        assert_eq!(cut.as_str(), "vethfffffffffff");
    }

    #[rstest]
    #[case("eth0")]
    #[case("veth1a2b3c4d")]
    #[case("abcdefghijklmno")]
    #[case("nomad")]
    #[case("a-b_c.d")]
    fn ifname_accepts_kernel_valid_names(#[case] s: &str) {
        assert_eq!(IfName::new(s).map(|n| n.to_string()), Ok(s.to_owned()));
    }

    #[rstest]
    #[case("", "interface name is empty")]
    #[case("abcdefghijklmnop", "is 16 bytes long; the limit is 15")]
    #[case("a/b", "contains '/'")]
    #[case("a b", "contains ' '")]
    #[case("a:1", "contains ':'")]
    #[case(".", "is reserved")]
    #[case("..", "is reserved")]
    fn ifname_refuses_what_the_kernel_refuses(#[case] s: &str, #[case] msg: &str) {
        let err = IfName::new(s).expect_err("must be refused").to_string();
        assert!(err.contains(msg), "{err:?} should contain {msg:?}");
    }

    #[rstest]
    #[case("host", true)]
    #[case("alloc-1.a_b", true)]
    #[case("bad/ns", false)]
    #[case("", false)]
    #[case("..", false)]
    fn netns_names(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(NetnsName::new(s).is_ok(), ok, "{s:?}");
    }

    #[rstest]
    #[case("CNI-FORWARD", true)]
    #[case("CNI-0092ee727397973a4eaa5a5e", true)]
    #[case("CNI-0092ee727397973a4eaa5a5e1", false)]
    #[case("-X", false)]
    #[case("A B", false)]
    fn chain_names(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(ChainName::new(s).is_ok(), ok, "{s:?}");
    }

    #[test]
    fn mac_round_trips_and_rejects_garbage() {
        let m: Mac = "02:30:52:15:e8:47".parse().expect("valid");
        assert_eq!(m.to_string(), "02:30:52:15:e8:47");
        for bad in
            ["", "02:30:52:15:e8", "02:30:52:15:e8:47:00", "zz:30:52:15:e8:47", "2:30:52:15:e8:47"]
        {
            assert!(bad.parse::<Mac>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn derived_macs_are_local_unicast_and_stable() {
        let a = Mac::derive(&["host", "nomad"]);
        assert_eq!(a, Mac::derive(&["host", "nomad"]));
        assert_ne!(a, Mac::derive(&["host", "nomad0"]));
        assert_ne!(Mac::derive(&["ab", "c"]), Mac::derive(&["a", "bc"]));
        assert_eq!(a.0[0] & 0x03, 0x02);
    }
}
