//! The reference CNI plugins driven from Rust the way libcni drives a conflist, inside a
//! linux-backend sandbox: shared by the conformance test and the CNI chain benchmark.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nettwin_cni::libcni::{CniCommand, Conflist, Invocation, cache_name, plugin_call};
use nettwin_cni::portmap::PortMapping;
use nettwin_linux::LinuxBackend;
use nettwin_linux::testing::REQUIRE_ENV;
use nettwin_nomad::client::{CONTAINER_IFNAME, ClientConfig};
use serde_json::Value;

/// Where Debian installs the reference plugins.
pub const CNI_PATH: &str = "/usr/lib/cni";

/// Whether the plugins are installed; a visible skip (or, under CI, a failure) when not.
pub fn plugins_installed() -> bool {
    let missing: Vec<&str> = ["loopback", "bridge", "firewall", "portmap", "host-local"]
        .into_iter()
        .filter(|p| !Path::new(CNI_PATH).join(p).is_file())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("CNI plugins missing in {CNI_PATH}: {}", missing.join(", "));
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE_ENV}=1 but {why} (apt-get install containernetworking-plugins)");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED ({why})");
    false
}

/// The real plugins, driven like libcni in sandbox A's `host`.
pub struct RealChain {
    list: Conflist,
    cache: PathBuf,
    scratch: PathBuf,
}

impl RealChain {
    pub fn new(b: &LinuxBackend, client: &ClientConfig) -> RealChain {
        let data_dir = b.sandbox_dir().join("ipam");
        let json = client.conflist_json(&data_dir.display().to_string());
        let list = Conflist::parse(&json.unwrap_or_else(|e| panic!("conflist: {e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let cache = b.sandbox_dir().join("cni-cache");
        let scratch = b.sandbox_dir().join("cni-stdin");
        for d in [&cache, &scratch] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        }
        RealChain { list, cache, scratch }
    }

    /// Runs `cmd` for one container; returns the final result (ADD). Panics with the
    /// plugin's output when one fails, as libcni stops there.
    pub fn run(
        &self,
        b: &LinuxBackend,
        cmd: CniCommand,
        id: &str,
        netns_path: &str,
        mappings: &[PortMapping],
    ) {
        let cache_file = self.cache.join(cache_name(&self.list, id, CONTAINER_IFNAME));
        let mut prev: Option<Value> = match cmd {
            CniCommand::Add => None,
            CniCommand::Del => std::fs::read_to_string(&cache_file)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok()),
        };
        let cni_args = nettwin_nomad::hook::cni_args(id);
        let inv = Invocation {
            container_id: id,
            netns_path,
            ifname: CONTAINER_IFNAME,
            cni_path: CNI_PATH,
            mappings,
            cni_args: &cni_args,
        };
        for index in self.list.order(cmd) {
            let call = plugin_call(&self.list, index, cmd, &inv, prev.as_ref())
                .unwrap_or_else(|| panic!("no plugin {index}"));
            let stdin = self.scratch.join(format!("{id}-{}-{}", cmd.as_str(), call.plugin));
            std::fs::write(&stdin, &call.stdin).unwrap_or_else(|e| panic!("{e}"));
            let file = std::fs::File::open(&stdin).unwrap_or_else(|e| panic!("{e}"));
            let mut c = Command::new(Path::new(CNI_PATH).join(&call.plugin));
            // Only the CNI variables, and PATH (the plugins run iptables).
            let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin".into());
            c.env_clear().env("PATH", path).envs(call.env.iter().cloned());
            c.stdin(Stdio::from(file));
            let out = b.run_in("host", c).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                out.status.success(),
                "plugin type=\"{}\" failed ({}): {}{}",
                call.plugin,
                cmd.as_str().to_lowercase(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if cmd == CniCommand::Add && !out.stdout.is_empty() {
                prev = Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!("{} result: {e}: {}", call.plugin, String::from_utf8_lossy(&out.stdout))
                }));
            }
        }
        match (cmd, prev) {
            (CniCommand::Add, Some(result)) => {
                std::fs::write(&cache_file, result.to_string()).unwrap_or_else(|e| panic!("{e}"))
            }
            _ => {
                let _ = std::fs::remove_file(&cache_file);
            }
        }
    }
}
