//! `-setrep` changes the number of replicas the cluster keeps: extra ones are
//! deleted, missing ones are copied datanode to datanode.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use cairn_client::DfsClient;
use cairn_tests::{ClusterOptions, MiniCluster, random_bytes, superuser, text};

async fn live_replicas(client: &DfsClient, path: &str) -> Vec<usize> {
    let located = client.get_block_locations(path, 0, u64::MAX).await.unwrap();
    located.blocks.iter().map(|b| b.locations.len()).collect()
}

async fn wait_for_replicas(
    client: &DfsClient,
    path: &str,
    expected: &[usize],
    cluster: &MiniCluster,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let replicas = live_replicas(client, path).await;
        if replicas == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} has {replicas:?} replicas, not {expected:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setrep_down_removes_a_replica_and_setrep_w_adds_it_back() {
    let cluster = MiniCluster::start(ClusterOptions::default()).await.unwrap();
    let user = superuser();
    let client = cluster.client(&user).await.unwrap();
    let mut writer = client.create("/r.bin", Default::default()).await.unwrap();
    writer
        .write(&random_bytes(5 * 1024 * 1024, 3))
        .await
        .unwrap();
    writer.close().await.unwrap();
    // close() returns once one replica is reported (the minimum); the
    // other two report within moments.
    wait_for_replicas(&client, "/r.bin", &[3], &cluster).await;

    let down = cluster.dfs(&user, &["-setrep", "2", "/r.bin"]);
    let (out, err) = text(&down);
    assert!(down.status.success(), "{out}{err}");
    assert!(out.contains("Replication 2 set: /r.bin"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while live_replicas(&client, "/r.bin").await != [2] {
        assert!(
            Instant::now() < deadline,
            "still 3 replicas\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = client.get_file_info("/r.bin").await.unwrap().unwrap();
    assert_eq!(status.replication, 2);

    // -w returns only once the third replica is back.
    let up = cluster.dfs(&user, &["-setrep", "-w", "3", "/r.bin"]);
    let (out, err) = text(&up);
    assert!(up.status.success(), "{out}{err}");
    assert!(out.contains("Replication 3 set: /r.bin"), "{out}");
    assert!(out.contains("Waiting for /r.bin"), "{out}");
    assert_eq!(live_replicas(&client, "/r.bin").await, [3]);
}
