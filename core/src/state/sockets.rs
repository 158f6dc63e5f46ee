//! Listening sockets: bind rules as the kernel applies them without `SO_REUSEPORT`.

use super::{Socket, State};
use crate::addr::{Endpoint, Proto};
use crate::error::{ErrorKind, OpError};
use crate::names::NetnsName;
use crate::op::Effect;

impl State {
    pub(super) fn listen(
        &mut self,
        netns: &NetnsName,
        proto: Proto,
        at: Endpoint,
    ) -> Result<Effect, OpError> {
        let object = || format!("{proto} {at}");
        let ns = self.ns(netns)?;
        if at.port == 0 {
            return Err(OpError::new(ErrorKind::InvalidArgument, "bind", object())
                .detail("port 0 (an ephemeral port) is not modeled"));
        }
        // Before the namespace has a local table (no IPv4 address yet) the kernel's check
        // finds nothing to look in and lets any address through.
        // A broadcast or multicast address may be bound too (`inet_bind` takes the local,
        // broadcast and multicast address types).
        let bindable = at.ip.is_unspecified()
            || ns.is_local(at.ip)
            || at.ip.is_multicast()
            || at.ip.is_broadcast()
            || ns.broadcast_route(at.ip)
            || ns.ip_nonlocal_bind != 0;
        if ns.local_table && !bindable {
            return Err(OpError::new(ErrorKind::AddressNotAvailable, "bind", object())
                .detail(format!("{} is not an address of {netns}", at.ip)));
        }
        let clash = ns.sockets.iter().any(|s| {
            s.proto == proto
                && s.at.port == at.port
                && (s.at.ip == at.ip || s.at.ip.is_unspecified() || at.ip.is_unspecified())
        });
        if clash {
            return Err(OpError::new(ErrorKind::AddressInUse, "bind", object()));
        }
        self.ns_mut(netns)?.sockets.push(Socket { proto, at });
        Ok(Effect::Done)
    }

    pub(super) fn close(
        &mut self,
        netns: &NetnsName,
        proto: Proto,
        at: Endpoint,
    ) -> Result<Effect, OpError> {
        let ns = self.ns_mut(netns)?;
        let Some(pos) = ns.sockets.iter().position(|s| s.proto == proto && s.at == at) else {
            return Err(OpError::new(ErrorKind::NotFound, "close", format!("{proto} {at}")));
        };
        ns.sockets.remove(pos);
        Ok(Effect::Done)
    }
}
