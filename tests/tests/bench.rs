//! `cairn bench --quick` runs every benchmark end to end at a small size.
//! Only that each works and reports its figures is checked: the figures
//! are for people, and no test asserts a timing.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use cairn_tests::{cairn_bin, quick_bench, text};

/// Every benchmark of issue 7's table, by the name its rows carry.
const BENCHMARKS: [&str; 9] = [
    "dfsio-write",
    "dfsio-write --tmpfs",
    "dfsio-read",
    "checksum",
    "nn-ops",
    "nn-ops --rpc",
    "editlog",
    "nn-memory",
    "small-files",
];

#[test]
fn quick_run_reports_every_benchmark_with_positive_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (report, out) = quick_bench(dir.path(), &[]);
    assert!(report["load_before"].is_string(), "{out}");
    let rows = report["rows"].as_array().unwrap();
    for bench in BENCHMARKS {
        assert!(
            rows.iter().any(|r| r["bench"] == bench),
            "no {bench:?} row in {out}"
        );
    }
    for row in rows {
        let value = row["value"].as_f64().unwrap();
        assert!(value > 0.0, "figure not positive: {row}");
        assert!(row["unit"].as_str().is_some_and(|u| !u.is_empty()), "{row}");
        if let Some(baseline) = row["baseline_value"].as_f64() {
            assert!(baseline > 0.0, "baseline not positive: {row}");
            assert!(row["ratio"].as_f64().unwrap() > 0.0, "{row}");
        }
        // A row with a goal says whether it is met.
        if !row["goal"].as_str().unwrap().is_empty() {
            assert!(row["met"].is_boolean(), "{row}");
        }
    }
    // Each benchmark's own operations were run: nn-ops reports all six.
    for op in ["mkdirs", "create", "open", "fileStatus", "rename", "delete"] {
        assert!(
            rows.iter()
                .any(|r| r["bench"] == "nn-ops" && r["measure"].as_str().unwrap().starts_with(op)),
            "no nn-ops {op} row in {out}"
        );
    }
    // Over RPC, each side's CPU per call is measured, beside the CPU per
    // op in process.
    for (bench, measure) in [
        ("nn-ops", "open 2 thr CPU per op"),
        ("nn-ops --rpc", "open 2 thr CPU per call, namenode"),
        ("nn-ops --rpc", "open 2 thr CPU per call, client"),
    ] {
        assert!(
            rows.iter()
                .any(|r| r["bench"] == bench && r["measure"] == measure && r["unit"] == "µs"),
            "no {bench} {measure:?} row in {out}"
        );
    }
    // The checksum benchmark covers the three dfsio workloads.
    for workload in ["dfsio-write ", "dfsio-write --tmpfs ", "dfsio-read "] {
        assert!(
            rows.iter().any(|r| r["bench"] == "checksum"
                && r["measure"].as_str().unwrap().starts_with(workload)),
            "no checksum row for {workload:?} in {out}"
        );
    }
    // The scratch directory is removed afterwards.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn one_benchmark_prints_a_readable_table() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(cairn_bin())
        .args(["bench", "--quick", "--dir"])
        .arg(dir.path())
        .args(["editlog", "--ops", "500"])
        .env_remove("CAIRN_CONFIG")
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert!(output.status.success(), "{out}{err}");
    assert!(out.contains("creates per fsync"), "{out}");
    assert!(out.contains("goal"), "{out}");
    assert!(out.contains("load average"), "{out}");
}
