//! `probe`: real traffic from the source namespace, and the `Trace` rebuilt from what the
//! kernel did with it.
//!
//! - `send`: the TCP connect, UDP datagram or ICMP echo (always from the probe's source
//!   port, `default_sport(n)` when it pins none), with a bounded wait.
//! - `packet`: parsing the captured frames.
//! - `path`: which frames are the probe and its answer, in order, and where the rule
//!   counters that moved (from `iptables-save -c` before and after) go among them.
//! - `wait`: waiting for the answer, ended early once the sandbox has gone quiet.
//!
//! Outcome mapping: accepted by a listener / datagram received by a listener / echo
//! answered → delivered (a connect that completes without any listener accepting it is
//! not: the handshake's ACK was lost, dropped or refused by the rule whose counter moved); `ECONNREFUSED` → refused (by the REJECT rule whose counter moved, else by the
//! absence of a listener); `ENETUNREACH`/`EHOSTUNREACH` (or an ICMP unreachable for an echo,
//! or `EINVAL` from the sender's own route lookup) → no-route, unless a REJECT counter moved
//! (refused); `EPERM` (the sender's OUTPUT dropped or rejected it) → refused by the REJECT
//! rule or dropped by the DROP rule or policy whose counter moved; no answer (`wait`: the
//! sandbox went quiet, or the bound passed) → dropped when a DROP rule's or a DROP policy's
//! counter moved, else timed out where the exchange was last seen (`no-neighbor` when an ARP
//! request went unanswered, else the cause the kernel's state names — see `silence` — else
//! `no-answer`). Only what reaches the sender's socket counts as an answer: a SYN-ACK or an
//! ICMP error dropped on its way is silence.
//!
//! Probes are independent: each has its own source port and payload token, connections are
//! closed with an RST, listeners are drained, and every namespace's neighbour and conntrack
//! tables are emptied before sending.

pub mod packet;
mod path;
mod send;
mod silence;
mod wait;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nettwin_core::addr::{Endpoint, Proto};
use nettwin_core::backend::BackendError;
use nettwin_core::names::{IfName, NetnsName};
use nettwin_core::state::Socket;
use nettwin_core::trace::{
    Dir, DropCause, Flow, Hop, Outcome, Probe, Refusal, SendErrno, Silence, Trace, default_sport,
};
use nix::errno::Errno;
use nix::poll::PollFlags;

use crate::capture;
use crate::iptables::{moved, parse_counters};
use crate::ns::Ns;
use nettwin_core::iptables::Counter;
use path::{Key, Seen};

/// What a probe reads and changes of the backend: the sandbox's namespaces, the probe
/// timeout and the probe numbering. Nothing else of the backend is reachable from here.
pub(crate) struct ProbeCx<'a> {
    /// The sandbox's namespaces.
    pub(crate) namespaces: &'a mut BTreeMap<NetnsName, Ns>,
    /// How long a probe waits for an answer at most.
    pub(crate) timeout: Duration,
    /// The sandbox's id, in every payload token.
    pub(crate) sandbox_id: &'a str,
    /// How many probes were sent so far.
    pub(crate) numbering: &'a mut Numbering,
}

/// How many probes a backend sent.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Numbering {
    /// Probes that did not pin a source port (the `n` of `default_sport`).
    pub(crate) unpinned: u32,
    /// All probes (for unique payload tokens).
    pub(crate) probes: u32,
}

/// What one namespace prepared for a probe.
struct Prepared {
    names: Vec<(u32, String)>,
    counters: Option<Vec<Counter>>,
    /// A capture opened now (the namespace had none yet).
    capture: Option<OwnedFd>,
    /// An echo watch opened now (an echo probe, and the namespace had none yet).
    echo_watch: Option<OwnedFd>,
}

/// What the sending side saw.
enum Sent {
    /// A listener received it.
    Delivered { netns: NetnsName, socket: Socket, seen_src: Endpoint },
    /// The client's connect completed but no listener of the sandbox accepted the
    /// connection (the handshake's last ACK was lost).
    Connected,
    /// The echo was answered.
    EchoAnswered,
    /// An ICMP error answered the echo: (type, code).
    IcmpError(u8, u8),
    /// The socket reported this errno.
    Failed(Errno),
    /// Nothing came back in time.
    Silence,
}

fn io_err(context: impl Into<String>, e: impl std::fmt::Display) -> BackendError {
    BackendError::Io { context: context.into(), source: std::io::Error::other(e.to_string()) }
}

