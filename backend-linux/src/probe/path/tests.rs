//! Frames to hops without a kernel: matching through NAT, one packet per direction, and
//! where counters go.

use nettwin_core::iptables::Table;
use nettwin_core::names::ChainName;

use super::*;

fn seen(ns: &str, dev: &str, dir: Dir, ts: u128, pkt: Packet) -> Seen {
    Seen {
        netns: NetnsName::new(ns).unwrap_or_else(|e| panic!("{e}")),
        dev: IfName::new(dev).unwrap_or_else(|e| panic!("{e}")),
        dir,
        ts,
        pkt,
        dst_mac: [2, 0, 0, 0, 0, 1],
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn tcp(src: &str, dst: &str, id: u16, seq: u32, ack: u32, flags: u8) -> Packet {
    Packet::Ipv4(Ipv4 {
        src: ip(src),
        dst: ip(dst),
        id,
        ttl: 64,
        l4: L4::Tcp { sport: 40000, dport: 7000, seq, ack, flags },
    })
}

/// A SYN DNATed on the host, its SYN-ACK, and unrelated noise.
fn frames() -> Vec<Seen> {
    vec![
        seen("world", "up0", Dir::Out, 1, tcp("192.0.2.1", "192.0.2.10", 7, 1000, 0, TCP_SYN)),
        seen("host", "eth0", Dir::In, 2, tcp("192.0.2.1", "192.0.2.10", 7, 1000, 0, TCP_SYN)),
        seen("host", "nomad", Dir::Out, 3, tcp("192.0.2.1", "172.26.64.2", 7, 1000, 0, TCP_SYN)),
        seen(
            "host",
            "veth1",
            Dir::Out,
            4,
            Packet::Arp { op: 1, sender: ip("172.26.64.1"), target: ip("172.26.64.9") },
        ),
        seen("a1", "eth0", Dir::In, 5, tcp("192.0.2.1", "172.26.64.2", 7, 1000, 0, TCP_SYN)),
        seen(
            "a1",
            "eth0",
            Dir::Out,
            6,
            tcp("172.26.64.2", "192.0.2.1", 0, 5000, 1001, TCP_SYN | TCP_ACK),
        ),
        seen(
            "host",
            "eth0",
            Dir::Out,
            7,
            tcp("192.0.2.10", "192.0.2.1", 0, 5000, 1001, TCP_SYN | TCP_ACK),
        ),
        seen("world", "up0", Dir::Out, 8, tcp("192.0.2.1", "192.0.2.10", 8, 1001, 5001, TCP_ACK)),
    ]
}

#[test]
fn a_syn_is_followed_through_dnat_by_its_sequence_number() {
    let f = frames();
    let key = Key::Isn(find_isn(&f, 40000).unwrap_or_else(|| panic!("no SYN")));
    let (fwd, reply) = hops(&f, &key);
    let path: Vec<String> =
        fwd.iter().map(|h| format!("{} {} {}", h.netns, h.packet.dst, h.dir == Dir::In)).collect();
    assert_eq!(
        path,
        [
            "world 192.0.2.10:7000 false",
            "host 192.0.2.10:7000 true",
            "host 172.26.64.2:7000 false",
            "a1 172.26.64.2:7000 true"
        ]
    );
    assert_eq!(reply.len(), 2, "SYN-ACK only, not the handshake's last ACK");
    assert_eq!(reply[1].packet.src.ip, ip("192.0.2.10"));
}

fn with_ttl(pkt: Packet, ttl: u8) -> Packet {
    match pkt {
        Packet::Ipv4(p) => Packet::Ipv4(Ipv4 { ttl, ..p }),
        other => other,
    }
}

#[test]
fn a_retransmitted_syn_ack_does_not_double_the_reply_path() {
    let mut f = frames();
    // The SYN-ACK sent again a second later: same IP id (0), same places, same TTLs.
    let again: Vec<Seen> =
        f[5..7].iter().map(|s| Seen { ts: s.ts + 1_000_000_000, ..s.clone() }).collect();
    f.extend(again);
    let key = Key::Isn(find_isn(&f, 40000).unwrap_or_else(|| panic!("no SYN")));
    let (_, reply) = hops(&f, &key);
    let places: Vec<String> = reply
        .iter()
        .map(|h| format!("{} {}", h.netns, h.device.as_ref().map_or("", |d| d.as_str())))
        .collect();
    assert_eq!(places, ["a1 eth0", "host eth0"]);
}

#[test]
fn a_routing_loop_passes_the_same_place_with_a_smaller_ttl_and_is_kept() {
    let syn = |ttl| with_ttl(tcp("10.0.0.1", "10.9.9.9", 3, 77, 0, TCP_SYN), ttl);
    let f = vec![
        seen("a", "v0", Dir::Out, 1, syn(64)),
        seen("b", "v1", Dir::In, 2, syn(64)),
        seen("b", "v1", Dir::Out, 3, syn(63)),
        seen("a", "v0", Dir::In, 4, syn(63)),
        seen("a", "v0", Dir::Out, 5, syn(62)),
        seen("b", "v1", Dir::In, 6, syn(62)),
    ];
    let (fwd, _) = hops(&f, &Key::Isn(77));
    assert_eq!(fwd.len(), 6);
}

#[test]
fn an_icmp_error_quoting_the_token_is_the_reply() {
    let udp = Ipv4 {
        src: ip("10.0.0.1"),
        dst: ip("10.0.0.2"),
        id: 1,
        ttl: 64,
        l4: L4::Udp { sport: 40000, dport: 53, payload: b"tok".to_vec() },
    };
    let mut quote = vec![0x45, 0, 0, 31, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    quote.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 11, 0, 0]);
    quote.extend_from_slice(b"tok");
    let err = Ipv4 {
        src: ip("10.0.0.2"),
        dst: ip("10.0.0.1"),
        id: 9,
        ttl: 64,
        l4: L4::Icmp { ty: 3, code: 3, id: 0, rest: quote },
    };
    let f = vec![
        seen("a", "v", Dir::Out, 1, Packet::Ipv4(udp)),
        seen("b", "w", Dir::Out, 2, Packet::Ipv4(err)),
    ];
    let key = Key::Token(b"tok".to_vec());
    let (fwd, reply) = hops(&f, &key);
    assert_eq!((fwd.len(), reply.len()), (1, 1));
    assert_eq!(reply[0].packet.proto, nettwin_core::addr::Proto::Icmp);
}

#[test]
fn an_unanswered_arp_names_the_first_device_it_left() {
    let f = vec![
        seen(
            "host",
            "nomad",
            Dir::Out,
            1,
            Packet::Arp { op: 1, sender: ip("172.26.64.1"), target: ip("172.26.64.9") },
        ),
        seen(
            "host",
            "veth1",
            Dir::Out,
            2,
            Packet::Arp { op: 1, sender: ip("172.26.64.1"), target: ip("172.26.64.9") },
        ),
    ];
    let got = unanswered_arp(&f).map(|(ip, ns, dev)| format!("{ip} {ns} {dev}"));
    assert_eq!(got.as_deref(), Some("172.26.64.9 host nomad"));
    assert_eq!(unanswered_arp(&frames()[..3]), None);
}

fn counter(chain: &str, rule: Option<u32>, text: &str) -> Counter {
    let chain = ChainName::new(chain).unwrap_or_else(|e| panic!("{e}"));
    Counter { table: Table::Nat, chain, rule, packets: 1, bytes: 60, text: text.into() }
}

#[test]
fn counters_go_before_the_namespaces_first_out_hop_else_after_its_last() {
    let f = frames();
    let key = Key::Isn(1000);
    let (mut fwd, _) = hops(&f, &key);
    let sent = fwd[0].packet;
    let host: NetnsName = "host".parse().unwrap_or_else(|e| panic!("{e}"));
    let a1: NetnsName = "a1".parse().unwrap_or_else(|e| panic!("{e}"));
    let counters = vec![
        (host.clone(), counter("PREROUTING", Some(1), "-A PREROUTING -j DNAT")),
        (a1.clone(), counter("INPUT", None, "DROP")),
    ];
    place_counters(&mut fwd, &counters, sent);
    let order: Vec<String> = fwd
        .iter()
        .map(|h| match &h.step {
            Step::Counters { chain, .. } => format!("{} {chain}", h.netns),
            _ => format!("{} {:?}", h.netns, h.dir),
        })
        .collect();
    assert_eq!(order, ["world Out", "host In", "host PREROUTING", "host Out", "a1 In", "a1 INPUT"]);
    assert_eq!(counter_with(&counters, "DROP").map(|(ns, _)| ns.as_str()), Some("a1"));
    assert_eq!(counter_with(&counters, "REJECT"), None);
}

#[test]
fn an_icmp_error_cut_short_by_fragmentation_is_matched_by_the_quoted_ip_id() {
    let token = b"nettwin probe ntw-1-1 #1".to_vec();
    let udp = Ipv4 {
        src: ip("10.0.0.2"),
        dst: ip("10.0.0.1"),
        id: 77,
        ttl: 64,
        l4: L4::Udp { sport: 40000, dport: 81, payload: token.clone() },
    };
    // The first fragment of the error: the quote holds the headers and 12 bytes of payload.
    let mut quote = vec![0x45, 0, 0, 52, 0, 77, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1];
    quote.extend_from_slice(&[0x9c, 0x40, 0, 81, 0, 32, 0, 0]);
    quote.extend_from_slice(&token[..12]);
    let err = Ipv4 {
        src: ip("10.0.0.1"),
        dst: ip("10.0.0.2"),
        id: 5,
        ttl: 64,
        l4: L4::Icmp { ty: 3, code: 3, id: 0, rest: quote },
    };
    let f = vec![
        seen("b", "eth0", Dir::Out, 1, Packet::Ipv4(udp)),
        seen("a", "v0", Dir::In, 2, Packet::Ipv4(err.clone())),
        seen("a", "v0", Dir::Out, 3, Packet::Ipv4(err)),
    ];
    let (fwd, reply) = hops(&f, &Key::Token(token));
    assert_eq!((fwd.len(), reply.len()), (1, 2));
}

#[test]
fn a_syn_that_never_left_is_known_by_its_answer() {
    // The sender's OUTPUT rejected the SYN: only the ICMP error quoting it was captured.
    let mut quote = vec![0x45, 0, 0, 40, 0, 3, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    quote.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0x04, 0xd2, 0, 0, 0, 0, 0x50, 0x02]);
    let err = Ipv4 {
        src: ip("10.0.0.1"),
        dst: ip("10.0.0.1"),
        id: 9,
        ttl: 64,
        l4: L4::Icmp { ty: 3, code: 3, id: 0, rest: quote },
    };
    let f = vec![seen("a", "lo", Dir::Out, 1, Packet::Ipv4(err))];
    assert_eq!(find_isn(&f, 40000), Some(1234));
    // A reset acknowledging it says the same.
    let rst = tcp("10.0.0.2", "10.0.0.1", 4, 0, 1235, TCP_RST | TCP_ACK);
    let rst = match rst {
        Packet::Ipv4(mut p) => {
            p.l4 = L4::Tcp { sport: 80, dport: 40000, seq: 0, ack: 1235, flags: TCP_RST | TCP_ACK };
            Packet::Ipv4(p)
        }
        other => other,
    };
    assert_eq!(find_isn(&[seen("a", "lo", Dir::In, 1, rst)], 40000), Some(1234));
}
