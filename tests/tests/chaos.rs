//! `cairn chaos` end to end: five datanodes, replication 3, at most two
//! down at once, more than twenty SIGKILLs (plus pauses and flipped bytes)
//! while writers and readers run; at the end every acknowledged file reads
//! back identical and every block is back at three replicas. A second run
//! also kills the namenode.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use cairn_tests::{cairn_bin, text};

/// The value after "LABEL:" on its line of the report.
fn figure(report: &str, label: &str) -> String {
    report
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{label}:")))
        .unwrap_or_else(|| panic!("no {label:?} in the report:\n{report}"))
        .trim()
        .to_string()
}

fn count(report: &str, label: &str) -> u64 {
    figure(report, label).parse().unwrap()
}

/// Runs `cairn chaos` with `extra` flags and checks its report.
fn run_chaos(extra: &[&str]) -> String {
    let dir = tempfile::Builder::new()
        .prefix("cairn-chaos-test-")
        .tempdir()
        .unwrap();
    let output = Command::new(cairn_bin())
        .args(["chaos", "--datanodes", "5", "--replication", "3"])
        .args(["--max-down", "2", "--writers", "2", "--readers", "2"])
        .args(["--max-file-size", "2MiB", "--block-size", "1MiB"])
        .args(["--heal-timeout", "3m", "--dir"])
        .arg(dir.path())
        .args(extra)
        .env_remove("CAIRN_CONFIG")
        .env_remove("CAIRN_NAMENODE")
        .output()
        .unwrap();
    let (out, err) = text(&output);
    // Shown with --nocapture, and kept for the closing note.
    println!("{out}");
    assert!(
        output.status.success(),
        "cairn chaos failed ({}):\n{out}\n{err}",
        output.status
    );
    assert_eq!(count(&out, "Files lost"), 0, "{out}");
    assert_eq!(count(&out, "Files mismatched"), 0, "{out}");
    assert_eq!(count(&out, "Failed writes left open"), 0, "{out}");
    assert_eq!(count(&out, "Reads mismatched"), 0, "{out}");
    assert!(count(&out, "Files verified") > 0, "{out}");
    assert_eq!(
        count(&out, "Files verified"),
        count(&out, "Files written (acknowledged)"),
        "{out}"
    );
    assert!(
        !figure(&out, "Time to heal after the run").starts_with("NOT HEALED"),
        "{out}"
    );
    assert!(
        out.ends_with("Result: PASSED: every acknowledged byte read back identical\n"),
        "{out}"
    );
    out
}

#[test]
fn chaos_run_loses_nothing() {
    let report = run_chaos(&["--seed", "7", "--duration", "60s", "--interval", "800ms"]);
    assert!(count(&report, "Kills") >= 20, "{report}");
    assert_eq!(
        count(&report, "Kills"),
        count(&report, "Restarts"),
        "{report}"
    );
}

#[test]
fn chaos_run_with_namenode_kills_loses_nothing() {
    let report = run_chaos(&[
        "--seed",
        "11",
        "--duration",
        "45s",
        "--interval",
        "1s",
        "--kill-namenode",
    ]);
    assert!(count(&report, "Namenode kills") >= 1, "{report}");
}
