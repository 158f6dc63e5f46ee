//! Emptying a namespace's conntrack table before a probe (`conntrack -F`, by ctnetlink), so
//! that every probe starts as the model's does, with no connection known: a probe with a
//! pinned source port must not land on the entry an earlier probe left.
//!
//! The request is ctnetlink's `IPCTNL_MSG_CT_DELETE` without a tuple (a flush of the IPv4
//! table); its framing and the kernel's ACK are `netlink-packet-core`'s.

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NetlinkSerializable,
};
use netlink_sys::Socket;
use netlink_sys::protocols::NETLINK_NETFILTER;

/// `NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE`.
const CT_DELETE: u16 = (1 << 8) | 2;

/// The flush request: just the `nfgenmsg` header (family AF_INET, version 0, res_id 0).
#[derive(Debug)]
struct Flush;

impl NetlinkSerializable for Flush {
    fn message_type(&self) -> u16 {
        CT_DELETE
    }

    fn buffer_len(&self) -> usize {
        4
    }

    fn serialize(&self, buffer: &mut [u8]) {
        // AF_INET is 2; version NFNETLINK_V0; res_id 0.
        buffer[..4].copy_from_slice(&[libc::AF_INET as u8, 0, 0, 0]);
    }
}

/// What the kernel may answer besides the ACK: nothing this module reads.
#[derive(Debug)]
struct Unexpected;

#[derive(Debug, thiserror::Error)]
#[error("unexpected ctnetlink message")]
struct UnexpectedError;

impl NetlinkDeserializable for Unexpected {
    type Error = UnexpectedError;

    fn deserialize(_: &NetlinkHeader, _: &[u8]) -> Result<Self, Self::Error> {
        Err(UnexpectedError)
    }
}

/// Flushes the conntrack table of the calling thread's namespace. A kernel without
/// connection tracking in it has nothing to flush (`ENOENT`, `EOPNOTSUPP`).
pub fn flush() -> io::Result<()> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK;
    header.sequence_number = 1;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(Flush));
    msg.finalize();
    let mut out = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut out);
    socket.send(&out, 0)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        socket.recv(&mut buf, 0)?;
        let answer = NetlinkMessage::<Unexpected>::deserialize(&buf)
            .map_err(|e| io::Error::other(e.to_string()))?;
        if let NetlinkPayload::Error(e) = answer.payload {
            return match e.code.map(|c| c.get().abs()) {
                None | Some(libc::ENOENT | libc::EOPNOTSUPP) => Ok(()),
                Some(code) => Err(io::Error::from_raw_os_error(code)),
            };
        }
    }
}
