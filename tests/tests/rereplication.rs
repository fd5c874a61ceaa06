//! Kill one datanode holding replicas of 50 files: the namenode declares it
//! dead and copies its blocks, datanode to datanode, until every block is
//! back at three live replicas; the time it took and the bytes copied are
//! printed. When the killed datanode returns, its now excess replicas are
//! deleted and every block ends at exactly its target.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use cairn_client::CreateOptions;
use cairn_tests::replicas::{block_replicas, read_file, wait_exact_replication};
use cairn_tests::{ClusterOptions, MiniCluster, random_bytes, sha256};

const FILES: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_datanode_blocks_are_copied_back_and_excess_removed_on_return() {
    let (mut cluster, client) =
        MiniCluster::start_with_superuser(ClusterOptions::with_datanodes(4))
            .await
            .unwrap();
    let mut paths = Vec::new();
    let mut contents = Vec::new();
    for i in 0..FILES {
        let path = format!("/data/f{i:02}");
        // 100 KiB to 1 MiB, a few of them over two 512 KiB blocks.
        let data = random_bytes(100 * 1024 + i * 19_000, i as u64);
        let opts = CreateOptions {
            create_parent: true,
            block_size: Some(512 * 1024),
            replication: Some(3),
            ..Default::default()
        };
        let mut writer = client.create(&path, opts).await.unwrap();
        writer.write(&data).await.unwrap();
        writer.close().await.unwrap();
        paths.push(path);
        contents.push(data);
    }
    wait_exact_replication(&client, &cluster, &paths, 3, (&[0, 1, 2, 3], None))
        .await
        .unwrap();

    // The datanode with the most replicas dies.
    let blocks = block_replicas(&client, &cluster, &paths).await.unwrap();
    let victim = (0..4)
        .max_by_key(|&i| blocks.iter().filter(|b| b.3.contains(&i)).count())
        .unwrap();
    let lost: Vec<_> = blocks.iter().filter(|b| b.3.contains(&victim)).collect();
    let lost_bytes: u64 = lost.iter().map(|b| b.2).sum();
    assert!(
        lost.len() >= FILES / 2,
        "{} blocks on the victim",
        lost.len()
    );
    let killed = Instant::now();
    cluster.kill_datanode(victim);

    let others: Vec<usize> = (0..4).filter(|&i| i != victim).collect();
    wait_exact_replication(&client, &cluster, &paths, 3, (&others, Some(victim)))
        .await
        .unwrap();
    let took = killed.elapsed();
    // The namenode waits out dead-interval (10 s in MiniCluster) before it
    // copies anything: the copying itself is the rest.
    let copying = took.saturating_sub(Duration::from_secs(10));
    eprintln!(
        "re-replication: {} blocks, {lost_bytes} bytes copied; full replication {took:?} after \
         the kill, {copying:?} after the node was declared dead ({:.1} MB/s)",
        lost.len(),
        lost_bytes as f64 / 1e6 / copying.as_secs_f64().max(0.001)
    );
    for (path, data) in paths.iter().zip(&contents) {
        let read = read_file(&client, path).await.unwrap();
        assert_eq!(sha256(&read), sha256(data), "{path}");
    }

    // The victim returns with its replicas: each block now has four, and
    // the excess one is deleted until every block has exactly three.
    cluster.start_datanode(victim).unwrap();
    cluster.wait_active().await.unwrap();
    wait_exact_replication(&client, &cluster, &paths, 3, (&[0, 1, 2, 3], None))
        .await
        .unwrap();
}
