//! The scenario library (`scenarios/library/*.yaml`): every scenario loads, teaches
//! something, and there are enough of them.

use std::path::PathBuf;

use nettwin_scenarios::discover::scenario_files;
use nettwin_scenarios::load_file;

fn library() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("library");
    scenario_files(&[dir]).expect("library readable")
}

#[test]
fn every_library_scenario_loads_with_a_description() {
    let files = library();
    assert!(files.len() >= 10, "only {} scenarios", files.len());
    for f in files {
        let s = load_file(&f).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.description.split_whitespace().count() >= 12,
            "{}: describe what it teaches",
            s.name
        );
        assert!(!s.probes.is_empty(), "{}: no probes", s.name);
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        assert_eq!(s.name, stem, "the name is the file name");
    }
}
