//! One configuration file for every daemon: an unknown key or a bad value
//! stops a daemon at start with a message naming the file, the key and the
//! reason; `cairn config --print-default` is a valid file of the defaults;
//! SIGTERM stops the daemons cleanly (the namenode syncs its edit log and
//! comes back with every file).

#![allow(clippy::unwrap_used)]

use std::process::Command;

use cairn_client::CreateOptions;
use cairn_tests::{ClusterOptions, MiniCluster, cairn_bin, superuser, text};

/// Runs `cairn --config FILE namenode ...` on a fresh name directory and
/// returns what it printed, expecting it to refuse to start.
fn namenode_with(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, config).unwrap();
    let out = Command::new(cairn_bin())
        .arg("--config")
        .arg(&file)
        .args(["namenode", "--rpc-address", "127.0.0.1:0"])
        .args(["--http-address", "127.0.0.1:0", "--name-dir"])
        .arg(dir.path().join("name"))
        .env_remove("CAIRN_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with {config:?}");
    let (stdout, stderr) = text(&out);
    format!("{stdout}{stderr}")
}

#[test]
fn unknown_keys_and_bad_values_are_refused_naming_file_key_and_reason() {
    let message = namenode_with("[namenode]\nheartbeat-intervall = \"3s\"\n");
    assert!(message.contains("bad.toml"), "{message}");
    assert!(
        message.contains("unknown field `heartbeat-intervall`"),
        "{message}"
    );

    let message = namenode_with("[namenode]\ndead-interval = \"ten minutes\"\n");
    assert!(message.contains("bad.toml"), "{message}");
    assert!(message.contains("namenode.dead-interval"), "{message}");
    assert!(
        message.contains("does not start with a number"),
        "{message}"
    );

    let message = namenode_with("[datanode]\nreserved-bytes = -1\n");
    assert!(message.contains("datanode.reserved-bytes"), "{message}");
}

#[test]
fn printed_defaults_are_a_valid_configuration() {
    let out = Command::new(cairn_bin())
        .args(["config", "--print-default"])
        .env_remove("CAIRN_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cairn.toml");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = Command::new(cairn_bin())
        .arg("--config")
        .arg(&file)
        .arg("config")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&check);
    assert!(check.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("cairn.toml: OK"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_daemons_cleanly() {
    let mut cluster = MiniCluster::start(ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let client = cluster.client(&superuser()).await.unwrap();
    client.mkdirs("/kept", None).await.unwrap();
    let mut writer = client
        .create("/kept/f", CreateOptions::default())
        .await
        .unwrap();
    writer.write(b"still here").await.unwrap();
    writer.close().await.unwrap();

    let (status, logs) = cluster.terminate_datanode(0).unwrap();
    assert!(status.success(), "datanode exited with {status}\n{logs}");
    assert!(logs.contains("datanode stopped"), "{logs}");

    let (status, logs) = cluster.terminate_namenode().unwrap();
    assert!(status.success(), "namenode exited with {status}\n{logs}");
    assert!(logs.contains("namenode stopped"), "{logs}");

    // What was answered is there after the restart.
    cluster.restart_namenode().unwrap();
    cluster.start_datanode(0).unwrap();
    cluster.wait_active().await.unwrap();
    let client = cluster.client(&superuser()).await.unwrap();
    let status = client.get_file_info("/kept/f").await.unwrap().unwrap();
    assert_eq!(status.length, 10);
}
