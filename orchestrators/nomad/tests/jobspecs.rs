//! Real-looking jobspecs in `testdata/jobs/` are read as they are: the network facts come
//! out, everything else is skipped, unsupported settings and syntax errors are named with
//! their line and column.

use nettwin_nomad::jobspec::{Group, Job, Network, NetworkMode, PortSpec, parse_job};
use nettwin_nomad::located::{HclError, HclErrorKind};

fn read(name: &str) -> Result<Job, HclError> {
    let p = format!("{}/../../testdata/jobs/{name}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
    parse_job(&src)
}

fn port(label: &str, static_port: Option<u16>, to: Option<u16>) -> PortSpec {
    PortSpec { label: label.into(), static_port, to }
}

fn group(name: &str, count: u32, mode: NetworkMode, ports: Vec<PortSpec>) -> Group {
    Group { name: name.into(), count, network: Network { mode, ports } }
}

#[test]
fn seed_job_in_bridge_mode_reads_both_groups() {
    let job = read("cloak-bridge.nomad.hcl").expect("valid");
    assert_eq!(
        job,
        Job {
            name: "cloak".into(),
            groups: vec![
                group("redis", 1, NetworkMode::Bridge, vec![port("redis", None, Some(6379))]),
                group("cloak", 1, NetworkMode::Bridge, vec![port("cloak", Some(7000), Some(7000))]),
            ],
        }
    );
}

#[test]
fn seed_job_in_host_mode_reads_both_groups() {
    let job = read("cloak-host.nomad.hcl").expect("valid");
    assert_eq!(
        job.groups,
        vec![
            group("redis", 1, NetworkMode::Host, vec![port("redis", None, None)]),
            group("cloak", 1, NetworkMode::Host, vec![port("cloak", Some(7000), None)]),
        ]
    );
}

#[test]
fn service_job_with_variables_locals_and_heredoc_templates_is_read() {
    let job = read("web-platform.nomad.hcl").expect("valid");
    assert_eq!(job.name, "web-platform");
    assert_eq!(
        job.groups,
        vec![
            group(
                "web",
                3,
                NetworkMode::Bridge,
                vec![
                    port("http", None, Some(8080)),
                    port("metrics", None, None),
                    port("admin", Some(9901), Some(9901)),
                ],
            ),
            group("worker", 2, NetworkMode::Host, vec![]),
        ]
    );
}

#[test]
fn periodic_batch_job_without_network_is_read() {
    let job = read("nightly-batch.nomad.hcl").expect("valid");
    assert_eq!(job.groups, vec![group("report", 0, NetworkMode::Host, vec![])]);
}

#[test]
fn cni_network_mode_is_refused_as_not_supported() {
    let err = read("unsupported-cni.nomad.hcl").expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        r#"line 4, column 7: job "custom-net" > group "app" > network: mode = "cni/mynet" (supported: "host", "bridge") is not supported yet"#
    );
}

#[test]
fn consul_connect_is_refused_as_not_supported() {
    let err = read("unsupported-connect.nomad.hcl").expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        r#"line 11, column 7: job "countdash" > group "api" > service: connect block (Consul service mesh) is not supported yet"#
    );
}

#[test]
fn host_network_on_a_port_is_refused_as_not_supported() {
    let err = read("unsupported-host-network.nomad.hcl").expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        r#"line 8, column 9: job "edge" > group "proxy" > network > port "https": attribute host_network is not supported yet"#
    );
}

#[test]
fn second_network_block_is_refused_as_not_supported() {
    let err = read("unsupported-two-networks.nomad.hcl").expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        r#"line 6, column 5: job "twice" > group "g": a second network block is not supported yet"#
    );
}

#[test]
fn syntax_error_is_reported_with_line_and_column() {
    let err = read("syntax-error.nomad.hcl").expect_err("bad");
    let HclError { at, kind: HclErrorKind::Syntax { message } } = &err else { panic!("{err:?}") };
    // The job block is never closed: the parser stops at the end of the input.
    assert_eq!((at.line, at.column), (9, 2), "{err}");
    assert!(!message.is_empty());
}
