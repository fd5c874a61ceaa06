//! A read goes on from another replica when one is corrupt on disk or its
//! datanode is dead, without the caller noticing; the corrupt replica is
//! reported and the namenode replaces it.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use cairn_tests::{
    ClusterOptions, MiniCluster, block_file, flip_byte, random_bytes, read_all, sha256, superuser,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_a_corrupt_replica_and_a_dead_datanode() {
    // Five datanodes: two spare ones to take the replacements, since a node
    // that still holds a corrupt replica is not a target for the block.
    let mut cluster = MiniCluster::start(ClusterOptions {
        datanodes: 5,
        ..Default::default()
    })
    .await
    .unwrap();
    let client = cluster.client(&superuser()).await.unwrap();
    let data = random_bytes(3 * 1024 * 1024 + 17, 11);
    let mut writer = client.create("/f.bin", Default::default()).await.unwrap();
    writer.write(&data).await.unwrap();
    writer.close().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster
        .replica_nodes(&client, "/f.bin")
        .await
        .unwrap()
        .len()
        < 3
    {
        assert!(Instant::now() < deadline, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Flip a byte in two of the three replicas. The namenode shuffles the
    // replicas it offers, so each read meets the corrupt ones in its own
    // order; every read must still return the right bytes.
    let located = client
        .get_block_locations("/f.bin", 0, u64::MAX)
        .await
        .unwrap();
    let block_id = located.blocks[0].block.unwrap().id;
    let holders = cluster.replica_nodes(&client, "/f.bin").await.unwrap();
    let corrupt = &holders[1..];
    for &node in corrupt {
        let file = block_file(&cluster.datanode_dir(node), block_id).unwrap();
        flip_byte(&file, 1_000_000).unwrap();
    }

    // The readers' reports reach the namenode: the corrupt replicas stop
    // being offered, copies of the good one replace them, and the corrupt
    // ones are deleted.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert_eq!(sha256(&read_all(&client, "/f.bin").await), sha256(&data));
        let nodes = cluster.replica_nodes(&client, "/f.bin").await.unwrap();
        // A node whose corrupt copy was deleted may take a good one again:
        // what counts is that every replica offered holds the right bytes.
        let good = |&node: &usize| {
            block_file(&cluster.datanode_dir(node), block_id)
                .and_then(|file| std::fs::read(file).ok())
                .is_some_and(|bytes| bytes == data)
        };
        if nodes.len() == 3 && nodes.iter().all(good) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replicas on {nodes:?}, corrupt ones on {corrupt:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Kill a datanode that holds a replica: the read goes on elsewhere.
    let victim = cluster.replica_nodes(&client, "/f.bin").await.unwrap()[0];
    cluster.kill_datanode(victim);
    assert_eq!(sha256(&read_all(&client, "/f.bin").await), sha256(&data));
    let mut buf = vec![0u8; 4096];
    let reader = client.open("/f.bin").await.unwrap();
    reader.read_fully_at(2_000_000, &mut buf).await.unwrap();
    assert!(buf == data[2_000_000..2_004_096]);
}
