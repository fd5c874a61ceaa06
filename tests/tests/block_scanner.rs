//! The block scanner finds a byte flipped on disk without anyone reading
//! it; the namenode replaces the corrupt replica from a good one and then
//! deletes it. Where no good replica exists (replication 1), `cairn fsck`
//! shows the corrupt block and the file it belongs to.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use cairn_client::{CreateOptions, DfsClient};
use cairn_tests::{
    ClusterOptions, MiniCluster, block_file, flip_byte, random_bytes, read_all, sha256, superuser,
    text,
};

/// Writes `data` at `path` with `replication` and waits for every replica.
async fn write(
    cluster: &MiniCluster,
    client: &DfsClient,
    path: &str,
    data: &[u8],
    replication: u32,
) -> u64 {
    let options = CreateOptions {
        replication: Some(replication),
        ..Default::default()
    };
    let mut writer = client.create(path, options).await.unwrap();
    writer.write(data).await.unwrap();
    writer.close().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.replica_nodes(client, path).await.unwrap().len() < replication as usize {
        assert!(Instant::now() < deadline, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let located = client.get_block_locations(path, 0, u64::MAX).await.unwrap();
    located.blocks[0].block.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanner_finds_flipped_bytes_and_fsck_shows_corrupt_blocks() {
    // Four datanodes: one spare to take the replacement, since a node that
    // still holds the corrupt replica is not a target for the block.
    let (cluster, client) = MiniCluster::start_with_superuser(ClusterOptions {
        datanodes: 4,
        datanode_toml: "scan-period = \"2s\"\nscanner-bandwidth = \"64MiB\"\n".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    // Replication 3: a byte flipped in one replica, and nobody reads it.
    let data = random_bytes(2 * 1024 * 1024 + 5, 21);
    let block = write(&cluster, &client, "/healed.bin", &data, 3).await;
    let victim = cluster.replica_nodes(&client, "/healed.bin").await.unwrap()[0];
    let file = block_file(&cluster.datanode_dir(victim), block).unwrap();
    flip_byte(&file, 1_234_567).unwrap();
    let flipped = Instant::now();

    // Replication 1: nothing to repair it from.
    let lonely = random_bytes(100_000, 22);
    let lonely_block = write(&cluster, &client, "/lonely.bin", &lonely, 1).await;
    let holder = cluster.replica_nodes(&client, "/lonely.bin").await.unwrap()[0];
    flip_byte(
        &block_file(&cluster.datanode_dir(holder), lonely_block).unwrap(),
        99_999,
    )
    .unwrap();

    // The scanner reports the first; the namenode copies a good replica
    // and deletes the corrupt one.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let nodes = cluster.replica_nodes(&client, "/healed.bin").await.unwrap();
        let good = |&node: &usize| {
            block_file(&cluster.datanode_dir(node), block)
                .and_then(|f| std::fs::read(f).ok())
                .is_some_and(|bytes| bytes == data)
        };
        let replaced = block_file(&cluster.datanode_dir(victim), block)
            .and_then(|f| std::fs::read(f).ok())
            .is_none_or(|bytes| bytes == data);
        if nodes.len() == 3 && nodes.iter().all(good) && replaced {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replicas on {nodes:?}, corrupt one on {victim}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "corrupt replica replaced {:.1} s after the flip (scan period 2 s)",
        flipped.elapsed().as_secs_f64()
    );
    assert!(
        cluster
            .datanode_log(victim)
            .contains("block scanner found a corrupt replica"),
        "{}",
        cluster.datanode_log(victim)
    );
    assert_eq!(
        sha256(&read_all(&client, "/healed.bin").await),
        sha256(&data)
    );
    let fsck = cluster.tool(&superuser(), "fsck", &["/healed.bin"]);
    let (out, err) = text(&fsck);
    assert!(fsck.status.success(), "{out}{err}");
    assert!(out.contains("is HEALTHY"), "{out}");

    // The lonely block: fsck names it and its file, and counts it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (out, err) = loop {
        let fsck = cluster.tool(&superuser(), "fsck", &["/", "-files", "-blocks"]);
        let (out, err) = text(&fsck);
        if out.contains("CORRUPT blockpool") {
            assert_eq!(fsck.status.code(), Some(1), "{out}{err}");
            break (out, err);
        }
        assert!(Instant::now() < deadline, "{out}{err}\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let line = out
        .lines()
        .find(|l| l.starts_with("/lonely.bin: CORRUPT blockpool "))
        .unwrap_or_else(|| panic!("{out}{err}"));
    assert!(
        line.ends_with(&format!(" block blk_{lonely_block}")),
        "{out}"
    );
    assert!(out.contains(" Corrupt blocks:\t\t1\n"), "{out}");
    assert!(out.contains("is CORRUPT"), "{out}");
    let list = cluster.tool(&superuser(), "fsck", &["/", "-list-corruptfileblocks"]);
    let (out, err) = text(&list);
    assert!(
        out.contains(&format!("blk_{lonely_block}\t/lonely.bin")),
        "{out}{err}"
    );
    assert!(
        out.contains("The filesystem under path '/' has 1 CORRUPT files"),
        "{out}"
    );
}
