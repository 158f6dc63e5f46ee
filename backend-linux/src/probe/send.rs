//! The probe's own traffic: a TCP connect, a UDP datagram or an ICMP echo, always from the
//! probe's source port (the echo identifier for ICMP). Sockets are opened on the source
//! namespace's worker (`start_*`); waiting happens on the caller's thread, which needs no
//! namespace to poll a socket (`super::wait`).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};

use nettwin_core::addr::Endpoint;
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, SockFlag, SockProtocol, SockType, SockaddrIn, bind, connect, getsockopt, send,
    sendto, setsockopt, socket, sockopt,
};

fn sa(ip: Ipv4Addr, port: u16) -> SockaddrIn {
    SockaddrIn::from(SocketAddrV4::new(ip, port))
}

fn stream_or_dgram(ty: SockType) -> Result<OwnedFd, Errno> {
    socket(AddressFamily::Inet, ty, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None)
}

/// Opens a TCP socket bound to `src:sport` and starts connecting to `dst`. Run on the source
/// namespace's worker.
pub fn start_tcp(src: Option<Ipv4Addr>, sport: u16, dst: Endpoint) -> Result<OwnedFd, Errno> {
    let fd = stream_or_dgram(SockType::Stream)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    bind(fd.as_raw_fd(), &sa(src.unwrap_or(Ipv4Addr::UNSPECIFIED), sport))?;
    match connect(fd.as_raw_fd(), &sa(dst.ip, dst.port)) {
        Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
        Err(e) => Err(e),
    }
}

/// Opens a connected UDP socket (with `IP_RECVERR`, so that every ICMP error is reported)
/// bound to `src:sport` and sends `token` to `dst`. Run on the source namespace's worker.
pub fn start_udp(
    src: Option<Ipv4Addr>,
    sport: u16,
    dst: Endpoint,
    token: &[u8],
) -> Result<OwnedFd, Errno> {
    let fd = stream_or_dgram(SockType::Datagram)?;
    setsockopt(&fd, sockopt::Ipv4RecvErr, &true)?;
    bind(fd.as_raw_fd(), &sa(src.unwrap_or(Ipv4Addr::UNSPECIFIED), sport))?;
    connect(fd.as_raw_fd(), &sa(dst.ip, dst.port))?;
    send(fd.as_raw_fd(), token, nix::sys::socket::MsgFlags::empty())?;
    Ok(fd)
}

/// Opens a raw ICMP socket (bound to `src` if given) and sends an echo request with
/// identifier `id` and payload `token` to `dst`. Run on the source namespace's worker.
pub fn start_icmp(
    src: Option<Ipv4Addr>,
    id: u16,
    dst: Ipv4Addr,
    token: &[u8],
) -> Result<OwnedFd, Errno> {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )?;
    if let Some(src) = src {
        bind(fd.as_raw_fd(), &sa(src, 0))?;
    }
    let msg = super::packet::echo_request(id, token);
    sendto(fd.as_raw_fd(), &msg, &sa(dst, 0), nix::sys::socket::MsgFlags::empty())?;
    Ok(fd)
}

/// The local address a socket was given (after connect or send), unless unbound.
pub fn local_of(fd: &OwnedFd) -> Option<Endpoint> {
    let a: SockaddrIn = nix::sys::socket::getsockname(fd.as_raw_fd()).ok()?;
    (!a.ip().is_unspecified()).then(|| Endpoint::new(a.ip(), a.port()))
}

/// The pending error of a socket (`SO_ERROR`), if any.
pub fn socket_error(fd: &OwnedFd) -> Option<Errno> {
    match getsockopt(fd, sockopt::SocketError) {
        Ok(0) => None,
        Ok(e) => Some(Errno::from_raw(e)),
        Err(e) => Some(e),
    }
}

/// How a TCP connect ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Connect {
    /// The handshake completed.
    Connected,
    /// Refused or failed with this errno.
    Failed(Errno),
    /// Nothing came back in time.
    TimedOut,
}

/// A raw ICMP socket that only reads: it gets a copy of every ICMP packet the namespace's
/// stack receives (after nat INPUT), echo requests it answers included. Run on a
/// namespace worker.
pub fn echo_watch() -> Result<OwnedFd, Errno> {
    socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )
}

/// Reads one IPv4 packet from a raw socket (non-blocking).
pub fn recv_raw(fd: &OwnedFd) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2048];
    let n = nix::sys::socket::recv(fd.as_raw_fd(), &mut buf, nix::sys::socket::MsgFlags::empty())
        .ok()?;
    buf.truncate(n);
    Some(buf)
}