/// Sends one probe and builds its trace.
pub(crate) fn run(cx: &mut ProbeCx<'_>, probe: &Probe) -> Result<Trace, BackendError> {
    if !cx.namespaces.contains_key(&probe.from) {
        return Err(BackendError::BadProbe(format!("no namespace {} in the sandbox", probe.from)));
    }
    if let Some(why) = probe.not_supported() {
        return Err(BackendError::BadProbe(why.to_owned()));
    }
    if probe.proto != Proto::Icmp && probe.dst.port == 0 {
        return Err(BackendError::BadProbe(format!("a {} probe needs a port", probe.proto)));
    }
    let sport = match probe.sport {
        Some(p) => p,
        None => {
            let p = default_sport(cx.numbering.unpinned);
            cx.numbering.unpinned += 1;
            p
        }
    };
    cx.numbering.probes += 1;
    let token = format!("nettwin probe {} #{}", cx.sandbox_id, cx.numbering.probes).into_bytes();

    let mut prepared = prepare(cx, probe.proto == Proto::Icmp)?;
    for (name, p) in prepared.iter_mut() {
        let Some(ns) = cx.namespaces.get_mut(name) else { continue };
        if let Some(fd) = p.capture.take() {
            ns.capture = Some(fd);
        } else if let Some(fd) = &ns.capture {
            // Whatever the capture saw since the last probe is not this probe's.
            capture::read_all(fd);
        }
        if let Some(fd) = p.echo_watch.take() {
            ns.echo_watch = Some(fd);
        } else if let Some(fd) = &ns.echo_watch {
            while send::recv_raw(fd).is_some() {}
        }
        for l in &mut ns.listeners {
            l.drain();
        }
    }
    let mut watch = wait::Watch::new(cx);
    let (sent, local) = send_probe(cx, probe, sport, &token, &mut watch)?;
    // An answer can wake the sender before the last of the probe's packets (an ACK, a
    // frame on its way out of another namespace) has gone through: wait for the sandbox
    // to settle, so that the captures and counters hold all of it.
    let _ = watch.wait(&[], Instant::now() + cx.timeout);

    let mut frames = Vec::new();
    let mut before: BTreeMap<NetnsName, Vec<Counter>> = BTreeMap::new();
    for (name, p) in &prepared {
        let dev = |i: u32| p.names.iter().find(|(x, _)| *x == i).map(|(_, n)| n.clone());
        let Some(fd) = cx.namespaces.get(name).and_then(|ns| ns.capture.as_ref()) else {
            continue;
        };
        let early = watch.frames.remove(name).unwrap_or_default();
        for f in early.into_iter().chain(capture::read_all(fd)) {
            let (Some(dev), Some(pkt)) = (dev(f.ifindex), packet::parse_frame(&f.data)) else {
                continue;
            };
            let Ok(dev) = IfName::new(&dev) else { continue };
            let dir = if f.outgoing { Dir::Out } else { Dir::In };
            let dst_mac = f.data.get(..6).and_then(|m| m.try_into().ok()).unwrap_or([0; 6]);
            frames.push(Seen { netns: name.clone(), dev, dir, ts: f.ts, pkt, dst_mac });
        }
        if let Some(c) = &p.counters {
            before.insert(name.clone(), c.clone());
        }
    }
    drop(prepared);
    frames.sort_by_key(|s| s.ts);
    let counters = counters_after(cx, &before)?;

    let key = match probe.proto {
        Proto::Tcp => path::find_isn(&frames, sport).map(Key::Isn),
        _ => Some(Key::Token(token.clone())),
    };
    let (mut hops, reply) = key.as_ref().map(|k| path::hops(&frames, k)).unwrap_or_default();
    // Without a captured hop, the header is what the sender's socket was given.
    let flow = hops.first().map(|h| h.packet).unwrap_or_else(|| {
        let port = |p: u16| if probe.proto == Proto::Icmp { 0 } else { p };
        let src = local.map_or(probe.src.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED), |l| l.ip);
        Flow {
            proto: probe.proto,
            src: Endpoint::new(src, port(sport)),
            dst: Endpoint::new(probe.dst.ip, port(probe.dst.port)),
        }
    });
    // No capture turns a silence into an answer: the sender's socket reports every ICMP
    // error that reaches it (a connect aborts on one, UDP has IP_RECVERR, the echo's raw
    // socket reads them), so an error captured on its way that the socket never saw was
    // dropped before it (an INPUT policy, say), and the sender only waited.
    let silence = match sent {
        Sent::Silence => {
            // An answer under way dropped as for another host, else the probe's own path.
            let answer_lost = reply.last().and_then(|h| {
                last_dst_mac(&frames, h).and_then(|mac| silence::other_host(cx, h, mac))
            });
            answer_lost.or_else(|| {
                let mac = hops.last().and_then(|h| last_dst_mac(&frames, h));
                silence::diagnose(cx, &probe.from, probe.dst.ip, &hops, &counters, mac)
            })
        }
        _ => None,
    };
    // The source the echo's receiver saw: its request, as its raw socket got it.
    let echo_seen = match (&sent, reply.first()) {
        (Sent::EchoAnswered, Some(h)) => cx
            .namespaces
            .get(&h.netns)
            .and_then(|ns| ns.echo_watch.as_ref())
            .and_then(|fd| echo_request_source(fd, &token)),
        _ => None,
    };
    let outcome = outcome(probe, sent, &hops, &reply, &counters, &frames, silence, echo_seen)?;
    path::place_counters(&mut hops, &counters, flow);
    Ok(Trace { probe: probe.clone(), flow, hops, outcome, reply })
}

