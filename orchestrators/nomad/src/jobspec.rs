//! Reading the parts of a Nomad jobspec (HCL2) that decide what the network looks like:
//! `job "name" { group "g" { count, network { mode, port "label" { static, to } } } }`.
//!
//! Real job files are accepted as they are: every block and attribute this model does not
//! need (tasks, services, templates with heredocs, resources, constraints, `variable` and
//! `locals` blocks with interpolations, ...) is skipped without being evaluated. What it
//! needs must be a literal; settings that would change the network in ways not modeled yet
//! (`mode = "cni/..."`, `host_network`, `dns`, Consul Connect, task-level networks, more
//! than one `network` block) are refused with [`HclErrorKind::NotSupported`], naming the
//! block and its position. HCL syntax errors name line and column.
//!
//! Nomad's own validation of group networks is reproduced with its texts (duplicate port
//! labels, duplicate static ports, ports above 65535).

use hcl::edit::Span;
use hcl::edit::expr::{Expression, UnaryOperator};
use hcl::edit::structure::{Block, BlockLabel, Body, Structure};

use crate::located::{HclError, HclErrorKind, HclSource};

/// A job: its name and its groups, in file order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Job {
    /// The `job` block's label.
    pub name: String,
    /// The task groups.
    pub groups: Vec<Group>,
}

/// A task group: how many allocations, and their network.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Group {
    /// The `group` block's label.
    pub name: String,
    /// `count`, 1 when absent.
    pub count: u32,
    /// The group's `network` block; a group without one is host mode without ports.
    pub network: Network,
}

/// A group network as far as the model goes.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Network {
    /// `mode`.
    pub mode: NetworkMode,
    /// The `port` blocks, in file order.
    pub ports: Vec<PortSpec>,
}

/// The network modes the model supports.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum NetworkMode {
    /// `mode = "host"` (Nomad's default): no namespace, tasks bind host ports.
    #[default]
    Host,
    /// `mode = "bridge"`: a namespace on the `nomad` bridge, set up by the CNI plugins.
    Bridge,
}

impl NetworkMode {
    /// The mode as the jobspec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Host => "host",
            NetworkMode::Bridge => "bridge",
        }
    }
}

/// One `port "label" { static = N  to = M }` block.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PortSpec {
    /// The block's label.
    pub label: String,
    /// `static`: a fixed host port; `None` (or `static = 0`) asks for a dynamic one.
    pub static_port: Option<u16>,
    /// `to`: the port inside the allocation; `None` (absent, 0 or -1) means the same as the
    /// host port.
    pub to: Option<u16>,
}

/// Parses a jobspec and extracts the job's groups and networks.
pub fn parse_job(src: &str) -> Result<Job, HclError> {
    let cx = Cx { src: HclSource::new(src) };
    let body = cx.src.parse_body()?;
    let jobs: Vec<&Block> = body.get_blocks("job").collect();
    let [job] = jobs.as_slice() else {
        // At the second job block, or at the start when there is none.
        let span = jobs.get(1).and_then(|b| b.span());
        return Err(cx.src.error(span, HclErrorKind::JobCount { found: jobs.len() }));
    };
    cx.job(job)
}

/// Positions and paths for error messages.
struct Cx {
    src: HclSource,
}

impl Cx {
    /// A network mode other than host and bridge: Nomad's other modes are not supported
    /// yet; anything else is unknown, with the mode it is probably a typo of.
    fn unknown_mode(
        &self,
        span: Option<std::ops::Range<usize>>,
        path: &str,
        mode: &str,
    ) -> HclError {
        if mode == "none" || mode.starts_with("cni/") {
            let what = format!("mode = {mode:?} (supported: \"host\", \"bridge\")");
            return self.src.unsupported(span, path, what);
        }
        let hint = nettwin_core::text::did_you_mean(mode, &["host", "bridge", "none"])
            .map(|m| format!(", did you mean {m:?}?"))
            .unwrap_or_else(|| " (Nomad's modes: host, bridge, none, cni/<name>)".to_owned());
        self.src.invalid(span, path, format!("unknown network mode {mode:?}{hint}"))
    }

    /// The single string label of a block (`job "x"`, `group "y"`, `port "z"`).
    fn label(&self, block: &Block, path: &str) -> Result<String, HclError> {
        match block.labels.as_slice() {
            [l] => Ok(label_text(l).to_owned()),
            labels => Err(self.src.invalid(
                block.span(),
                path,
                format!(
                    "{} block needs exactly one label, found {}",
                    block.ident.as_str(),
                    labels.len()
                ),
            )),
        }
    }

