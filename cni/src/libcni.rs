//! How libcni drives a conflist, as data: for each plugin of the list, the environment and
//! the standard input libcni gives it, so that a conformance test can run the real
//! reference plugins exactly the way an orchestrator (a Nomad client) does. Running them (inside the
//! sandbox's namespace) is the caller's business; nothing here does I/O.
//!
//! What libcni does (containernetworking/cni `libcni/api.go`, as Nomad uses it):
//! - ADD runs the plugins in list order; each gets the list's `name` and `cniVersion`
//!   injected into its own configuration, the previous plugin's result as `prevResult`
//!   (none for the first), and `runtimeConfig` with the capabilities it declares
//!   (`portMappings` for portmap). The last result is cached.
//! - DEL runs them in reverse order, each with the cached result as `prevResult` when
//!   there is one, and stops at the first plugin that fails (so does ADD).
//! - The environment: `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`,
//!   `CNI_PATH`, and the orchestrator's `CNI_ARGS` (Nomad's:
//!   `IgnoreUnknown=true;NOMAD_ALLOC_ID=<id>`).

use serde_json::{Map, Value, json};

use crate::portmap::PortMapping;

/// The CNI command.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CniCommand {
    /// `ADD`.
    Add,
    /// `DEL`.
    Del,
}

impl CniCommand {
    /// `ADD` or `DEL`.
    pub fn as_str(self) -> &'static str {
        match self {
            CniCommand::Add => "ADD",
            CniCommand::Del => "DEL",
        }
    }
}

/// Why a conflist cannot be driven.
#[derive(Debug, thiserror::Error)]
pub enum LibcniError {
    /// Not JSON.
    #[error("the conflist is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON without the conflist's fields.
    #[error("the conflist has no {0}")]
    Missing(&'static str),
}

/// A parsed conflist.
#[derive(Clone, PartialEq, Debug)]
pub struct Conflist {
    name: String,
    cni_version: String,
    plugins: Vec<Map<String, Value>>,
}

impl Conflist {
    /// Reads a conflist.
    pub fn parse(json: &str) -> Result<Conflist, LibcniError> {
        let v: Value = serde_json::from_str(json)?;
        let text = |k: &'static str| {
            v.get(k).and_then(Value::as_str).map(str::to_owned).ok_or(LibcniError::Missing(k))
        };
        let plugins = v
            .get("plugins")
            .and_then(Value::as_array)
            .ok_or(LibcniError::Missing("plugins"))?
            .iter()
            .map(|p| p.as_object().cloned().ok_or(LibcniError::Missing("plugin object")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Conflist { name: text("name")?, cni_version: text("cniVersion")?, plugins })
    }

    /// The network name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugins' `type`s, in list order.
    pub fn plugin_types(&self) -> Vec<&str> {
        self.plugins.iter().map(|p| p.get("type").and_then(Value::as_str).unwrap_or("")).collect()
    }

    /// The indexes of the plugins in the order `cmd` runs them.
    pub fn order(&self, cmd: CniCommand) -> Vec<usize> {
        let all = 0..self.plugins.len();
        match cmd {
            CniCommand::Add => all.collect(),
            CniCommand::Del => all.rev().collect(),
        }
    }
}

/// The container a command is for.
#[derive(Clone, Debug)]
pub struct Invocation<'a> {
    /// The container id (Nomad: the allocation id).
    pub container_id: &'a str,
    /// The path of the container's namespace (`/run/netns/<name>`).
    pub netns_path: &'a str,
    /// The interface in the container (`eth0`).
    pub ifname: &'a str,
    /// Where the plugin binaries are (`/usr/lib/cni`).
    pub cni_path: &'a str,
    /// portmap's `runtimeConfig.portMappings`.
    pub mappings: &'a [PortMapping],
    /// `CNI_ARGS`, as the orchestrator sets it.
    pub cni_args: &'a str,
}

/// One plugin execution: which binary, with which environment and standard input.
#[derive(Clone, PartialEq, Debug)]
pub struct PluginCall {
    /// The plugin's `type` (the binary under `CNI_PATH`).
    pub plugin: String,
    /// The environment variables to set.
    pub env: Vec<(String, String)>,
    /// The configuration on standard input.
    pub stdin: String,
}

