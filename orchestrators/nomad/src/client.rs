//! The Nomad client settings that shape bridge networking, and the CNI configuration list
//! Nomad builds from them (`cni.NewNomadBridgeConflist` in hashicorp/nomad
//! `client/allocrunner/cni/bridge.go`).

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::hook::NOMAD_ADMIN_CHAIN;
use crate::ports::{DEFAULT_MAX_DYNAMIC_PORT, DEFAULT_MIN_DYNAMIC_PORT};
use nettwin_core::addr::Cidr;
use nettwin_core::names::IfName;

/// Nomad's default bridge name (`defaultNomadBridgeName`).
pub const DEFAULT_BRIDGE: &str = "nomad";

/// Nomad's default allocation subnet (`defaultNomadAllocSubnet`), `172.26.64.0/20`.
pub fn default_subnet() -> Cidr {
    Cidr::containing(Ipv4Addr::new(172, 26, 64, 0), 20)
}

/// The CNI network name in Nomad's conflist; also the host-local store directory name
/// and part of every hashed chain name.
pub const NETWORK_NAME: &str = "nomad";

/// The interface inside the allocation (`bridgeNetworkAllocIfPrefix` + index 0).
pub const CONTAINER_IFNAME: &str = "eth0";

/// The CNI version of Nomad's conflist.
pub const CNI_VERSION: &str = "0.4.0";

/// The `dataDir` Nomad ≥ 1.9.4 writes into its conflist (a tmpfs, so leases do not survive
/// a reboot); the store of network `nomad` is then `/var/run/cni/nomad`. (host-local's
/// own default, when a conflist names none, is `/var/lib/cni/networks`.)
pub const NOMAD_DATA_DIR: &str = "/var/run/cni";

/// The client settings the bridge network depends on.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientConfig {
    /// `bridge_network_name`, default `nomad`.
    pub bridge: IfName,
    /// `bridge_network_subnet`, default `172.26.64.0/20`.
    pub subnet: Cidr,
    /// `bridge_network_hairpin_mode`, default false.
    pub hairpin_mode: bool,
    /// The address of the client's default host network (ports are tracked on it, and it
    /// is passed to portmap as `hostIP` when `bind_wildcard_default_host_network` is off).
    pub host_ip: Ipv4Addr,
    /// `bind_wildcard_default_host_network`, default true: portmap gets no `hostIP`, so its
    /// rules match any local address (no `-d HOST/32`).
    pub bind_wildcard_default_host_network: bool,
    /// `min_dynamic_port`, default 20000.
    pub min_dynamic_port: u16,
    /// `max_dynamic_port`, default 32000.
    pub max_dynamic_port: u16,
}

impl ClientConfig {
    /// Nomad's defaults, on a host whose default network address is `host_ip`.
    pub fn defaults(host_ip: Ipv4Addr) -> ClientConfig {
        ClientConfig {
            bridge: nettwin_core::static_name!(IfName, DEFAULT_BRIDGE),
            subnet: default_subnet(),
            hairpin_mode: false,
            host_ip,
            bind_wildcard_default_host_network: true,
            min_dynamic_port: DEFAULT_MIN_DYNAMIC_PORT,
            max_dynamic_port: DEFAULT_MAX_DYNAMIC_PORT,
        }
    }

    /// The `hostIP` given to portmap for every mapping, if any.
    pub fn portmap_host_ip(&self) -> Option<Ipv4Addr> {
        (!self.bind_wildcard_default_host_network).then_some(self.host_ip)
    }