/// Opens captures, reads link names and counters in every namespace, all at once.
fn prepare(cx: &mut ProbeCx<'_>, echo: bool) -> Result<Vec<(NetnsName, Prepared)>, BackendError> {
    let mut jobs = Vec::new();
    for (name, ns) in cx.namespaces.iter_mut() {
        // Counters read since the last iptables op (by `observe` or the last probe) are
        // still current: nothing else moves them.
        let known = ns.counters.take();
        let used = ns.iptables_used && known.is_none();
        let has_capture = ns.capture.is_some();
        let open_watch = echo && ns.echo_watch.is_none();
        let job = ns
            .worker
            .submit(move |ctx| -> Result<Prepared, String> {
                let capture = if has_capture {
                    None
                } else {
                    Some(capture::open().map_err(|e| format!("capture: {e}"))?)
                };
                let names = settled_links(&mut ctx.nl)?;
                for (_, name) in &names {
                    crate::sysctl::pin_proxy_delay(name)
                        .map_err(|e| format!("proxy_delay of {name}: {e}"))?;
                }
                crate::neigh::flush_learned(&mut ctx.nl).map_err(|e| format!("neighbours: {e}"))?;
                crate::conntrack::flush().map_err(|e| format!("conntrack: {e}"))?;
                let counters = if used {
                    let save = crate::iptables::save_with_counters()
                        .map_err(|e| format!("iptables-save: {e}"))?;
                    Some(parse_counters(&save).map_err(|e| format!("iptables-save: {e}"))?)
                } else {
                    known
                };
                let echo_watch = if open_watch {
                    Some(send::echo_watch().map_err(|e| format!("echo watch: {e}"))?)
                } else {
                    None
                };
                Ok(Prepared { names, counters, capture, echo_watch })
            })
            .map_err(|e| io_err("probe setup", e))?;
        jobs.push((name.clone(), job));
    }
    let mut out = Vec::new();
    for (name, job) in jobs {
        let p = job
            .wait()
            .map_err(|e| io_err("probe setup", e))?
            .map_err(|e| io_err(format!("probe setup in {name}"), e))?;
        out.push((name, p));
    }
    Ok(out)
}

/// The most a probe waits for links that just gained carrier to come into service (a
/// bridge port still learning, say); a link's pending linkwatch work itself is run at once
/// by reading the link on its own (`links::get`).
const SETTLE_WAIT: Duration = Duration::from_secs(2);

