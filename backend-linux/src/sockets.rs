//! Listening sockets (`Listen` ops) and the kernel's list of them (`observe`).
//!
//! A listener is a real non-blocking socket opened on a namespace worker (so it lives in
//! that namespace). It records the peer of every connection it accepts and every datagram it
//! receives when drained; probes drain them right after sending. Accepted connections are
//! closed with an RST (`SO_LINGER` 0) so that no TIME_WAIT outlives a probe.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::state::Socket;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, accept4, bind, listen, recvfrom,
    setsockopt, socket, sockopt,
};

/// What a listener received: the peer as it saw it, and the payload for datagrams.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Received {
    /// The peer's address and port.
    pub peer: Endpoint,
    /// The datagram's payload (empty for connections).
    pub payload: Vec<u8>,
}

/// A listening socket of one namespace.
#[derive(Debug)]
pub struct Listener {
    /// What it is, as the model names it.
    pub socket: Socket,
    fd: OwnedFd,
    /// Everything it received so far, in order.
    pub seen: Vec<Received>,
}

fn sockaddr(e: Endpoint) -> SockaddrIn {
    SockaddrIn::from(SocketAddrV4::new(e.ip, e.port))
}

fn endpoint(a: &SockaddrIn) -> Endpoint {
    Endpoint::new(a.ip(), a.port())
}

impl Listener {
    /// Opens the socket. Must run on the namespace's worker. Errors are errnos.
    pub fn open(proto: Proto, at: Endpoint) -> Result<Listener, nix::errno::Errno> {
        let ty = if proto == Proto::Tcp { SockType::Stream } else { SockType::Datagram };
        let fd = socket(
            AddressFamily::Inet,
            ty,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        if proto == Proto::Tcp {
            // What servers do; it does not let two listeners share a port.
            setsockopt(&fd, sockopt::ReuseAddr, &true)?;
        }
        bind(fd.as_raw_fd(), &sockaddr(at))?;
        if proto == Proto::Tcp {
            listen(&fd, Backlog::new(128).unwrap_or(Backlog::MAXCONN))?;
        }
        Ok(Listener { socket: Socket { proto, at }, fd, seen: Vec::new() })
    }

    /// The descriptor, for `poll`.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Takes everything waiting: accepts (and RST-closes) connections, reads datagrams.
    /// Returns what arrived now; it is also appended to `seen`.
    pub fn drain(&mut self) -> Vec<Received> {
        let mut now = Vec::new();
        loop {
            let got = match self.socket.proto {
                Proto::Tcp => self.accept_one(),
                _ => self.recv_one(),
            };
            match got {
                Some(r) => now.push(r),
                None => break,
            }
        }
        self.seen.extend(now.iter().cloned());
        now
    }

    fn accept_one(&self) -> Option<Received> {
        let conn = accept4(&self.fd, SockFlag::SOCK_CLOEXEC).ok()?;
        let peer = nix::sys::socket::getpeername::<SockaddrIn>(conn.as_raw_fd()).ok()?;
        rst_close(conn);
        Some(Received { peer: endpoint(&peer), payload: Vec::new() })
    }

    fn recv_one(&self) -> Option<Received> {
        let mut buf = [0u8; 2048];
        let (n, from) = recvfrom::<SockaddrIn>(self.fd.as_raw_fd(), &mut buf).ok()?;
        let peer = from.map_or(Endpoint::new(Ipv4Addr::UNSPECIFIED, 0), |a| endpoint(&a));
        Some(Received { peer, payload: buf[..n].to_vec() })
    }
}

/// Closes a connected TCP socket with an RST instead of a FIN, so no TIME_WAIT remains.
pub fn rst_close(fd: OwnedFd) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    let _ = setsockopt(&fd, sockopt::Linger, &linger);
    drop(fd);
}

/// The listening sockets the kernel reports for the calling thread's namespace, from
/// /proc/thread-self/net/{tcp,udp}: TCP sockets in LISTEN, UDP sockets bound but not
/// connected. Must run on a namespace worker.
pub fn kernel_listeners() -> io::Result<Vec<Socket>> {
    let mut out = Vec::new();
    for (proto, file) in [(Proto::Tcp, "tcp"), (Proto::Udp, "udp")] {
        let text = std::fs::read_to_string(format!("/proc/thread-self/net/{file}"))?;
        out.extend(parse_proc_net(proto, &text));
    }
    out.sort();
    Ok(out)
}

/// `TCP_LISTEN` and `TCP_CLOSE` (an unconnected UDP socket) in /proc/net/{tcp,udp}.
const TCP_LISTEN: u8 = 0x0A;
const TCP_CLOSE: u8 = 0x07;

fn parse_proc_net(proto: Proto, text: &str) -> Vec<Socket> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let mut w = line.split_whitespace();
        let (Some(_), Some(local), Some(remote), Some(state)) =
            (w.next(), w.next(), w.next(), w.next())
        else {
            continue;
        };
        let Some(state) = u8::from_str_radix(state, 16).ok() else { continue };
        let listening = match proto {
            Proto::Tcp => state == TCP_LISTEN,
            _ => state == TCP_CLOSE && remote == "00000000:0000",
        };
        if let (true, Some(at)) = (listening, proc_endpoint(local)) {
            out.push(Socket { proto, at });
        }
    }
    out
}

/// `0100007F:1F90` → 127.0.0.1:8080 (the address is printed in the kernel's byte order).
fn proc_endpoint(s: &str) -> Option<Endpoint> {
    let (ip, port) = s.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(Endpoint::new(Ipv4Addr::from(ip.to_ne_bytes()), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_lines_give_listeners_only() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1";
        let got = parse_proc_net(Proto::Tcp, tcp);
        assert_eq!(
            got,
            vec![Socket { proto: Proto::Tcp, at: Endpoint::new(Ipv4Addr::UNSPECIFIED, 6379) }]
        );
        assert_eq!(
            proc_endpoint("0100007F:1F90"),
            Some(Endpoint::new(Ipv4Addr::new(127, 0, 0, 1), 8080))
        );
    }
}
