//! A datanode SIGKILLed in the middle of a 300 MiB write with replication 3
//! — the first node of the pipeline in one test, a middle one in the other:
//! the writer recovers the pipeline with the survivors under a new
//! generation stamp, the write succeeds and reads back identical, the
//! namenode restores three replicas on the other datanodes, and once the
//! killed datanode returns, its stale and excess replicas are deleted so
//! that every block ends at exactly three replicas, all of the block's
//! current generation stamp.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use cairn_client::{CreateOptions, DfsClient};
use cairn_tests::replicas::{block_replicas, datanode_index, wait_exact_replication};
use cairn_tests::{ClusterOptions, MiniCluster, random_bytes};

const MIB: usize = 1024 * 1024;
const TOTAL: usize = 300 * MIB;
const BLOCK: usize = 64 * MIB;
const KILL_AT: usize = 100 * MIB + 300 * 1024;

async fn read_sha256(client: &DfsClient, path: &str) -> (usize, String) {
    use sha2::Digest;
    let mut reader = client.open(path).await.unwrap();
    let mut hasher = sha2::Sha256::new();
    let mut len = 0;
    while let Some(chunk) = reader.read_chunk().await.unwrap() {
        len += chunk.len();
        hasher.update(&chunk);
    }
    (len, hex::encode(hasher.finalize()))
}

/// Writes 300 MiB to /big.bin, SIGKILLing the datanode at `position` of
/// the pipeline of the block being written once 100 MiB are in.
async fn write_killing(position: usize) {
    let (mut cluster, client) =
        MiniCluster::start_with_superuser(ClusterOptions::with_datanodes(4))
            .await
            .unwrap();
    // 1 MiB of random bytes repeated with a counter, so every block differs
    // without holding 300 MiB twice.
    let unit = random_bytes(MIB, 41);
    let chunk = |i: usize| {
        let mut c = unit.clone();
        c[..8].copy_from_slice(&(i as u64).to_le_bytes());
        c
    };
    let mut expected = sha2::Sha256::default();
    let opts = CreateOptions {
        block_size: Some(BLOCK as u64),
        replication: Some(3),
        ..Default::default()
    };
    let mut writer = client.create("/big.bin", opts).await.unwrap();
    let mut killed = None;
    let started = Instant::now();
    let mut written = 0;
    for i in 0..TOTAL / MIB {
        use sha2::Digest;
        let c = chunk(i);
        // Mid-chunk, so the kill falls inside a packet stream.
        let (head, tail) = c.split_at(300 * 1024);
        writer.write(head).await.unwrap();
        written += head.len();
        if killed.is_none() && written >= KILL_AT {
            let pipeline = writer.pipeline_nodes();
            assert_eq!(pipeline.len(), 3, "{pipeline:?}");
            let node = &pipeline[position];
            let victim = datanode_index(&cluster, &node.host, node.xfer_port).unwrap();
            eprintln!(
                "killing datanode {victim} ({}:{}), position {position} of the pipeline",
                node.host, node.xfer_port
            );
            cluster.kill_datanode(victim);
            killed = Some(victim);
        }
        writer.write(tail).await.unwrap();
        written += tail.len();
        expected.update(&c);
    }
    writer.close().await.unwrap();
    eprintln!("wrote {TOTAL} bytes in {:?}", started.elapsed());
    let victim = killed.unwrap();

    let expected = {
        use sha2::Digest;
        hex::encode(expected.finalize())
    };
    assert_eq!(
        read_sha256(&client, "/big.bin").await,
        (TOTAL, expected.clone())
    );

    // Back at three replicas on the three other datanodes.
    let others: Vec<usize> = (0..4).filter(|&i| i != victim).collect();
    let paths = vec!["/big.bin".to_string()];
    let took = wait_exact_replication(&client, &cluster, &paths, 3, (&others, Some(victim)))
        .await
        .unwrap();
    eprintln!("three replicas again {took:?} after close");

    // The killed datanode returns with its old replicas, one of them of
    // the block being written (older stamp): they are never offered, and
    // all are deleted, leaving exactly three everywhere.
    cluster.start_datanode(victim).unwrap();
    cluster.wait_active().await.unwrap();
    let recovered_block = KILL_AT / BLOCK;
    let stale_offered =
        |blocks: &[(u64, u64, u64, Vec<usize>)]| blocks[recovered_block].3.contains(&victim);
    let blocks = block_replicas(&client, &cluster, &paths).await.unwrap();
    assert!(!stale_offered(&blocks), "{blocks:?}");
    wait_exact_replication(&client, &cluster, &paths, 3, (&[0, 1, 2, 3], None))
        .await
        .unwrap();
    let blocks = block_replicas(&client, &cluster, &paths).await.unwrap();
    assert!(!stale_offered(&blocks), "{blocks:?}");
    assert_eq!(read_sha256(&client, "/big.bin").await, (TOTAL, expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_survives_the_first_datanode_of_the_pipeline_dying() {
    write_killing(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_survives_a_middle_datanode_of_the_pipeline_dying() {
    write_killing(1).await;
}
