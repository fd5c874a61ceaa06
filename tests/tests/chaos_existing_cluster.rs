//! `cairn chaos` on an existing cluster (`--namenode`, `--kill-cmd`,
//! `--start-cmd`): the datanodes are started and killed by shell commands
//! the way an operator's scripts would do it (a pid file per datanode),
//! and the run's report says the kills happened and nothing was lost.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cairn_client::DatanodeReportType;
use cairn_tests::{ClusterOptions, MiniCluster, cairn_bin, superuser, text};

const DATANODES: usize = 4;

/// The operator's commands: `{i}` is the datanode's number.
struct Scripts {
    start: String,
    kill: String,
}

impl Scripts {
    fn new(cluster: &MiniCluster, dir: &Path) -> Self {
        let (bin, config, dir) = (
            cairn_bin().display().to_string(),
            cluster.config_path().display().to_string(),
            dir.display().to_string(),
        );
        Self {
            start: format!(
                "CAIRN_NAMENODE={nn} {bin} --config {config} datanode --data-dir {dir}/dn{{i}} \
                 --address 127.0.0.1:0 --http-address 127.0.0.1:0 >>{dir}/dn{{i}}.log 2>&1 & \
                 echo $! > {dir}/dn{{i}}.pid",
                nn = cluster.namenode_addr()
            ),
            kill: format!("kill -9 $(cat {dir}/dn{{i}}.pid)"),
        }
    }

    fn run(template: &str, i: usize) -> std::process::Output {
        Command::new("sh")
            .arg("-c")
            .arg(template.replace("{i}", &i.to_string()))
            .output()
            .unwrap()
    }
}

/// Kills every datanode the scripts started, whatever the test's outcome.
struct KillOnDrop(PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for i in 0..DATANODES {
            if let Ok(pid) = std::fs::read_to_string(self.0.join(format!("dn{i}.pid"))) {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_drives_an_existing_cluster_through_commands() {
    let cluster = MiniCluster::start(ClusterOptions {
        datanodes: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = cluster.dir().join("operator");
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = KillOnDrop(dir.clone());
    let scripts = Scripts::new(&cluster, &dir);
    for i in 0..DATANODES {
        let out = Scripts::run(&scripts.start, i);
        assert!(out.status.success(), "{:?}", text(&out));
    }
    let client = cluster.client(&superuser()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let live = client
            .datanode_report(DatanodeReportType::Live)
            .await
            .unwrap();
        if live.len() == DATANODES {
            break;
        }
        assert!(Instant::now() < deadline, "{} datanodes live", live.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let output = cluster
        .command(&["--user", &superuser(), "chaos", "--namenode"])
        .arg(cluster.namenode_addr())
        .args(["--kill-cmd", &scripts.kill, "--start-cmd", &scripts.start])
        .args(["--datanodes", "4", "--replication", "3", "--max-down", "1"])
        .args(["--seed", "5", "--duration", "20s", "--interval", "1s"])
        .args([
            "--writers",
            "1",
            "--readers",
            "1",
            "--max-file-size",
            "1MiB",
        ])
        .args(["--block-size", "512KiB", "--heal-timeout", "2m"])
        .output()
        .unwrap();
    let (out, err) = text(&output);
    println!("{out}");
    assert!(
        output.status.success(),
        "{out}\n{err}\n{}",
        logs_about_unhealed_block(&out, &cluster, &dir)
    );
    let figure = |label: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{label}:")))
            .unwrap_or_else(|| panic!("no {label:?} in\n{out}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(figure("Kills") >= 3, "{out}");
    assert_eq!(figure("Kills"), figure("Restarts"), "{out}");
    assert_eq!(figure("Corruptions injected"), 0, "{out}");
    assert_eq!(figure("Files lost"), 0, "{out}");
    assert_eq!(figure("Files mismatched"), 0, "{out}");
    assert!(figure("Files verified") > 0, "{out}");
    assert!(out.ends_with("Result: PASSED: every acknowledged byte read back identical\n"));
}

/// The daemons' log lines about the block a failed run names as not
/// healed ("NOT HEALED (blk_N of …"), so the failure says what the
/// namenode decided for it, not only what the client saw.
fn logs_about_unhealed_block(out: &str, cluster: &MiniCluster, dir: &Path) -> String {
    let Some(block) = out
        .split("NOT HEALED (")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
    else {
        return String::new();
    };
    let id = block.trim_start_matches("blk_");
    let mut logs = vec![cluster.dir().join("namenode.log")];
    logs.extend((0..DATANODES).map(|i| dir.join(format!("dn{i}.log"))));
    let mut lines = format!("log lines about {block}:\n");
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        for line in text.lines().filter(|l| l.contains(id)) {
            lines.push_str(&format!("{}: {line}\n", log.display()));
        }
    }
    lines
}