    /// The conflist Nomad writes for its bridge network, as Nomad prints it (Go's
    /// `json.MarshalIndent` with a tab), with host-local's store under `data_dir`
    /// (Nomad itself uses [`NOMAD_DATA_DIR`]; a sandbox passes its own directory).
    pub fn conflist_json(&self, data_dir: &str) -> Result<String, serde_json::Error> {
        let subnet = self.subnet.to_string();
        let list = Conflist {
            cni_version: CNI_VERSION,
            name: NETWORK_NAME,
            plugins: (
                Generic { kind: "loopback" },
                Bridge {
                    kind: "bridge",
                    bridge: self.bridge.as_str(),
                    ip_masq: true,
                    is_gateway: true,
                    force_address: true,
                    hairpin_mode: self.hairpin_mode,
                    ipam: Ipam {
                        kind: "host-local",
                        ranges: [[IpamRange { subnet: &subnet }]],
                        routes: [IpamRoute { dst: "0.0.0.0/0" }],
                        data_dir,
                    },
                },
                Firewall {
                    kind: "firewall",
                    backend: "iptables",
                    admin_chain_name: NOMAD_ADMIN_CHAIN,
                },
                Portmap {
                    kind: "portmap",
                    capabilities: PortmapCapabilities { port_mappings: true },
                    snat: true,
                },
            ),
        };
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        list.serialize(&mut ser)?;
        // serde_json writes UTF-8: nothing is lost.
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The same conflist with Nomad's own `dataDir`.
    pub fn nomad_conflist_json(&self) -> Result<String, serde_json::Error> {
        self.conflist_json(NOMAD_DATA_DIR)
    }
}

// The conflist, field for field in the order of Nomad's Go structs.
#[derive(Serialize)]
struct Conflist<'a> {
    #[serde(rename = "cniVersion")]
    cni_version: &'a str,
    name: &'a str,
    plugins: (Generic<'a>, Bridge<'a>, Firewall<'a>, Portmap<'a>),
}

#[derive(Serialize)]
struct Generic<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Bridge<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    bridge: &'a str,
    #[serde(rename = "ipMasq")]
    ip_masq: bool,
    #[serde(rename = "isGateway")]
    is_gateway: bool,
    #[serde(rename = "forceAddress")]
    force_address: bool,
    #[serde(rename = "hairpinMode")]
    hairpin_mode: bool,
    ipam: Ipam<'a>,
}

#[derive(Serialize)]
struct Ipam<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    ranges: [[IpamRange<'a>; 1]; 1],
    routes: [IpamRoute<'a>; 1],
    #[serde(rename = "dataDir")]
    data_dir: &'a str,
}

#[derive(Serialize)]
struct IpamRange<'a> {
    subnet: &'a str,
}

#[derive(Serialize)]
struct IpamRoute<'a> {
    dst: &'a str,
}

#[derive(Serialize)]
struct Firewall<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    backend: &'a str,
    #[serde(rename = "iptablesAdminChainName")]
    admin_chain_name: &'a str,
}

#[derive(Serialize)]
struct Portmap<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    capabilities: PortmapCapabilities,
    snat: bool,
}

#[derive(Serialize)]
struct PortmapCapabilities {
    #[serde(rename = "portMappings")]
    port_mappings: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_conflist_is_nomads_text() {
        let cfg = ClientConfig::defaults(Ipv4Addr::new(192, 0, 2, 10));
        let want = r#"{
	"cniVersion": "0.4.0",
	"name": "nomad",
	"plugins": [
		{
			"type": "loopback"
		},
		{
			"type": "bridge",
			"bridge": "nomad",
			"ipMasq": true,
			"isGateway": true,
			"forceAddress": true,
			"hairpinMode": false,
			"ipam": {
				"type": "host-local",
				"ranges": [
					[
						{
							"subnet": "172.26.64.0/20"
						}
					]
				],
				"routes": [
					{
						"dst": "0.0.0.0/0"
					}
				],
				"dataDir": "/var/run/cni"
			}
		},
		{
			"type": "firewall",
			"backend": "iptables",
			"iptablesAdminChainName": "NOMAD-ADMIN"
		},
		{
			"type": "portmap",
			"capabilities": {
				"portMappings": true
			},
			"snat": true
		}
	]
}"#;
        assert_eq!(cfg.nomad_conflist_json().expect("serializes"), want);
    }

    #[test]
    fn wildcard_default_host_network_passes_no_host_ip() {
        let mut cfg = ClientConfig::defaults(Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(cfg.portmap_host_ip(), None);
        cfg.bind_wildcard_default_host_network = false;
        assert_eq!(cfg.portmap_host_ip(), Some(Ipv4Addr::new(192, 0, 2, 10)));
    }
}
