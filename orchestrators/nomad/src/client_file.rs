//! The client file of `nettwin plan --client FILE`: the settings of one Nomad client, in
//! HCL, written as in a Nomad agent configuration.
//!
//! ```hcl
//! # A Nomad agent configuration: only the `client` block is read, and in it only the
//! # settings that shape bridge networking; everything else is skipped unevaluated.
//! client {
//!   enabled                            = true
//!   bridge_network_name                = "nomad"           # default "nomad"
//!   bridge_network_subnet              = "172.26.64.0/20"  # default 172.26.64.0/20
//!   bridge_network_hairpin_mode        = false             # default false
//!   min_dynamic_port                   = 20000             # default 20000
//!   max_dynamic_port                   = 32000             # default 32000
//!   bind_wildcard_default_host_network = true              # default true
//!   reserved {
//!     reserved_ports = "22,8500-8600"                      # taken before any allocation
//!   }
//! }
//!
//! # nettwin's own block (Nomad would fingerprint this from network_interface).
//! nettwin {
//!   host_ip = "192.0.2.10"                                 # default 192.0.2.10
//! }
//! ```
//!
//! Settings that change the network in ways not modeled (`host_network` blocks,
//! `bridge_network_subnet_ipv6`, `cni_config_dir` networks) are refused as "not supported
//! yet", naming the block and the position. Syntax errors name line and column; the caller
//! adds the file name.

use std::net::Ipv4Addr;

use hcl::edit::Span;
use hcl::edit::expr::Expression;
use hcl::edit::structure::{Block, Body, Structure};

use crate::client::ClientConfig;
use crate::located::{HclError, HclSource};
use nettwin_core::addr::Cidr;
use nettwin_core::names::IfName;

/// The host address a client file that names none gets (documentation range).
pub const DEFAULT_HOST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// What a client file says: the client's settings and the ports it reserves.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientFile {
    /// The settings the planner uses.
    pub config: ClientConfig,
    /// `reserved { reserved_ports }`, expanded, ascending.
    pub reserved_ports: Vec<u16>,
}

impl Default for ClientFile {
    /// Nomad's defaults on a host at [`DEFAULT_HOST_IP`].
    fn default() -> Self {
        ClientFile { config: ClientConfig::defaults(DEFAULT_HOST_IP), reserved_ports: Vec::new() }
    }
}

/// Client settings that do not touch the default bridge network; skipped like any
/// setting of another block.
const IGNORED_CLIENT_SETTINGS: &[&str] = &[
    "enabled",
    "state_dir",
    "alloc_dir",
    "servers",
    "server_join",
    "node_class",
    "node_pool",
    "meta",
    "options",
    "network_interface",
    "network_speed",
    "cpu_total_compute",
    "memory_total_mb",
    "disk_total_mb",
    "max_kill_timeout",
    "gc_interval",
    "gc_disk_usage_threshold",
    "gc_inode_usage_threshold",
    "gc_max_allocs",
    "gc_parallel_destroys",
    "cni_path",
    "template",
    "host_volume",
    "chroot_env",
    "drain_on_shutdown",
    "artifact",
];

/// Parses a client file.
pub fn parse_client_file(src: &str) -> Result<ClientFile, HclError> {
    let cx = Cx { src: HclSource::new(src) };
    let body = cx.src.parse_body()?;
    let mut out = ClientFile::default();
    for block in body.get_blocks("client") {
        cx.client(&block.body, &mut out)?;
    }
    for block in body.get_blocks("nettwin") {
        cx.nettwin(&block.body, &mut out)?;
    }
    if out.config.min_dynamic_port > out.config.max_dynamic_port {
        return Err(cx.src.invalid(
            None,
            "client",
            format!(
                "min_dynamic_port ({}) is greater than max_dynamic_port ({})",
                out.config.min_dynamic_port, out.config.max_dynamic_port
            ),
        ));
    }
    Ok(out)
}

struct Cx {
    src: HclSource,
}