    fn job(&self, block: &Block) -> Result<Job, HclError> {
        let name = self.label(block, "job")?;
        let path = format!("job {name:?}");
        let mut groups: Vec<Group> = Vec::new();
        for g in block.body.get_blocks("group") {
            let group = self.group(g, &path)?;
            if groups.iter().any(|other| other.name == group.name) {
                return Err(self.src.invalid(
                    g.span(),
                    &path,
                    format!("group {:?} is defined twice", group.name),
                ));
            }
            groups.push(group);
        }
        Ok(Job { name, groups })
    }

    fn group(&self, block: &Block, job_path: &str) -> Result<Group, HclError> {
        let name = self.label(block, &format!("{job_path} > group"))?;
        let path = format!("{job_path} > group {name:?}");
        let count = match self.single_attr(&block.body, "count", &path)? {
            None => 1,
            Some(expr) => {
                let n = self.integer(expr, &path, "count")?;
                u32::try_from(n).map_err(|_| {
                    self.src.invalid(
                        expr.span(),
                        &path,
                        format!("count must be 0 or more, got {n}"),
                    )
                })?
            }
        };
        let networks: Vec<&Block> = block.body.get_blocks("network").collect();
        let network = match networks.as_slice() {
            [] => Network::default(),
            [one] => self.network(one, &path)?,
            [_, second, ..] => {
                return Err(self.src.unsupported(
                    second.span(),
                    &path,
                    "a second network block".into(),
                ));
            }
        };
        self.check_unmodeled_group_settings(&block.body, &path)?;
        Ok(Group { name, count, network })
    }