/// The call of plugin `index` for `cmd`, given the previous result (ADD) or the cached
/// one (DEL).
pub fn plugin_call(
    list: &Conflist,
    index: usize,
    cmd: CniCommand,
    inv: &Invocation<'_>,
    prev_result: Option<&Value>,
) -> Option<PluginCall> {
    let mut conf = list.plugins.get(index)?.clone();
    let plugin = conf.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    conf.insert("cniVersion".into(), Value::String(list.cni_version.clone()));
    conf.insert("name".into(), Value::String(list.name.clone()));
    if let Some(prev) = prev_result {
        conf.insert("prevResult".into(), prev.clone());
    }
    let wants_ports = conf
        .get("capabilities")
        .and_then(|c| c.get("portMappings"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if wants_ports && !inv.mappings.is_empty() {
        let maps: Vec<Value> = inv.mappings.iter().map(mapping_json).collect();
        conf.insert("runtimeConfig".into(), json!({ "portMappings": maps }));
    }
    let env = [
        ("CNI_COMMAND", cmd.as_str().to_owned()),
        ("CNI_CONTAINERID", inv.container_id.to_owned()),
        ("CNI_NETNS", inv.netns_path.to_owned()),
        ("CNI_IFNAME", inv.ifname.to_owned()),
        ("CNI_PATH", inv.cni_path.to_owned()),
        ("CNI_ARGS", inv.cni_args.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Some(PluginCall { plugin, env, stdin: Value::Object(conf).to_string() })
}

/// A port mapping as libcni passes it (`hostIP` only when set).
fn mapping_json(m: &PortMapping) -> Value {
    let mut v = json!({
        "hostPort": m.host_port,
        "containerPort": m.container_port,
        "protocol": m.proto.as_str(),
    });
    if let (Some(ip), Some(obj)) = (m.host_ip, v.as_object_mut()) {
        obj.insert("hostIP".into(), Value::String(ip.to_string()));
    }
    v
}

/// The name of libcni's cached result for a container (`<network>-<id>-<ifname>`).
pub fn cache_name(list: &Conflist, container_id: &str, ifname: &str) -> String {
    format!("{}-{container_id}-{ifname}", list.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nettwin_core::addr::Proto;

    /// A conflist shaped like Nomad's (the Nomad crate tests that it writes this shape).
    const LIST: &str = r#"{
        "cniVersion": "0.4.0",
        "name": "nomad",
        "plugins": [
            {"type": "loopback"},
            {"type": "bridge", "bridge": "nomad", "ipMasq": true, "isGateway": true,
             "ipam": {"type": "host-local", "dataDir": "/tmp/sandbox/data",
                      "ranges": [[{"subnet": "172.26.64.0/20"}]]}},
            {"type": "firewall", "backend": "iptables", "iptablesAdminChainName": "NOMAD-ADMIN"},
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
        ]
    }"#;

    fn nomad() -> Conflist {
        Conflist::parse(LIST).expect("conflist")
    }

    fn inv(maps: &[PortMapping]) -> Invocation<'_> {
        Invocation {
            container_id: "8d3f2a61",
            netns_path: "/run/netns/ntw-x-a1",
            ifname: "eth0",
            cni_path: "/usr/lib/cni",
            mappings: maps,
            cni_args: "IgnoreUnknown=true;NOMAD_ALLOC_ID=8d3f2a61",
        }
    }

    #[test]
    fn add_runs_in_list_order_and_del_in_reverse() {
        let list = nomad();
        assert_eq!(list.plugin_types(), ["loopback", "bridge", "firewall", "portmap"]);
        assert_eq!(list.order(CniCommand::Add), [0, 1, 2, 3]);
        assert_eq!(list.order(CniCommand::Del), [3, 2, 1, 0]);
    }

    #[test]
    fn each_plugin_gets_name_version_prev_result_and_nomads_args() {
        let list = nomad();
        let prev = json!({"cniVersion": "0.4.0", "ips": []});
        let call = plugin_call(&list, 2, CniCommand::Add, &inv(&[]), Some(&prev)).expect("call");
        assert_eq!(call.plugin, "firewall");
        let conf: Value = serde_json::from_str(&call.stdin).expect("json");
        assert_eq!(conf["name"], "nomad");
        assert_eq!(conf["cniVersion"], "0.4.0");
        assert_eq!(conf["prevResult"], prev);
        assert_eq!(conf["iptablesAdminChainName"], "NOMAD-ADMIN");
        assert!(
            call.env.contains(&(
                "CNI_ARGS".into(),
                "IgnoreUnknown=true;NOMAD_ALLOC_ID=8d3f2a61".into()
            ))
        );
        assert!(call.env.contains(&("CNI_COMMAND".into(), "ADD".into())));
    }

    #[test]
    fn only_portmap_gets_the_port_mappings() {
        let list = nomad();
        let maps = [PortMapping {
            host_port: 7000,
            container_port: 7000,
            proto: Proto::Udp,
            host_ip: None,
        }];
        let bridge = plugin_call(&list, 1, CniCommand::Add, &inv(&maps), None).expect("call");
        assert!(!bridge.stdin.contains("runtimeConfig"));
        let bridge_conf: Value = serde_json::from_str(&bridge.stdin).expect("json");
        assert_eq!(bridge_conf["ipam"]["dataDir"], "/tmp/sandbox/data");
        let pm = plugin_call(&list, 3, CniCommand::Del, &inv(&maps), None).expect("call");
        let conf: Value = serde_json::from_str(&pm.stdin).expect("json");
        assert_eq!(
            conf["runtimeConfig"]["portMappings"],
            json!([{"hostPort": 7000, "containerPort": 7000, "protocol": "udp"}])
        );
        assert_eq!(cache_name(&list, "8d3f2a61", "eth0"), "nomad-8d3f2a61-eth0");
    }
}