/// The links of the worker's namespace, once every running link is in service (see
/// `RawLink::settled`), as (ifindex, name).
fn settled_links(nl: &mut crate::netlink::Netlink) -> Result<Vec<(u32, String)>, String> {
    let until = Instant::now() + SETTLE_WAIT;
    // Pending linkwatch work of every link runs first, ports before bridges: a port's
    // carrier change is what makes its bridge recompute its own carrier.
    let mut all = crate::links::dump(nl).map_err(|e| format!("link dump: {e}"))?;
    all.sort_by_key(|l| l.kind == crate::links::RawKind::Bridge);
    for l in &all {
        crate::links::get(nl, l.index).map_err(|e| format!("link {}: {e}", l.name))?;
    }
    loop {
        let mut links = crate::links::dump(nl).map_err(|e| format!("link dump: {e}"))?;
        // A dump shows a link's state as linkwatch last left it; reading the link alone
        // brings it up to date.
        for l in links.iter_mut().filter(|l| !l.settled) {
            if let Ok(fresh) = crate::links::get(nl, l.index) {
                *l = fresh;
            }
        }
        if links.iter().all(|l| l.settled) || Instant::now() >= until {
            return Ok(links.into_iter().map(|l| (l.index, l.name)).collect());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn counters_after(
    cx: &mut ProbeCx<'_>,
    before: &BTreeMap<NetnsName, Vec<Counter>>,
) -> Result<Vec<(NetnsName, Counter)>, BackendError> {
    let mut jobs = Vec::new();
    for name in before.keys() {
        let Some(ns) = cx.namespaces.get(name) else { continue };
        let job = ns
            .worker
            .submit(|_| crate::iptables::save_with_counters())
            .map_err(|e| io_err("counters", e))?;
        jobs.push((name.clone(), job));
    }
    let mut out = Vec::new();
    for (name, job) in jobs {
        let save = job
            .wait()
            .map_err(|e| io_err("counters", e))?
            .map_err(|e| io_err(format!("iptables-save in {name}"), e))?;
        let old = before.get(&name).map(Vec::as_slice).unwrap_or_default();
        let now =
            parse_counters(&save).map_err(|e| io_err(format!("iptables-save in {name}"), e))?;
        for (c, _) in moved(old, &now) {
            out.push((name.clone(), c));
        }
        if let Some(ns) = cx.namespaces.get_mut(&name) {
            ns.counters = Some(now);
        }
    }
    Ok(out)
}

/// A failure to bind, connect or send: the probe's own fault (its source address or port),
/// else something the kernel answered (EINVAL from the output route lookup, such as a
/// local destination while `lo` has no IPv4, counts as no route).
fn start_error(e: Errno) -> Result<(Sent, Option<Endpoint>), BackendError> {
    match e {
        Errno::EADDRNOTAVAIL => Err(BackendError::BadProbe(format!(
            "cannot send from that source address: {}",
            e.desc()
        ))),
        e => Ok((Sent::Failed(e), None)),
    }
}

fn send_probe(
    cx: &mut ProbeCx<'_>,
    probe: &Probe,
    sport: u16,
    token: &[u8],
    watch: &mut wait::Watch,
) -> Result<(Sent, Option<Endpoint>), BackendError> {
    let worker = &cx
        .namespaces
        .get(&probe.from)
        .ok_or_else(|| BackendError::BadProbe(probe.from.to_string()))?
        .worker;
    let (src, dst, timeout) = (probe.src, probe.dst, cx.timeout);
    let tok = token.to_vec();
    let started = match probe.proto {
        Proto::Tcp => worker.call(move |_| send::start_tcp(src, sport, dst)),
        Proto::Udp => worker.call(move |_| send::start_udp(src, sport, dst, &tok)),
        Proto::Icmp => worker.call(move |_| send::start_icmp(src, sport, dst.ip, &tok)),
    }
    .map_err(|e| io_err("sending the probe", e))?;
    let fd = match started {
        Ok(fd) => fd,
        Err(e) => return start_error(e),
    };
    let deadline = Instant::now() + timeout;
    match probe.proto {
        Proto::Tcp => {
            use std::os::fd::AsFd;
            let result = match watch.wait(&[(fd.as_fd(), PollFlags::POLLOUT)], deadline) {
                wait::Woke::Ready(_) => match send::socket_error(&fd) {
                    None => send::Connect::Connected,
                    Some(e) => send::Connect::Failed(e),
                },
                wait::Woke::Silence => send::Connect::TimedOut,
            };
            let local = send::local_of(&fd);
            let sent = match result {
                send::Connect::Connected => {
                    // The accept queue is final once the sandbox has settled.
                    let got = wait_listeners(cx, Proto::Tcp, None, deadline, watch);
                    got.unwrap_or(Sent::Connected)
                }
                send::Connect::Failed(e) => Sent::Failed(e),
                send::Connect::TimedOut => Sent::Silence,
            };
            crate::sockets::rst_close(fd);
            Ok((sent, local))
        }
        Proto::Udp => {
            let local = send::local_of(&fd);
            let got = wait_listeners(cx, Proto::Udp, Some((&fd, token)), deadline, watch);
            Ok((got.unwrap_or(Sent::Silence), local))
        }
        Proto::Icmp => {
            use std::os::fd::AsFd;
            while watch.wait(&[(fd.as_fd(), PollFlags::POLLIN)], deadline) != wait::Woke::Silence {
                while let Some(raw) = send::recv_raw(&fd) {
                    let Some(p) = packet::parse_ipv4(&raw) else { continue };
                    match (&p.l4, p.quoted()) {
                        (packet::L4::Icmp { ty: 0, rest, .. }, _) if rest == token => {
                            return Ok((Sent::EchoAnswered, None));
                        }
                        (packet::L4::Icmp { ty, code, .. }, Some(q)) if matches!(&q.l4, packet::L4::Icmp { ty: 8, rest, .. } if rest.windows(token.len()).any(|w| w == token)) =>
                        {
                            return Ok((Sent::IcmpError(*ty, *code), None));
                        }
                        _ => {}
                    }
                }
            }
            Ok((Sent::Silence, None))
        }
    }
}

/// Waits until a listener of protocol `proto` receives something (for UDP: the datagram
/// carrying `token`), or the sender's socket reports an error, or the sandbox goes quiet,
/// or the time is up.
fn wait_listeners(
    cx: &mut ProbeCx<'_>,
    proto: Proto,
    sender: Option<(&OwnedFd, &[u8])>,
    until: Instant,
    watch: &mut wait::Watch,
) -> Option<Sent> {
    use std::os::fd::AsFd;
    loop {
        let mut fds = Vec::new();
        let mut owners = Vec::new();
        if let Some((fd, _)) = sender {
            fds.push((fd.as_fd(), PollFlags::POLLIN));
            owners.push(None);
        }
        for (name, ns) in cx.namespaces.iter() {
            for (i, l) in ns.listeners.iter().enumerate() {
                if l.socket.proto == proto {
                    fds.push((l.fd(), PollFlags::POLLIN));
                    owners.push(Some((name.clone(), i)));
                }
            }
        }
        let ready = match watch.wait(&fds, until) {
            wait::Woke::Ready(r) => r,
            wait::Woke::Silence => return None,
        };
        drop(fds);
        for r in ready {
            match &owners[r] {
                None => {
                    if let Some(e) = sender.and_then(|(fd, _)| send::socket_error(fd)) {
                        return Some(Sent::Failed(e));
                    }
                }
                Some((name, i)) => {
                    let l = cx.namespaces.get_mut(name)?.listeners.get_mut(*i)?;
                    let socket = l.socket;
                    let wanted = sender.map(|(_, t)| t);
                    for got in l.drain() {
                        if wanted.is_none_or(|t| got.payload == t) {
                            return Some(Sent::Delivered {
                                netns: name.clone(),
                                socket,
                                seen_src: got.peer,
                            });
                        }
                    }
                }
            }
        }
    }
}

/// The source of the echo request carrying `token` that a namespace's echo watch got.
fn echo_request_source(fd: &OwnedFd, token: &[u8]) -> Option<Endpoint> {
    while let Some(raw) = send::recv_raw(fd) {
        let Some(p) = packet::parse_ipv4(&raw) else { continue };
        if matches!(&p.l4, packet::L4::Icmp { ty: 8, rest, .. } if rest == token) {
            return Some(Endpoint::new(p.src, 0));
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn outcome(
    probe: &Probe,
    sent: Sent,
    hops: &[Hop],
    reply: &[Hop],
    counters: &[(NetnsName, Counter)],
    frames: &[Seen],
    silence: Option<Silence>,
    echo_seen: Option<Endpoint>,
) -> Result<Outcome, BackendError> {
    let last_ns = hops.last().map_or(&probe.from, |h| &h.netns).clone();
    let answered_from = reply.first().map(|h| h.netns.clone());
    let reject = || {
        path::counter_with(counters, "REJECT").map(|(ns, c)| Outcome::Refused {
            netns: ns.clone(),
            by: Refusal::Reject {
                table: c.table,
                chain: c.chain.to_string(),
                rule: c.rule.unwrap_or(0),
            },
        })
    };
    let no_route = || {
        let netns = answered_from.clone().unwrap_or_else(|| probe.from.clone());
        let dst =
            hops.iter().rev().find(|h| h.netns == netns).map_or(probe.dst.ip, |h| h.packet.dst.ip);
        Outcome::NoRoute { netns, dst }
    };
    let dropped_or_silent = || {
        if let Some((ns, c)) = path::counter_with(counters, "DROP") {
            let by = match c.rule {
                Some(rule) => DropCause::Rule { table: c.table, chain: c.chain.to_string(), rule },
                None => DropCause::Policy { table: c.table, chain: c.chain.to_string() },
            };
            return Some(Outcome::Dropped { netns: ns.clone(), by });
        }
        None
    };
    Ok(match sent {
        Sent::Delivered { netns, socket, seen_src } => {
            Outcome::Delivered { netns, socket: Some(socket), seen_src }
        }
        // The client's connect succeeded but no listener accepted: the handshake's third
        // packet never reached the server. Dropped or refused by the rule whose counter
        // moved, else lost where the exchange was last seen.
        Sent::Connected => reject().or_else(dropped_or_silent).unwrap_or_else(|| {
            let netns = answered_from.clone().unwrap_or(last_ns);
            Outcome::TimedOut { netns, why: Silence::NoAnswer }
        }),
        Sent::EchoAnswered => {
            let netns = answered_from.clone().unwrap_or(last_ns);
            let seen_src = echo_seen
                .or_else(|| reply.first().map(|h| h.packet.dst))
                .unwrap_or_else(|| probe_src(probe, hops));
            Outcome::Delivered { netns, socket: None, seen_src }
        }
        Sent::Failed(Errno::ECONNREFUSED) | Sent::IcmpError(3, 3) => {
            reject().unwrap_or_else(|| Outcome::Refused {
                netns: answered_from.unwrap_or(last_ns),
                by: Refusal::NoListener,
            })
        }
        // ICMP protocol unreachable (a REJECT with icmp-proto-unreachable) fails a connect
        // with ENOPROTOOPT.
        Sent::Failed(
            Errno::ENETUNREACH | Errno::EHOSTUNREACH | Errno::EINVAL | Errno::ENOPROTOOPT,
        )
        | Sent::IcmpError(3, _) => reject().unwrap_or_else(no_route),
        // The sender's own OUTPUT dropped or rejected it: the send itself fails with EPERM.
        Sent::Failed(Errno::EPERM) => reject().or_else(dropped_or_silent).ok_or_else(|| {
            io_err("probe", "EPERM from the sender and no DROP or REJECT counter moved")
        })?,
        Sent::Silence | Sent::IcmpError(..) => dropped_or_silent().unwrap_or_else(|| {
            let why = match (path::unanswered_arp(frames), silence) {
                (Some((ip, _, dev)), _) => Silence::NoNeighbor { ip, dev },
                (None, Some(why)) => why,
                (None, None) => Silence::NoAnswer,
            };
            // Where the exchange was last seen: the answer's last hop when an answer got
            // under way (a SYN-ACK, echo reply or ICMP error that never arrived), else the
            // probe's; an unanswered ARP request names its own namespace.
            let last_seen = reply.last().map_or(last_ns, |h| h.netns.clone());
            let netns = path::unanswered_arp(frames).map_or(last_seen, |(_, ns, _)| ns);
            Outcome::TimedOut { netns, why }
        }),
        // The sender's own kernel refused: nothing was sent.
        Sent::Failed(Errno::EACCES) => {
            Outcome::SendFailed { netns: probe.from.clone(), errno: SendErrno::Access }
        }
        Sent::Failed(Errno::EADDRINUSE) => {
            Outcome::SendFailed { netns: probe.from.clone(), errno: SendErrno::AddressInUse }
        }
        Sent::Failed(e) => {
            return Err(io_err("probe", format!("the sender saw {e:?}: {}", e.desc())));
        }
    })
}

fn probe_src(probe: &Probe, hops: &[Hop]) -> Endpoint {
    hops.last()
        .map_or(Endpoint::new(probe.src.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED), 0), |h| {
            h.packet.src
        })
}

/// The destination MAC of the last frame captured as hop `h` (an IPv4 frame coming in on
/// its device with its addresses).
fn last_dst_mac(frames: &[path::Seen], h: &nettwin_core::trace::Hop) -> Option<[u8; 6]> {
    if h.dir != Dir::In {
        return None;
    }
    frames
        .iter()
        .rev()
        .find(|s| {
            s.netns == h.netns
                && Some(&s.dev) == h.device.as_ref()
                && s.dir == Dir::In
                && matches!(&s.pkt, packet::Packet::Ipv4(p)
                    if p.src == h.packet.src.ip && p.dst == h.packet.dst.ip)
        })
        .map(|s| s.dst_mac)
}
