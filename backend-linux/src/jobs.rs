//! What the ops that live entirely in one namespace's kernel state (links, addresses,
//! routes, sysctls) do on that namespace's worker, as jobs: closures that run on the worker
//! and return the op's result in the model's terms. Building a job decides nothing the
//! kernel should decide; it only names devices and fills netlink messages.
//!
//! Jobs of consecutive ops on one namespace run as one batch on its worker
//! (`LinuxBackend::apply_all`), so a run of link, address and route ops costs one thread
//! hand-off instead of one per op.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use nettwin_core::error::{ErrorKind, OpError};
use nettwin_core::names::{Mac, NetnsName};
use nettwin_core::op::{Effect, LinkChange, Op, RouteSpec};

use crate::errors::{OpClass, errno_error};
use crate::netlink::{Netlink, NlError};
use crate::netns::NsCtx;
use crate::routes::{self, RouteReq};
use crate::{addrs, links, neigh};

/// A job for a namespace worker that yields an op's result.
pub type NsJob = Box<dyn FnOnce(&mut NsCtx) -> Result<Effect, OpError> + Send>;

/// Maps a failed netlink request to an `OpError` for an op of class `class`.
pub fn nl_error(
    class: OpClass,
    action: &'static str,
    object: String,
) -> impl FnOnce(NlError) -> OpError {
    move |e| match e {
        NlError::Errno(n) => errno_error(class, n, action, object),
        other => OpError::new(ErrorKind::Unexpected, action, object).detail(other.to_string()),
    }
}

