//! Service names for ports, as iptables resolves them through the resolver
//! (`/etc/services`). The model reads no file: it embeds the entries of Debian's netbase
//! `/etc/services` for the names firewall scripts commonly use, aliases included, and
//! refuses every other name as unsupported. `core/tests/data/iptables/rules.txt` holds
//! each name as real iptables resolved it.
//!
//! iptables asks for a protocol in some places and not in others (measured with iptables
//! 1.8.9): the `tcp` match and `multiport` look a name up for their protocol (so `ntp`,
//! a udp-only service, is refused with `-p tcp --dport`), while the `udp` match and the
//! NAT targets' ports take a name of any protocol (`-p udp --dport http` is port 80).

/// Which protocols a lookup accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Lookup {
    /// Names listed for tcp.
    Tcp,
    /// Names listed for udp.
    Udp,
    /// Names listed for either.
    Any,
}

/// One name: its port, and whether netbase lists it for tcp and for udp.
struct Service {
    name: &'static str,
    port: u16,
    tcp: bool,
    udp: bool,
}

const fn svc(name: &'static str, port: u16, tcp: bool, udp: bool) -> Service {
    Service { name, port, tcp, udp }
}

/// The embedded names (Debian netbase 6.4, `/etc/services`), aliases as their own rows.
/// `syslog` is both the udp service 514 and an alias of the tcp service `shell` (514).
const SERVICES: &[Service] = &[
    svc("ftp-data", 20, true, false),
    svc("ftp", 21, true, false),
    svc("ssh", 22, true, false),
    svc("telnet", 23, true, false),
    svc("smtp", 25, true, false),
    svc("mail", 25, true, false),
    svc("domain", 53, true, true),
    svc("bootps", 67, false, true),
    svc("bootpc", 68, false, true),
    svc("tftp", 69, false, true),
    svc("http", 80, true, false),
    svc("www", 80, true, false),
    svc("kerberos", 88, true, true),
    svc("pop3", 110, true, false),
    svc("sunrpc", 111, true, true),
    svc("ntp", 123, false, true),
    svc("imap2", 143, true, false),
    svc("imap", 143, true, false),
    svc("snmp", 161, true, true),
    svc("snmp-trap", 162, true, true),
    svc("bgp", 179, true, false),
    svc("ldap", 389, true, true),
    svc("https", 443, true, true),
    svc("microsoft-ds", 445, true, false),
    svc("submissions", 465, true, false),
    svc("isakmp", 500, false, true),
    svc("syslog", 514, true, true),
    svc("submission", 587, true, false),
    svc("ldaps", 636, true, true),
    svc("rsync", 873, true, false),
    svc("domain-s", 853, true, true),
    svc("imaps", 993, true, false),
    svc("pop3s", 995, true, false),
    svc("openvpn", 1194, true, true),
    svc("ms-sql-s", 1433, true, false),
    svc("nfs", 2049, true, true),
    svc("mysql", 3306, true, false),
    svc("sip", 5060, true, true),
    svc("postgresql", 5432, true, false),
    svc("redis", 6379, true, false),
    svc("http-alt", 8080, true, false),
    svc("webcache", 8080, true, false),
];

/// The port of a service name for a lookup, if the table has it (names are
/// case-sensitive, as the resolver's).
pub(crate) fn port_of(name: &str, lookup: Lookup) -> Option<u16> {
    SERVICES
        .iter()
        .find(|s| {
            s.name == name
                && match lookup {
                    Lookup::Tcp => s.tcp,
                    Lookup::Udp => s.udp,
                    Lookup::Any => true,
                }
        })
        .map(|s| s.port)
}

/// Whether the table knows `name` for some protocol (a name known only for another
/// protocol is refused as iptables refuses it).
pub(crate) fn is_known(name: &str) -> bool {
    port_of(name, Lookup::Any).is_some()
}

/// Every embedded name, for tests.
pub fn service_names() -> impl Iterator<Item = (&'static str, u16, bool, bool)> {
    SERVICES.iter().map(|s| (s.name, s.port, s.tcp, s.udp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_per_protocol() {
        assert_eq!(port_of("ssh", Lookup::Tcp), Some(22));
        assert_eq!(port_of("ssh", Lookup::Udp), None);
        assert_eq!(port_of("ssh", Lookup::Any), Some(22));
        assert_eq!(port_of("ntp", Lookup::Tcp), None);
        assert_eq!(port_of("ntp", Lookup::Udp), Some(123));
        assert_eq!(port_of("SSH", Lookup::Any), None);
        assert!(is_known("www") && !is_known("nosuchservice"));
    }

    #[test]
    fn every_name_is_listed_once_per_protocol() {
        for (i, a) in SERVICES.iter().enumerate() {
            assert!(a.tcp || a.udp, "{}", a.name);
            assert!(SERVICES[i + 1..].iter().all(|b| b.name != a.name), "{} twice", a.name);
        }
    }
}
