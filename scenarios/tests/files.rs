//! Reading scenario files from disk: only regular files are opened, directory walks never
//! follow links, and bytes that are not UTF-8 are refused at their place.

use std::os::unix::fs::symlink;

use nettwin_scenarios::discover::scenario_files;
use nettwin_scenarios::{LoadError, load_file};

const OK: &str = "name: ok\ndescription: d\nsteps:\n  - ip netns add a\n";

#[test]
fn a_directory_link_loop_and_a_fifo_are_skipped_by_the_walk() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    std::fs::write(root.join("a.yaml"), OK).expect("write");
    std::fs::create_dir(root.join("sub")).expect("sub");
    std::fs::write(root.join("sub/b.yaml"), OK).expect("write");
    symlink(root, root.join("sub/loop")).expect("link to the parent");
    symlink(root.join("a.yaml"), root.join("link.yaml")).expect("link to a file");
    nix::unistd::mkfifo(&root.join("pipe.yaml"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
    let found = scenario_files(&[root.to_path_buf()]).expect("walk");
    assert_eq!(found, vec![root.join("a.yaml"), root.join("sub/b.yaml")]);
}

#[test]
fn a_fifo_named_on_the_command_line_is_refused_without_opening_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("pipe.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("fifo");
    assert!(matches!(load_file(&fifo), Err(LoadError::NotAFile { .. })));
}

#[test]
fn invalid_utf8_is_refused_at_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, b"name: x\ndescription: caf\xe9\n").expect("write");
    match load_file(&file) {
        Err(LoadError::NotUtf8 { line, column, offset, .. }) => {
            assert_eq!((line, column, offset), (2, 17, 24));
        }
        other => panic!("{other:?}"),
    }
}