fn nl_job<F>(class: OpClass, action: &'static str, object: String, f: F) -> NsJob
where
    F: FnOnce(&mut Netlink) -> Result<(), NlError> + Send + 'static,
{
    Box::new(move |ctx| {
        f(&mut ctx.nl).map(|()| Effect::Done).map_err(nl_error(class, action, object))
    })
}

/// Whether `op` is a job of its namespace's worker that touches no other sandbox
/// namespace's descriptor (so it may run in a batch of that namespace's ops).
pub fn batchable(op: &Op) -> bool {
    match op {
        Op::BridgeAdd { .. }
        | Op::LinkDel { .. }
        | Op::AddrAdd { .. }
        | Op::AddrDel { .. }
        | Op::AddrFlush { .. }
        | Op::NeighAdd { .. }
        | Op::NeighDel { .. }
        | Op::RouteAdd { .. }
        | Op::RouteDel { .. }
        | Op::RouteReplace { .. }
        | Op::RuleAdd { .. }
        | Op::RuleDel { .. }
        | Op::Sysctl { .. } => true,
        Op::VethAdd { netns, peer_netns, .. } => netns == peer_netns,
        Op::LinkSet { change, .. } => !matches!(change, LinkChange::Netns(_)),
        _ => false,
    }
}

/// The job of `op`, if it is one (`fd_of` gives other namespaces' descriptors, for veth
/// peers and moves; its error is the op's).
pub fn job_for(
    op: &Op,
    fd_of: impl Fn(&NetnsName) -> Result<Arc<OwnedFd>, OpError>,
) -> Option<Result<NsJob, OpError>> {
    let g = OpClass::General;
    let job = match op {
        Op::BridgeAdd { netns, name, mac } => {
            let mac = mac.unwrap_or_else(|| Mac::derive(&[netns.as_str(), name.as_str()]));
            let n = name.to_string();
            nl_job(g, "add", n.clone(), move |nl| links::bridge_add(nl, &n, mac))
        }
        Op::VethAdd { netns, name, mac, peer_netns, peer, peer_mac } => {
            let mac = mac.unwrap_or_else(|| Mac::derive(&[netns.as_str(), name.as_str()]));
            let peer_mac =
                peer_mac.unwrap_or_else(|| Mac::derive(&[peer_netns.as_str(), peer.as_str()]));
            let peer_fd = if peer_netns == netns {
                None
            } else {
                match fd_of(peer_netns) {
                    Ok(fd) => Some(fd),
                    Err(e) => return Some(Err(e)),
                }
            };
            let (n, p) = (name.to_string(), peer.to_string());
            nl_job(g, "add", n.clone(), move |nl| {
                let fd = peer_fd.as_ref().map(|f| f.as_raw_fd());
                links::veth_add(nl, &n, mac, &p, peer_mac, fd)
            })
        }
        Op::LinkDel { name, .. } => {
            let n = name.to_string();
            nl_job(g, "delete", n.clone(), move |nl| links::link_del(nl, &n))
        }
        Op::LinkSet { name, change, .. } => {
            let (dev, obj) = (name.to_string(), name.to_string());
            match change {
                LinkChange::Up => nl_job(g, "set up", obj, move |nl| links::set_up(nl, &dev, true)),
                LinkChange::Down => {
                    nl_job(g, "set down", obj, move |nl| links::set_up(nl, &dev, false))
                }
                LinkChange::Master(bridge) => {
                    let br = bridge.to_string();
                    nl_job(g, "enslave", obj, move |nl| {
                        let idx = links::index_of(nl, &br)?;
                        links::set_master(nl, &dev, Some(idx))
                    })
                }
                LinkChange::NoMaster => {
                    nl_job(g, "release", obj, move |nl| links::set_master(nl, &dev, None))
                }
                LinkChange::Mtu(mtu) => {
                    let mtu = *mtu;
                    nl_job(g, "set mtu of", obj, move |nl| links::set_mtu(nl, &dev, mtu))
                }
                LinkChange::Hairpin(on) => {
                    let on = *on;
                    nl_job(g, "set hairpin on", obj, move |nl| links::set_hairpin(nl, &dev, on))
                }
                LinkChange::Netns(to) => {
                    let fd = match fd_of(to) {
                        Ok(fd) => fd,
                        Err(e) => return Some(Err(e)),
                    };
                    nl_job(g, "move", obj, move |nl| links::move_to(nl, &dev, fd.as_raw_fd()))
                }
            }
        }
        Op::AddrAdd { dev, addr, opts, .. } => {
            let (d, a, o) = (dev.to_string(), *addr, opts.clone());
            nl_job(g, "add address", addr.to_string(), move |nl| {
                let idx = links::index_of(nl, &d)?;
                addrs::addr_add(nl, idx, a, &o)
            })
        }
        Op::AddrDel { dev, addr, .. } => {
            let (d, a) = (dev.to_string(), *addr);
            nl_job(OpClass::AddrDel, "delete address", addr.to_string(), move |nl| {
                let idx = links::index_of(nl, &d)?;
                addrs::addr_del(nl, idx, a)
            })
        }
        Op::AddrFlush { dev, .. } => {
            let d = dev.to_string();
            nl_job(OpClass::AddrDel, "flush addresses of", dev.to_string(), move |nl| {
                let idx = links::index_of(nl, &d)?;
                addrs::addr_flush(nl, idx)
            })
        }
        Op::NeighAdd { dev, ip, mac, replace, .. } => {
            let (d, ip, mac, replace) = (dev.to_string(), *ip, mac.0, *replace);
            nl_job(g, "add neighbour", ip.to_string(), move |nl| {
                let idx = links::index_of(nl, &d)?;
                neigh::neigh_add(nl, idx, ip, mac, replace)
            })
        }
        Op::NeighDel { dev, ip, .. } => {
            let (d, ip) = (dev.to_string(), *ip);
            nl_job(OpClass::General, "delete neighbour", ip.to_string(), move |nl| {
                let idx = links::index_of(nl, &d)?;
                neigh::neigh_del(nl, idx, ip)
            })
        }
        Op::RouteAdd { route, .. } => route_job(route, RouteVerb::Add),
        Op::RouteDel { route, .. } => route_job(route, RouteVerb::Del),
        Op::RouteReplace { route, .. } => route_job(route, RouteVerb::Replace),
        Op::RuleAdd { rule, .. } => {
            let r = rule.clone();
            nl_job(OpClass::General, "add rule", rule.to_string(), move |nl| {
                crate::rules::rule_add(nl, &r)
            })
        }
        Op::RuleDel { rule, .. } => {
            let r = rule.clone();
            nl_job(OpClass::General, "delete rule", rule.to_string(), move |nl| {
                crate::rules::rule_del(nl, &r)
            })
        }
        Op::Sysctl { key, value, .. } => {
            let (k, value) = (key.clone(), *value);
            Box::new(move |_: &mut NsCtx| {
                crate::sysctl::set(&k, value).map(|()| Effect::Done).map_err(|e| {
                    match e.raw_os_error() {
                        Some(n) => errno_error(OpClass::General, n, "set", k.name()),
                        None => OpError::new(ErrorKind::Unexpected, "set", k.name())
                            .detail(e.to_string()),
                    }
                })
            })
        }
        _ => return None,
    };
    Some(Ok(job))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RouteVerb {
    Add,
    Replace,
    Del,
}

fn route_job(spec: &RouteSpec, verb: RouteVerb) -> NsJob {
    let s = spec.clone();
    let action = match verb {
        RouteVerb::Add => "add route",
        RouteVerb::Replace => "replace route",
        RouteVerb::Del => "delete route",
    };
    nl_job(OpClass::General, action, spec.to_string(), move |nl| {
        let oif = match &s.dev {
            Some(d) => Some(links::index_of(nl, d.as_str())?),
            None => None,
        };
        let req = RouteReq {
            kind: s.kind,
            dst: s.dst,
            via: s.via,
            oif,
            src: s.src,
            table: s.table,
            metric: s.metric,
            scope: s.scope,
            onlink: s.onlink,
        };
        match verb {
            RouteVerb::Add => routes::route_add(nl, &req),
            RouteVerb::Replace => routes::route_replace(nl, &req),
            RouteVerb::Del => routes::route_del(nl, &req),
        }
    })
}