impl Cx {
    fn client(&self, body: &Body, out: &mut ClientFile) -> Result<(), HclError> {
        let path = "client";
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let (key, v) = (a.key.as_str(), &a.value);
                    let cfg = &mut out.config;
                    match key {
                        "bridge_network_name" => {
                            let name = self.string(v, path, key)?;
                            cfg.bridge = IfName::new(&name)
                                .map_err(|e| self.src.invalid(v.span(), path, e.to_string()))?;
                        }
                        "bridge_network_subnet" => {
                            let text = self.string(v, path, key)?;
                            cfg.subnet = text.parse::<Cidr>().map_err(|e| {
                                self.src.invalid(v.span(), path, format!("{key}: {e}"))
                            })?;
                        }
                        "bridge_network_hairpin_mode" => {
                            cfg.hairpin_mode = self.boolean(v, path, key)?
                        }
                        "bind_wildcard_default_host_network" => {
                            cfg.bind_wildcard_default_host_network = self.boolean(v, path, key)?;
                        }
                        "min_dynamic_port" => cfg.min_dynamic_port = self.port(v, path, key)?,
                        "max_dynamic_port" => cfg.max_dynamic_port = self.port(v, path, key)?,
                        _ if IGNORED_CLIENT_SETTINGS.contains(&key) => {}
                        _ => {
                            return Err(self.src.unsupported(
                                a.span(),
                                path,
                                format!("setting {key}"),
                            ));
                        }
                    }
                }
                Structure::Block(b) => match b.ident.as_str() {
                    "reserved" => self.reserved(b, out)?,
                    "meta" | "options" | "host_volume" | "chroot_env" | "template"
                    | "server_join" | "artifact" | "drain_on_shutdown" => {}
                    other => {
                        return Err(self.src.unsupported(b.span(), path, format!("{other} block")));
                    }
                },
            }
        }
        Ok(())
    }

    fn reserved(&self, block: &Block, out: &mut ClientFile) -> Result<(), HclError> {
        let path = "client > reserved";
        // CPU, memory and disk reservations do not touch the network.
        for a in block.body.attributes().filter(|a| a.key.as_str() == "reserved_ports") {
            let text = self.string(&a.value, path, "reserved_ports")?;
            let ports = parse_port_list(&text)
                .map_err(|reason| self.src.invalid(a.value.span(), path, reason))?;
            out.reserved_ports.extend(ports);
            out.reserved_ports.sort_unstable();
            out.reserved_ports.dedup();
        }
        Ok(())
    }

    fn nettwin(&self, body: &Body, out: &mut ClientFile) -> Result<(), HclError> {
        let path = "nettwin";
        for s in body.iter() {
            let Structure::Attribute(a) = s else {
                let what = s.as_block().map_or("block", |b| b.ident.as_str());
                return Err(self.src.invalid(s.span(), path, format!("unexpected {what} block")));
            };
            match a.key.as_str() {
                "host_ip" => {
                    let text = self.string(&a.value, path, "host_ip")?;
                    out.config.host_ip = text.parse().map_err(|_| {
                        self.src.invalid(
                            a.value.span(),
                            path,
                            format!("host_ip {text:?} is not an IPv4 address"),
                        )
                    })?;
                }
                other => {
                    return Err(self.src.invalid(
                        a.span(),
                        path,
                        format!("unknown setting {other} (expected host_ip)"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn literal_problem(&self, expr: &Expression, path: &str, key: &str, want: &str) -> HclError {
        let text = self.src.text(expr.span()).unwrap_or("?").trim();
        self.src.invalid(expr.span(), path, format!("{key} must be {want}, found {text}"))
    }

    fn string(&self, expr: &Expression, path: &str, key: &str) -> Result<String, HclError> {
        match expr {
            Expression::String(s) => Ok(s.value().clone()),
            _ => Err(self.literal_problem(expr, path, key, "a string")),
        }
    }

    fn boolean(&self, expr: &Expression, path: &str, key: &str) -> Result<bool, HclError> {
        match expr {
            Expression::Bool(b) => Ok(*b.value()),
            _ => Err(self.literal_problem(expr, path, key, "true or false")),
        }
    }

    fn port(&self, expr: &Expression, path: &str, key: &str) -> Result<u16, HclError> {
        let n = match expr {
            Expression::Number(n) => n.value().as_u64(),
            _ => None,
        };
        n.and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| self.literal_problem(expr, path, key, "a port number"))
    }
}

/// Nomad's port list syntax (`ParsePortRanges`): `22,80,8000-8100`.
pub fn parse_port_list(text: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("invalid port range {part:?} in {text:?}");
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: u16 = lo.parse().map_err(|_| bad())?;
        let hi: u16 = hi.parse().map_err(|_| bad())?;
        if lo == 0 || hi < lo {
            return Err(bad());
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_nomads_defaults_on_the_documentation_host() {
        let f = parse_client_file("").expect("valid");
        assert_eq!(f, ClientFile::default());
        assert_eq!(f.config.subnet.to_string(), "172.26.64.0/20");
    }

    #[test]
    fn agent_configuration_with_other_blocks_reads_the_bridge_settings() {
        let src = r#"
datacenter = "dc1"
data_dir   = "/opt/nomad"
server { enabled = false }
plugin "docker" {
  config { allow_privileged = true }
}
client {
  enabled               = true
  servers               = ["10.0.0.1"]
  bridge_network_name   = "nomad0"
  bridge_network_subnet = "10.88.0.0/24"
  bridge_network_hairpin_mode = true
  min_dynamic_port = 30000
  max_dynamic_port = 30100
  bind_wildcard_default_host_network = false
  meta { rack = "r1" }
  reserved {
    cpu            = 500
    reserved_ports = "22, 8500-8502"
  }
}
nettwin { host_ip = "198.51.100.7" }
"#;
        let f = parse_client_file(src).expect("valid");
        assert_eq!(f.config.bridge.as_str(), "nomad0");
        assert_eq!(f.config.subnet.to_string(), "10.88.0.0/24");
        assert!(f.config.hairpin_mode && !f.config.bind_wildcard_default_host_network);
        assert_eq!((f.config.min_dynamic_port, f.config.max_dynamic_port), (30000, 30100));
        assert_eq!(f.config.host_ip, Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(f.reserved_ports, [22, 8500, 8501, 8502]);
    }

    #[test]
    fn host_network_block_is_not_supported_yet_and_named_with_its_position() {
        let src = "client {\n  host_network \"public\" {\n    cidr = \"192.0.2.0/24\"\n  }\n}\n";
        let err = parse_client_file(src).expect_err("unsupported");
        assert_eq!(
            err.to_string(),
            "line 2, column 3: client: host_network block is not supported yet"
        );
    }

    #[test]
    fn ipv6_bridge_subnet_is_not_supported_yet() {
        let err = parse_client_file("client {\n  bridge_network_subnet_ipv6 = \"fd00::/64\"\n}\n")
            .expect_err("unsupported");
        assert!(
            err.to_string().contains("setting bridge_network_subnet_ipv6 is not supported yet"),
            "{err}"
        );
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = parse_client_file("client {\n  min_dynamic_port = \n}\n").expect_err("bad");
        let HclError { at, kind: crate::located::HclErrorKind::Syntax { .. } } = err else {
            panic!("{err:?}")
        };
        assert_eq!(at.line, 2);
    }

    #[test]
    fn bad_subnet_and_swapped_port_range_are_refused() {
        let err = parse_client_file("client {\n  bridge_network_subnet = \"nope\"\n}\n")
            .expect_err("bad subnet");
        assert!(
            err.to_string().starts_with("line 2, column 27: client: bridge_network_subnet:"),
            "{err}"
        );
        let err = parse_client_file(
            "client {\n  min_dynamic_port = 3000\n  max_dynamic_port = 2000\n}\n",
        )
        .expect_err("swapped");
        assert!(
            err.to_string()
                .ends_with("min_dynamic_port (3000) is greater than max_dynamic_port (2000)"),
            "{err}"
        );
    }

    #[test]
    fn port_lists_expand_ranges_and_refuse_garbage() {
        assert_eq!(parse_port_list("22,80-82"), Ok(vec![22, 80, 81, 82]));
        assert!(parse_port_list("80-70").is_err());
        assert!(parse_port_list("http").is_err());
    }
}
