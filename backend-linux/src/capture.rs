//! AF_PACKET captures: one `ETH_P_ALL` socket per namespace, opened on its worker, that
//! sees every frame sent (`PACKET_OUTGOING`) or received on every device of the namespace,
//! with a kernel timestamp to order frames across namespaces.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// One captured frame.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Kernel receive timestamp, in nanoseconds.
    pub ts: u128,
    /// The device's ifindex (in the capturing namespace).
    pub ifindex: u32,
    /// Sent out of the device (else received on it).
    pub outgoing: bool,
    /// The frame, from the Ethernet header on.
    pub data: Vec<u8>,
}

const ETH_P_ALL: u16 = 0x0003;
const SNAPLEN: usize = 2048;

/// Opens a capture on every device of the calling thread's namespace (run on a worker).
pub fn open() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ALL.to_be()),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let on: libc::c_int = 1;
    let buf: libc::c_int = 4 << 20;
    for (opt, val) in [(libc::SO_TIMESTAMPNS, on), (libc::SO_RCVBUFFORCE, buf)] {
        // SAFETY: `val` is a c_int and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&raw const val).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(fd)
}

/// Reads every frame waiting on a capture (non-blocking).
pub fn read_all(fd: &OwnedFd) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut data = vec![0u8; SNAPLEN];
    let mut control = [0u64; 16];
    loop {
        // SAFETY: zeroed sockaddr_ll and msghdr are valid; the pointers set below stay
        // valid for the call.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
        // SAFETY: see above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&raw mut addr).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: `msg` points at live buffers of the sizes it states.
        let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC) };
        if n < 0 {
            break;
        }
        let len = (n as usize).min(data.len());
        let mut ts = 0u128;
        // SAFETY: the CMSG_* macros walk the control buffer the kernel filled in.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    ts = (t.tv_sec as u128) * 1_000_000_000 + t.tv_nsec as u128;
                }
                c = libc::CMSG_NXTHDR(&raw const msg, c);
            }
        }
        out.push(Frame {
            ts,
            ifindex: addr.sll_ifindex as u32,
            outgoing: addr.sll_pkttype == libc::PACKET_OUTGOING,
            data: data[..len].to_vec(),
        });
    }
    out
}

/// Closes a capture on a background thread: closing a packet socket waits for an RCU grace
/// period (`synchronize_net`, ~10 ms), which teardown should not pay for each namespace.
pub fn close_later(fd: OwnedFd) {
    use std::sync::mpsc::{Sender, channel};
    use std::sync::{Mutex, OnceLock};
    static REAPER: OnceLock<Mutex<Sender<OwnedFd>>> = OnceLock::new();
    let tx = REAPER.get_or_init(|| {
        let (tx, rx) = channel::<OwnedFd>();
        let spawned = std::thread::Builder::new().name("ntw-reaper".into()).spawn(move || {
            while let Ok(fd) = rx.recv() {
                drop(fd);
            }
        });
        if spawned.is_err() {
            // Without a reaper thread the descriptors sent are dropped with the channel's
            // receiver, i.e. closed at once: slower, still correct.
        }
        Mutex::new(tx)
    });
    if let Ok(tx) = tx.lock() {
        let _ = tx.send(fd);
    }
}

/// A UDP socket with `SO_TIMESTAMPNS` on, kept open while a namespace exists: the kernel
/// enables receive timestamps for everyone only some time after the first socket asks
/// (a deferred static key), and captures need them from the first probe on. Run on a
/// namespace worker.
pub fn clock_keeper() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let on: libc::c_int = 1;
    // SAFETY: `on` is a c_int and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}
