//! Parsing the frames a capture saw: Ethernet, ARP, IPv4, TCP, UDP, ICMP (with the quoted
//! header of ICMP errors), just enough to follow one probe.

use std::net::Ipv4Addr;

/// The transport part of an IPv4 packet.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum L4 {
    /// TCP: ports, sequence and acknowledgment numbers, flags.
    Tcp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number.
        ack: u32,
        /// The flag byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10).
        flags: u8,
    },
    /// UDP: ports and payload.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Payload.
        payload: Vec<u8>,
    },
    /// ICMP: type, code, the echo id/sequence word, and the rest (the echo payload, or
    /// the quoted packet of an error).
    Icmp {
        /// Type (0 echo reply, 3 unreachable, 8 echo request, 11 time exceeded).
        ty: u8,
        /// Code.
        code: u8,
        /// Echo identifier (meaningless for errors).
        id: u16,
        /// Everything after the 8-byte header.
        rest: Vec<u8>,
    },
    /// Another protocol.
    Other(u8),
}

/// TCP flag bits.
pub const TCP_SYN: u8 = 0x02;
/// TCP RST.
pub const TCP_RST: u8 = 0x04;
/// TCP ACK.
pub const TCP_ACK: u8 = 0x10;

/// An IPv4 packet.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ipv4 {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// The identification field (kept by forwarding and NAT).
    pub id: u16,
    /// Time to live: each router on the way takes one off, so a packet seen again at the
    /// same place with the same TTL is a copy (a retransmission), not the path going on.
    pub ttl: u8,
    /// The transport part.
    pub l4: L4,
}

/// What a frame carried.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Packet {
    /// IPv4.
    Ipv4(Ipv4),
    /// ARP (`op` 1 request, 2 reply).
    Arp {
        /// Operation.
        op: u16,
        /// Sender protocol address.
        sender: Ipv4Addr,
        /// Target protocol address.
        target: Ipv4Addr,
    },
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(i)?, *b.get(i + 1)?, *b.get(i + 2)?, *b.get(i + 3)?]))
}

fn ip_at(b: &[u8], i: usize) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::new(*b.get(i)?, *b.get(i + 1)?, *b.get(i + 2)?, *b.get(i + 3)?))
}

/// Parses an Ethernet frame (as AF_PACKET `SOCK_RAW` delivers it, also on `lo`).
pub fn parse_frame(frame: &[u8]) -> Option<Packet> {
    match u16_at(frame, 12)? {
        0x0800 => parse_ipv4(frame.get(14..)?).map(Packet::Ipv4),
        0x0806 => {
            let a = frame.get(14..)?;
            Some(Packet::Arp { op: u16_at(a, 6)?, sender: ip_at(a, 14)?, target: ip_at(a, 24)? })
        }
        _ => None,
    }
}

/// Parses an IPv4 packet. A truncated transport header (as in the quote of an ICMP error)
/// keeps what is there.
pub fn parse_ipv4(p: &[u8]) -> Option<Ipv4> {
    let first = *p.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let total = usize::from(u16_at(p, 2)?).clamp(ihl, p.len().max(ihl));
    let body = p.get(ihl..total.min(p.len()))?;
    // A fragment after the first carries no transport header.
    let later_fragment = u16_at(p, 6)? & 0x1fff != 0;
    let l4 = match *p.get(9)? {
        proto if later_fragment => L4::Other(proto),
        6 => L4::Tcp {
            sport: u16_at(body, 0)?,
            dport: u16_at(body, 2)?,
            seq: u32_at(body, 4)?,
            ack: u32_at(body, 8).unwrap_or(0),
            flags: body.get(13).copied().unwrap_or(0),
        },
        17 => L4::Udp {
            sport: u16_at(body, 0)?,
            dport: u16_at(body, 2)?,
            payload: body.get(8..).unwrap_or_default().to_vec(),
        },
        1 => L4::Icmp {
            ty: *body.first()?,
            code: *body.get(1)?,
            id: u16_at(body, 4).unwrap_or(0),
            rest: body.get(8..).unwrap_or_default().to_vec(),
        },
        other => L4::Other(other),
    };
    Some(Ipv4 { src: ip_at(p, 12)?, dst: ip_at(p, 16)?, id: u16_at(p, 4)?, ttl: *p.get(8)?, l4 })
}

impl Ipv4 {
    /// For an ICMP error (unreachable, time exceeded): the packet it quotes.
    pub fn quoted(&self) -> Option<Ipv4> {
        match &self.l4 {
            L4::Icmp { ty: 3 | 11, rest, .. } => parse_ipv4(rest),
            _ => None,
        }
    }

    /// The ports, for TCP and UDP (0 otherwise).
    pub fn ports(&self) -> (u16, u16) {
        match self.l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport, .. } => (sport, dport),
            _ => (0, 0),
        }
    }
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], chunk.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request: type 8, identifier `id`, sequence 1, payload `token`.
pub fn echo_request(id: u16, token: &[u8]) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(token);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_later_fragment_has_no_transport_header() {
        let mut p = vec![0x45, 0, 0, 28, 0, 9, 0, 6, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let got = parse_ipv4(&p).unwrap_or_else(|| panic!("parses"));
        assert_eq!(got.l4, L4::Other(17));
    }

    use super::*;

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], body: &[u8]) -> Vec<u8> {
        let total = (20 + body.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(body);
        p
    }

    fn ether(payload: &[u8], ty: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn a_tcp_syn_is_read_with_its_sequence_number() {
        let mut tcp = vec![0x9c, 0x40, 0x1b, 0x58, 0, 0, 0, 42, 0, 0, 0, 0, 0x50, TCP_SYN];
        tcp.extend_from_slice(&[0; 6]);
        let f = ether(&ipv4(6, [192, 0, 2, 1], [192, 0, 2, 10], &tcp), 0x0800);
        let Some(Packet::Ipv4(p)) = parse_frame(&f) else { panic!("not parsed") };
        assert_eq!(p.l4, L4::Tcp { sport: 40000, dport: 7000, seq: 42, ack: 0, flags: TCP_SYN });
        assert_eq!(
            (p.src, p.dst, p.id),
            (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 10), 0x1234)
        );
    }

    #[test]
    fn an_icmp_error_quotes_the_packet_it_answers() {
        let udp = [0x9c, 0x40, 0, 53, 0, 12, 0, 0, b't', b'o', b'k', b'n'];
        let inner = ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &udp);
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&inner);
        let outer = parse_ipv4(&ipv4(1, [10, 0, 0, 2], [10, 0, 0, 1], &icmp)).expect("parsed");
        let q = outer.quoted().expect("quoted");
        assert_eq!(q.l4, L4::Udp { sport: 40000, dport: 53, payload: b"tokn".to_vec() });
    }

    #[test]
    fn an_echo_request_checksums_to_zero() {
        let m = echo_request(40000, b"hello");
        assert_eq!(checksum(&m), 0);
        assert_eq!(&m[..2], &[8, 0]);
    }

    #[test]
    fn arp_is_read() {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
        a.extend_from_slice(&[0; 6]);
        a.extend_from_slice(&[10, 0, 0, 1]);
        a.extend_from_slice(&[0; 6]);
        a.extend_from_slice(&[10, 0, 0, 9]);
        let p = parse_frame(&ether(&a, 0x0806));
        assert_eq!(
            p,
            Some(Packet::Arp {
                op: 1,
                sender: Ipv4Addr::new(10, 0, 0, 1),
                target: Ipv4Addr::new(10, 0, 0, 9)
            })
        );
    }
}