    /// Group content that would change the network but is not modeled: Consul Connect
    /// (adds a proxy port and possibly transparent proxy rules) and task-level networks.
    fn check_unmodeled_group_settings(&self, body: &Body, path: &str) -> Result<(), HclError> {
        for svc in body.get_blocks("service") {
            if let Some(c) = svc.body.get_blocks("connect").next() {
                let p = format!("{path} > service");
                return Err(self.src.unsupported(
                    c.span(),
                    &p,
                    "connect block (Consul service mesh)".into(),
                ));
            }
        }
        for task in body.get_blocks("task") {
            for res in task.body.get_blocks("resources") {
                if let Some(n) = res.body.get_blocks("network").next() {
                    let p = format!("{path} > task {:?} > resources", task_name(task));
                    return Err(self.src.unsupported(
                        n.span(),
                        &p,
                        "network block inside task resources (deprecated task networks)".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn network(&self, block: &Block, group_path: &str) -> Result<Network, HclError> {
        let path = format!("{group_path} > network");
        let mut net = Network::default();
        for s in block.body.iter() {
            match s {
                Structure::Attribute(a) => match a.key.as_str() {
                    "mode" => {
                        let mode = self.string(&a.value, &path, "mode")?;
                        net.mode = match mode.as_str() {
                            "host" => NetworkMode::Host,
                            "bridge" => NetworkMode::Bridge,
                            other => return Err(self.unknown_mode(a.span(), &path, other)),
                        };
                    }
                    // Deprecated bandwidth ask; it changes nothing on the host.
                    "mbits" => {}
                    other => {
                        return Err(self.src.unsupported(
                            a.span(),
                            &path,
                            format!("attribute {other}"),
                        ));
                    }
                },
                Structure::Block(b) => match b.ident.as_str() {
                    "port" => net.ports.push(self.port(b, &path)?),
                    other => {
                        return Err(self.src.unsupported(
                            b.span(),
                            &path,
                            format!("{other} block"),
                        ));
                    }
                },
            }
        }
        self.validate_ports(block, &net, &path)?;
        Ok(net)
    }

    fn port(&self, block: &Block, net_path: &str) -> Result<PortSpec, HclError> {
        let label = self.label(block, &format!("{net_path} > port"))?;
        let path = format!("{net_path} > port {label:?}");
        let mut spec = PortSpec { label, static_port: None, to: None };
        let mut seen: Vec<&str> = Vec::new();
        for s in block.body.iter() {
            let Structure::Attribute(a) = s else {
                let what = s.as_block().map_or("block", |b| b.ident.as_str());
                return Err(self.src.unsupported(s.span(), &path, format!("{what} block")));
            };
            let key = a.key.as_str();
            if seen.contains(&key) {
                return Err(self.src.invalid(
                    a.span(),
                    &path,
                    format!("attribute {key} is set twice"),
                ));
            }
            seen.push(key);
            match key {
                "static" => {
                    let n = self.integer(&a.value, &path, "static")?;
                    spec.static_port = match n {
                        0 => None,
                        1..=65535 => u16::try_from(n).ok(),
                        _ if n > 65535 => {
                            return Err(self.src.invalid(
                                a.span(),
                                &path,
                                format!("Port {} ({n}) cannot be greater than 65535", spec.label),
                            ));
                        }
                        _ => {
                            return Err(self.src.invalid(
                                a.span(),
                                &path,
                                format!("static must be a port number, got {n}"),
                            ));
                        }
                    };
                }
                "to" => {
                    let n = self.integer(&a.value, &path, "to")?;
                    spec.to = match n {
                        -1 | 0 => None,
                        1..=65535 => u16::try_from(n).ok(),
                        _ => {
                            return Err(self.src.invalid(
                                a.span(),
                                &path,
                                format!("to must be a port number or -1, got {n}"),
                            ));
                        }
                    };
                }
                other => {
                    return Err(self.src.unsupported(
                        a.span(),
                        &path,
                        format!("attribute {other}"),
                    ));
                }
            }
        }
        Ok(spec)
    }

    /// Nomad's `validateNetworks`, for one network block.
    fn validate_ports(&self, block: &Block, net: &Network, path: &str) -> Result<(), HclError> {
        for (i, p) in net.ports.iter().enumerate() {
            let earlier = &net.ports[..i];
            if earlier.iter().any(|q| q.label == p.label) {
                return Err(self.src.invalid(
                    block.span(),
                    path,
                    format!("Port label {} already in use by taskgroup network", p.label),
                ));
            }
            if let Some(s) = p.static_port
                && let Some(q) = earlier.iter().find(|q| q.static_port == Some(s))
            {
                return Err(self.src.invalid(
                    block.span(),
                    path,
                    format!("Static port {s} already reserved by taskgroup network:{}", q.label),
                ));
            }
        }
        Ok(())
    }

    /// The value of an attribute that may appear at most once in `body`.
    fn single_attr<'b>(
        &self,
        body: &'b Body,
        key: &str,
        path: &str,
    ) -> Result<Option<&'b Expression>, HclError> {
        let mut found = body.attributes().filter(|a| a.key.as_str() == key);
        let first = found.next();
        if let Some(again) = found.next() {
            return Err(self.src.invalid(
                again.span(),
                path,
                format!("attribute {key} is set twice"),
            ));
        }
        Ok(first.map(|a| &a.value))
    }

    fn integer(&self, expr: &Expression, path: &str, key: &str) -> Result<i64, HclError> {
        let value = match expr {
            Expression::Number(n) => n.value().as_i64(),
            Expression::UnaryOp(op) if op.operator.value() == &UnaryOperator::Neg => {
                match &op.expr {
                    Expression::Number(n) => n.value().as_i64().map(|v| -v),
                    _ => None,
                }
            }
            _ => return Err(self.not_literal(expr, path, key, "a whole number")),
        };
        value.ok_or_else(|| {
            self.src.invalid(expr.span(), path, format!("{key} must be a whole number"))
        })
    }

    fn string(&self, expr: &Expression, path: &str, key: &str) -> Result<String, HclError> {
        match expr {
            Expression::String(s) => Ok(s.value().clone()),
            _ => Err(self.not_literal(expr, path, key, "a string")),
        }
    }

    fn not_literal(&self, expr: &Expression, path: &str, key: &str, want: &str) -> HclError {
        let is_literal = matches!(
            expr,
            Expression::Null(_)
                | Expression::Bool(_)
                | Expression::Number(_)
                | Expression::String(_)
        );
        if is_literal {
            self.src.invalid(expr.span(), path, format!("{key} must be {want}"))
        } else {
            let text = self.src.text(expr.span()).unwrap_or("an expression");
            self.src.unsupported(
                expr.span(),
                path,
                format!("{key} = {} (an expression; only literal values are read)", text.trim()),
            )
        }
    }
}

fn label_text(l: &BlockLabel) -> &str {
    l.as_str()
}

fn task_name(task: &Block) -> &str {
    task.labels.first().map_or("", label_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job with one group whose network block holds `lines`.
    fn in_network(lines: &str) -> String {
        format!("job \"j\" {{\n  group \"g\" {{\n    network {{\n{lines}\n    }}\n  }}\n}}\n")
    }

    #[test]
    fn minimal_bridge_job_reads_groups_ports_and_counts() {
        let job = parse_job(
            r#"
job "cloak" {
  group "redis" {
    network {
      mode = "bridge"
      port "redis" { to = 6379 }
    }
  }
  group "cloak" {
    count = 2
    network {
      mode = "bridge"
      port "cloak" {
        static = 7000
        to     = 7000
      }
    }
  }
}
"#,
        )
        .expect("valid");
        assert_eq!(job.name, "cloak");
        assert_eq!(job.groups.len(), 2);
        assert_eq!(job.groups[0].count, 1);
        assert_eq!(
            job.groups[0].network.ports,
            [PortSpec { label: "redis".into(), static_port: None, to: Some(6379) }]
        );
        assert_eq!(job.groups[1].count, 2);
        assert_eq!(job.groups[1].network.mode, NetworkMode::Bridge);
        assert_eq!(job.groups[1].network.ports[0].static_port, Some(7000));
    }

    #[test]
    fn group_without_network_is_host_mode_without_ports() {
        let job = parse_job(
            "job \"j\" {\n group \"g\" {\n  task \"t\" {\n   driver = \"exec\"\n  }\n }\n}\n",
        )
        .expect("valid");
        assert_eq!(job.groups[0].network, Network::default());
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let err =
            parse_job("job \"j\" {\n  group \"g\" {\n    count = \n  }\n}\n").expect_err("bad");
        let HclError { at, kind: HclErrorKind::Syntax { .. } } = &err else { panic!("{err:?}") };
        assert_eq!((at.line, at.column), (3, 13), "{err}");
        assert!(err.to_string().starts_with("line 3, column 13: HCL syntax error: "), "{err}");
    }

    #[test]
    fn cni_mode_is_not_supported_and_named_with_its_block() {
        let err = parse_job(
            "job \"j\" {\n  group \"g\" {\n    network {\n      mode = \"cni/mynet\"\n    }\n  }\n}\n",
        )
        .expect_err("unsupported");
        assert_eq!(
            err.to_string(),
            r#"line 4, column 7: job "j" > group "g" > network: mode = "cni/mynet" (supported: "host", "bridge") is not supported yet"#
        );
    }

    #[test]
    fn interpolated_count_is_not_supported() {
        let err = parse_job("job \"j\" {\n  group \"g\" {\n    count = var.n\n  }\n}\n")
            .expect_err("unsupported");
        assert!(err.to_string().contains("count = var.n (an expression"), "{err}");
    }

    #[test]
    fn an_empty_heredoc_does_not_swallow_the_rest_of_the_job() {
        let src = "job \"h\" {\n  group \"a\" {\n    task \"t\" {\n      template {\n        data = <<EOT\nEOT\n      }\n    }\n  }\n  group \"b\" {\n    network {\n      mode = \"bridge\"\n    }\n    task \"u\" {\n      template {\n        data = <<EOT\nhello\nEOT\n      }\n    }\n  }\n}\n";
        let job = parse_job(src).expect("valid");
        let names: Vec<&str> = job.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(job.groups[1].network.mode, NetworkMode::Bridge);
    }

    #[test]
    fn a_misspelt_mode_is_unknown_with_a_suggestion() {
        let err = parse_job(&in_network(r#"mode = "brigde""#)).expect_err("unknown");
        assert!(matches!(err.kind, HclErrorKind::Invalid { .. }), "{err:?}");
        assert!(
            err.to_string().ends_with(r#"unknown network mode "brigde", did you mean "bridge"?"#)
        );
        let err = parse_job(&in_network(r#"mode = "none""#)).expect_err("not supported");
        assert!(matches!(err.kind, HclErrorKind::NotSupported { .. }), "{err:?}");
    }

    #[test]
    fn negative_to_means_same_as_host_port() {
        let job = parse_job(&in_network(r#"port "p" { to = -1 }"#)).expect("valid");
        assert_eq!(job.groups[0].network.ports[0].to, None);
    }

    #[test]
    fn duplicate_static_port_is_refused_with_nomads_text() {
        let err = parse_job(&in_network("port \"a\" { static = 80 }\nport \"b\" { static = 80 }"))
            .expect_err("invalid");
        assert!(
            err.to_string().ends_with("Static port 80 already reserved by taskgroup network:a"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_port_label_is_refused_with_nomads_text() {
        let err = parse_job(&in_network("port \"a\" {}\nport \"a\" {}")).expect_err("invalid");
        assert!(
            err.to_string().ends_with("Port label a already in use by taskgroup network"),
            "{err}"
        );
    }

    #[test]
    fn port_above_65535_is_refused_with_nomads_text() {
        let err = parse_job(&in_network(r#"port "a" { static = 70000 }"#)).expect_err("invalid");
        assert!(err.to_string().ends_with("Port a (70000) cannot be greater than 65535"), "{err}");
    }

    #[test]
    fn two_jobs_are_refused_at_the_second() {
        let err = parse_job("job \"a\" {}\njob \"b\" {}\n").expect_err("two jobs");
        assert_eq!(err.kind, HclErrorKind::JobCount { found: 2 });
        assert_eq!((err.at.line, err.at.column, err.at.bytes), (2, 1, 11..21));
    }
}
