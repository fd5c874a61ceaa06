//! `cairn bench dfsio` runs end to end at a small size. Only that it works
//! and reports every line is checked: its figures are for people, and no
//! test asserts a timing.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use cairn_tests::{cairn_bin, text};

#[test]
fn dfsio_reports_cairn_beside_its_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(cairn_bin())
        .args([
            "bench",
            "dfsio",
            "--size",
            "8m",
            "--replication",
            "1,2",
            "--dir",
        ])
        .arg(dir.path())
        .env_remove("CAIRN_CONFIG")
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert!(output.status.success(), "{out}{err}");
    for line in ["write r=1", "read  r=1", "write r=2", "read  r=2"] {
        assert!(out.contains(line), "no {line:?} in {out}");
    }
    for baseline in [" cp ", " cp+fsync ", " cat "] {
        assert!(out.contains(baseline), "no {baseline:?} baseline in {out}");
    }
    // The scratch directory is removed afterwards.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
