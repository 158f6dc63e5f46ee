//! Every input of the fuzz corpus (`fuzz/corpus/<target>/`), every crash the fuzzer ever
//! found (`fuzz/crashes/<target>/`, kept after the fix) and the seeds the corpus grew from
//! (the scenario library, the malformed scenarios, the golden iptables files, the example
//! jobs) run through their target: none may panic.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

/// The seed directories of a target, relative to the workspace root.
fn seeds(target: &str) -> &'static [&'static str] {
    match target {
        "op" | "iptables_save" => &["core/tests/data/iptables"],
        "scenario" => &["scenarios/library", "testdata/malformed-scenarios"],
        "jobspec" => &["testdata/jobs"],
        "packet" => &["fuzz/seeds/packet"],
        _ => &[],
    }
}

#[test]
fn every_corpus_crash_and_seed_input_runs_through_its_target_without_a_panic() {
    let mut ran = 0;
    for (name, target) in nettwin_fuzz::TARGETS {
        let mut dirs: Vec<PathBuf> = seeds(name).iter().map(|d| root().join(d)).collect();
        dirs.push(root().join("fuzz/corpus").join(name));
        dirs.push(root().join("fuzz/crashes").join(name));
        for dir in dirs {
            for file in files(&dir) {
                let data = match std::fs::read(&file) {
                    Ok(d) => d,
                    // A running fuzzer replaces corpus files as it minimizes them.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => panic!("{}: {e}", file.display()),
                };
                target(&data);
                // Line by line too: an op per line, a rule file's commands.
                if *name == "op" {
                    for line in data.split(|b| *b == b'\n') {
                        target(line);
                    }
                }
                ran += 1;
            }
        }
    }
    assert!(ran > 50, "only {ran} inputs: the seed directories moved?");
}
