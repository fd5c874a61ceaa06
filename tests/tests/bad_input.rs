//! Bad input gets HDFS's message and exit code, and changes nothing.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use cairn_tests::{ClusterOptions, MiniCluster, superuser, text};

fn assert_fails(cluster: &MiniCluster, args: &[&str], expected: &[&str]) -> String {
    let output = cluster.dfs(&superuser(), args);
    let (out, err) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?} exit code: {out}{err}"
    );
    for part in expected {
        assert!(
            err.contains(part),
            "{args:?}: stderr {err:?} lacks {part:?}"
        );
    }
    err
}

fn assert_ok(cluster: &MiniCluster, args: &[&str]) -> String {
    let output = cluster.dfs(&superuser(), args);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{args:?}: {out}{err}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_hdfs_messages_and_changes_nothing() {
    let cluster = MiniCluster::start(ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_ok(&cluster, &["-mkdir", "-p", "/d/sub/deeper", "/e"]);
    assert_ok(&cluster, &["-touchz", "/f", "/d/sub/x"]);
    let before = assert_ok(&cluster, &["-ls", "-R", "/"]);

    assert_fails(
        &cluster,
        &["-ls", "/nope"],
        &["ls: `/nope': No such file or directory"],
    );
    assert_fails(&cluster, &["-mkdir", "/f"], &["mkdir: `/f'"]);
    let local = cluster.dir().join("local.txt");
    std::fs::write(&local, b"hello").unwrap();
    assert_fails(
        &cluster,
        &["-put", &local.display().to_string(), "/f/x"],
        &["put: ", "/f"],
    );
    assert_fails(&cluster, &["-rm", "/d"], &["rm: `/d': Is a directory"]);
    assert_fails(
        &cluster,
        &["-rmdir", "/d"],
        &["rmdir: `/d': Directory is not empty"],
    );
    assert_fails(
        &cluster,
        &["-mv", "/d", "/d/sub/deeper"],
        &["mv: ", "`/d'", "subdirectory of itself"],
    );
    assert_fails(
        &cluster,
        &["-setrep", "0", "/f"],
        &["setrep", "replication"],
    );
    assert_fails(&cluster, &["-ls", "-x", "/"], &["Illegal option -x"]);

    let after = assert_ok(&cluster, &["-ls", "-R", "/"]);
    assert_eq!(before, after, "a failed command changed the namespace");
    let status = cluster
        .client(&superuser())
        .await
        .unwrap()
        .get_file_info("/f")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.replication, 1, "setrep 0 changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datanode_of_another_cluster_is_refused() {
    let mut first = MiniCluster::start(ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    first.kill_datanode(0);
    let foreign = first.datanode_dir(0);

    let second = MiniCluster::start(ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let output = second.datanode_expecting_failure(&foreign).unwrap();
    assert!(output.contains("Incompatible clusterIDs"), "{output}");
    assert!(output.contains(&foreign.display().to_string()), "{output}");
}

#[test]
fn no_namenode_is_named_with_its_address_and_a_hint() {
    // Port 1 on loopback: nothing listens there.
    let output = std::process::Command::new(cairn_tests::cairn_bin())
        .args(["dfs", "-fs", "cairn://127.0.0.1:1", "-ls", "/"])
        .env_remove("CAIRN_CONFIG")
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("ls: Call to 127.0.0.1:1 failed on connection exception: "),
        "{err}"
    );
    assert!(err.contains("cairn server"), "{err}");
}
