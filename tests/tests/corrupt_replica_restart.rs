//! A replica found corrupt stays known as corrupt across restarts: a
//! namenode that restarted forgets it, and the block report of its
//! datanode cannot tell it from a good one (same stamp, same length), so
//! the datanode verifies the replicas it found corrupt again when it
//! registers and reports them; a datanode that restarted finds it on its
//! first pass. Once a datanode with room joins, the corrupt replica is
//! replaced from a good one and deleted. The scan period is an hour, so no
//! periodic pass hides a lost corrupt state.

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
/// block (and the cluster), failing with the cluster's logs after a minute.
async fn until_locations(
    cluster: &MiniCluster,
    client: &DfsClient,
    what: &str,
    done: impl Fn(&[usize], &MiniCluster) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let nodes = cluster
            .replica_nodes(client, PATH)
            .await
            .unwrap_or_default();
        if done(&nodes, cluster) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: replicas offered on {nodes:?}\n{}",
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
    until_locations(&cluster, &client, "written", |n, _| n.len() == 3).await;
    let block = client
        .get_block_locations(PATH, 0, u64::MAX)
        .await
        .unwrap()
        .blocks[0]
        .block
        .unwrap()
        .id;
    let victim = cluster.replica_nodes(&client, PATH).await.unwrap()[0];
    flip_byte(
        &block_file(&cluster.datanode_dir(victim), block).unwrap(),
        700_000,
    )
    .unwrap();

    // Readers never see the flip; one of them runs into it and reports it,
    // and the namenode has the victim verify the replica, so its scanner
    // finds it (3 datanodes, replication 3: nowhere to copy it yet).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert_eq!(sha256(&read_all(&client, PATH).await), sha256(&data));
        let nodes = cluster.replica_nodes(&client, PATH).await.unwrap();
        if findings(&cluster, victim) == 1 && nodes.len() == 2 && !nodes.contains(&victim) {
            break;
        }
        assert!(Instant::now() < deadline, "{nodes:?}\n{}", cluster.logs());
    }

    // The namenode restarts and forgets; the victim verifies the replica
    // again when it registers (no pass is due for an hour) and reports it.
    cluster.restart_namenode().unwrap();
    cluster.wait_active().await.unwrap();
    let client = cluster.client(&superuser()).await.unwrap();
    until_locations(&cluster, &client, "after the namenode restart", |n, c| {
        findings(c, victim) == 2 && n.len() == 2 && !n.contains(&victim)
    })
    .await;

    // The victim restarts: its first pass finds the replica again.
    cluster.kill_datanode(victim);
    cluster.start_datanode(victim).unwrap();
    until_locations(&cluster, &client, "after the datanode restart", |n, c| {
        findings(c, victim) == 3 && n.len() == 2 && !n.contains(&victim)
    })
    .await;

    // Room for a third good replica: the corrupt one is replaced, then
    // deleted.
    let spare = cluster.add_datanode().unwrap();
    until_locations(&cluster, &client, "after a datanode joined", |n, _| {
        n.len() == 3 && n.contains(&spare) && !n.contains(&victim)
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while block_file(&cluster.datanode_dir(victim), block).is_some() {
        assert!(
            Instant::now() < deadline,
            "{}",
            cluster.datanode_log(victim)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sha256(&read_all(&client, PATH).await), sha256(&data));
}
