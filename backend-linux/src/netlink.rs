//! A small synchronous rtnetlink client: one `NETLINK_ROUTE` socket per namespace worker,
//! requests that wait for their ACK, and dumps.
//!
//! A netlink socket belongs to the namespace of the thread that created it, so each
//! namespace worker opens its own (`Netlink::open` must run on the worker thread). Messages
//! are built and parsed with `netlink-packet-route`; the socket is `netlink-sys`'s.

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::Socket;
use netlink_sys::protocols::NETLINK_ROUTE;

/// Why a netlink exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum NlError {
    /// The kernel refused the request with this errno (positive).
    #[error("the kernel answered {}", errno_text(*.0))]
    Errno(i32),
    /// The socket itself failed.
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel's answer did not parse.
    #[error("netlink answer did not parse: {0}")]
    Decode(String),
}

/// `strerror`-like text for an errno, with its symbolic name (`EEXIST: File exists`).
pub fn errno_text(errno: i32) -> String {
    let e = nix::errno::Errno::from_raw(errno);
    format!("{e:?}: {}", e.desc())
}

/// A `NETLINK_ROUTE` socket of the calling thread's namespace.
#[derive(Debug)]
pub struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

const RECV_BUF: usize = 64 * 1024;

impl Netlink {
    /// Opens a socket in the calling thread's network namespace (close-on-exec, so the
    /// programs a worker runs do not inherit it).
    pub fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        Ok(Netlink { socket, seq: 0, buf: Vec::with_capacity(RECV_BUF) })
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<u32, NlError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;
        Ok(self.seq)
    }

    /// Receives every message of one datagram that answers `seq`.
    fn recv(&mut self, seq: u32) -> Result<Vec<NetlinkMessage<RouteNetlinkMessage>>, NlError> {
        loop {
            self.buf.clear();
            match self.socket.recv(&mut self.buf, 0) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            let data = &self.buf[..];
            let mut msgs = Vec::new();
            let mut off = 0;
            while off + 16 <= data.len() {
                let len =
                    u32::from_ne_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]])
                        as usize;
                if len < 16 || off + len > data.len() {
                    return Err(NlError::Decode(format!("bad message length {len}")));
                }
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..off + len])
                    .map_err(|e| NlError::Decode(e.to_string()))?;
                if m.header.sequence_number == seq {
                    msgs.push(m);
                }
                off += (len + 3) & !3;
            }
            if !msgs.is_empty() {
                return Ok(msgs);
            }
        }
    }

    /// Sends a request and waits for its ACK (or the errno that refused it).
    pub fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<(), NlError> {
        let seq = self.send(msg, flags | NLM_F_ACK)?;
        loop {
            for m in self.recv(seq)? {
                if let NetlinkPayload::Error(e) = m.payload {
                    return match e.code {
                        None => Ok(()),
                        Some(code) => Err(NlError::Errno(code.get().abs())),
                    };
                }
            }
        }
    }

    /// Sends a dump request and collects every answer until `NLMSG_DONE`.
    pub fn dump(&mut self, msg: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        let seq = self.send(msg, NLM_F_DUMP)?;
        let mut out = Vec::new();
        loop {
            for m in self.recv(seq)? {
                match m.payload {
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => Err(NlError::Errno(code.get().abs())),
                        };
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends a request whose answer is one message (`RTM_GETLINK` by name, `RTM_GETNSID`).
    pub fn get(&mut self, msg: RouteNetlinkMessage) -> Result<RouteNetlinkMessage, NlError> {
        let seq = self.send(msg, 0)?;
        loop {
            for m in self.recv(seq)? {
                match m.payload {
                    NetlinkPayload::InnerMessage(inner) => return Ok(inner),
                    NetlinkPayload::Error(e) => {
                        return Err(match e.code {
                            None => NlError::Decode("an ACK where an answer was expected".into()),
                            Some(code) => NlError::Errno(code.get().abs()),
                        });
                    }
                    _ => {}
                }
            }
        }
    }
}
