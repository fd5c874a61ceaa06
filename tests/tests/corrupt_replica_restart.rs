//! A replica found corrupt stays known as corrupt across restarts: a
//! namenode that restarted forgets it, and the block report of its
//! datanode cannot tell it from a good one (same stamp, same length), so
//! the datanode verifies the replicas it found corrupt again when it
//! registers and reports them; a datanode that restarted finds it on its
//! first pass. While the datanodes holding the good replicas are down the
//! corrupt one is all the block has, so nothing replaces it; when they
//! come back it is deleted, and its datanode — on 3 datanodes at
//! replication 3 the only one left to copy to — takes a good copy. The
//! scan period is an hour, so no periodic pass hides a lost corrupt state.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use cairn_client::{CreateOptions, DfsClient};
use cairn_tests::{
    ClusterOptions, MiniCluster, block_file, flip_byte, random_bytes, read_all, sha256, superuser,
};

const PATH: &str = "/kept-corrupt.bin";

/// How often the datanode's scanner has found the corrupt replica (its log
/// is appended to across restarts).
fn findings(cluster: &MiniCluster, node: usize) -> usize {
    cluster
        .datanode_log(node)
        .matches("block scanner found a corrupt replica")
        .count()
}

/// Polls until `done` says yes about the nodes offered for the file's
/// block, whether the namenode flags them all corrupt, and the cluster;
/// fails with the cluster's logs after a minute.
async fn until_locations(
    cluster: &MiniCluster,
    client: &DfsClient,
    what: &str,
    done: impl Fn(&[usize], bool, &MiniCluster) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let nodes = cluster
            .replica_nodes(client, PATH)
            .await
            .unwrap_or_default();
        let corrupt = client
            .get_block_locations(PATH, 0, u64::MAX)
            .await
            .is_ok_and(|located| located.blocks.first().is_some_and(|b| b.corrupt));
        if done(&nodes, corrupt, cluster) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: replicas offered on {nodes:?} (corrupt: {corrupt})\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_replica_is_replaced_after_namenode_and_datanode_restarts() {
    let (mut cluster, client) = MiniCluster::start_with_superuser(ClusterOptions {
        datanodes: 3,
        datanode_toml: "scan-period = \"1h\"\nscanner-bandwidth = \"64MiB\"\n".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let data = random_bytes(1_500_000, 31);
    let mut writer = client
        .create(
            PATH,
            CreateOptions {
                replication: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    writer.write(&data).await.unwrap();
    writer.close().await.unwrap();
    until_locations(&cluster, &client, "written", |n, _, _| n.len() == 3).await;
    let block = client
        .get_block_locations(PATH, 0, u64::MAX)
        .await
        .unwrap()
        .blocks[0]
        .block
        .unwrap()
        .id;
    let nodes = cluster.replica_nodes(&client, PATH).await.unwrap();
    let (victim, good) = (nodes[0], [nodes[1], nodes[2]]);

    // The good replicas' datanodes go down (and are declared dead); the
    // victim's replica is flipped, and its first pass after a restart
    // finds it: the block's only replica is corrupt.
    for node in good {
        cluster.kill_datanode(node);
    }
    cluster.wait_active().await.unwrap();
    flip_byte(
        &block_file(&cluster.datanode_dir(victim), block).unwrap(),
        700_000,
    )
    .unwrap();
    cluster.kill_datanode(victim);
    cluster.start_datanode(victim).unwrap();
    let only_the_victim_corrupt = move |n: &[usize], corrupt: bool| n == [victim] && corrupt;
    until_locations(&cluster, &client, "found corrupt", |n, corrupt, c| {
        findings(c, victim) == 1 && only_the_victim_corrupt(n, corrupt)
    })
    .await;

    // The namenode restarts and forgets; the victim verifies the replica
    // again when it registers (no pass is due for an hour) and reports it.
    cluster.restart_namenode().unwrap();
    cluster.wait_active().await.unwrap();
    let client = cluster.client(&superuser()).await.unwrap();
    until_locations(
        &cluster,
        &client,
        "after the namenode restart",
        |n, corrupt, c| findings(c, victim) == 2 && only_the_victim_corrupt(n, corrupt),
    )
    .await;

    // The victim restarts: its first pass finds the replica again.
    cluster.kill_datanode(victim);
    cluster.start_datanode(victim).unwrap();
    until_locations(
        &cluster,
        &client,
        "after the datanode restart",
        |n, corrupt, c| findings(c, victim) == 3 && only_the_victim_corrupt(n, corrupt),
    )
    .await;

    // The good replicas come back: the corrupt one is deleted and the
    // victim, the only datanode left to copy to, takes a good copy.
    for node in good {
        cluster.start_datanode(node).unwrap();
    }
    until_locations(
        &cluster,
        &client,
        "after the good replicas came back",
        |n, corrupt, _| n.len() == 3 && n.contains(&victim) && !corrupt,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while block_file(&cluster.datanode_dir(victim), block)
        .and_then(|f| std::fs::read(f).ok())
        .is_none_or(|bytes| sha256(&bytes) != sha256(&data))
    {
        assert!(
            Instant::now() < deadline,
            "{}",
            cluster.datanode_log(victim)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sha256(&read_all(&client, PATH).await), sha256(&data));
}
