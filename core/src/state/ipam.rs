//! IPAM ops on the host-local pools (`crate::ipam` holds the allocator itself).

use std::net::Ipv4Addr;

use super::State;
use crate::addr::Cidr;
use crate::error::{ErrorKind, OpError};
use crate::ipam::{HostLocal, IpRange, IpamError, RangeConfig, check_pool_name};
use crate::names::IfName;
use crate::op::Effect;

impl State {
    pub(super) fn ipam_allocate(
        &mut self,
        pool: &str,
        subnet: Cidr,
        gateway: Option<Ipv4Addr>,
        id: &str,
        ifname: &IfName,
    ) -> Result<Effect, OpError> {
        check_pool(pool, "allocate from")?;
        let range =
            IpRange::new(&RangeConfig { gateway, ..RangeConfig::subnet(subnet) }).map_err(|e| {
                OpError::new(ErrorKind::InvalidArgument, "allocate from", pool)
                    .detail(e.plugin_message())
            })?;
        let refused = |e: IpamError| {
            let kind = match e {
                IpamError::Exhausted { .. } => ErrorKind::PoolExhausted,
                IpamError::Duplicate { .. } => ErrorKind::AlreadyExists,
            };
            OpError::new(kind, "allocate from", pool).detail(e.plugin_message())
        };
        // host-local reads its range from the configuration on every call; the store
        // (leases, last reserved address) is per network name. The common case, the same
        // range as last time, allocates in place (`try_allocate` changes nothing on error).
        if let Some(hl) = self.ipam.get_mut(pool).filter(|hl| hl.range() == &range) {
            let lease = hl.try_allocate(id, ifname.as_str()).map_err(refused)?;
            return Ok(Effect::Allocated(lease.addr));
        }
        let mut hl = match self.ipam.get(pool) {
            Some(old) => HostLocal::from_store(range, &old.to_store()).map_err(|e| {
                OpError::new(ErrorKind::Unexpected, "allocate from", pool).detail(e.to_string())
            })?,
            None => HostLocal::new(range),
        };
        let lease = hl.try_allocate(id, ifname.as_str()).map_err(refused)?;
        self.ipam.insert(pool.to_owned(), hl);
        Ok(Effect::Allocated(lease.addr))
    }

    pub(super) fn ipam_release(
        &mut self,
        pool: &str,
        id: &str,
        ifname: &IfName,
    ) -> Result<Effect, OpError> {
        check_pool(pool, "release from")?;
        // Releasing what is not there succeeds, as host-local's DEL does; a pool that was
        // never configured has no store to touch.
        if let Some(hl) = self.ipam.get_mut(pool) {
            hl.release(id, ifname.as_str());
        }
        Ok(Effect::Done)
    }
}

/// A pool name both backends accept (`check_pool_name`), else `InvalidArgument`.
fn check_pool(pool: &str, action: &'static str) -> Result<(), OpError> {
    check_pool_name(pool)
        .map_err(|why| OpError::new(ErrorKind::InvalidArgument, action, pool).detail(why))
}
