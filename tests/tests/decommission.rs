//! `cairn dfsadmin -decommission HOST:PORT` while files are read in a loop:
//! no read fails, the node's replicas are copied elsewhere, `-report` ends
//! with it "Decommissioned" and nothing under-replicated; the state
//! survives a namenode restart; `-recommission` returns it to Normal.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_client::{CreateOptions, DfsClient};
use cairn_tests::{ClusterOptions, MiniCluster, random_bytes, read_all, superuser, text};

const FILES: usize = 4;

/// The "Decommission Status" `-report` prints for the node at `addr`.
fn decommission_status(cluster: &MiniCluster, addr: &str) -> String {
    let report = cluster.tool(&superuser(), "dfsadmin", &["-report"]);
    let (out, err) = text(&report);
    assert!(report.status.success(), "{out}{err}");
    let section = out
        .split("\n\n")
        .find(|s| s.contains(&format!("Name: {addr}\n")))
        .unwrap_or_else(|| panic!("{addr} missing from the report:\n{out}"));
    section
        .lines()
        .find_map(|l| l.strip_prefix("Decommission Status : "))
        .unwrap()
        .to_string()
}

async fn wait_status(cluster: &MiniCluster, addr: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = decommission_status(cluster, addr);
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} is still {status:?}, not {want:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Replicas of each block of the test files, not counting those on `addr`.
async fn replicas_elsewhere(client: &DfsClient, addr: &str) -> Vec<usize> {
    let mut counts = Vec::new();
    for i in 0..FILES {
        let located = client
            .get_block_locations(&format!("/d/f{i}"), 0, u64::MAX)
            .await
            .unwrap();
        for block in &located.blocks {
            counts.push(
                block
                    .locations
                    .iter()
                    .filter(|d| format!("{}:{}", d.host, d.xfer_port) != addr)
                    .count(),
            );
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decommission_drains_a_node_without_failing_reads() {
    let (mut cluster, client) =
        MiniCluster::start_with_superuser(ClusterOptions::with_datanodes(4))
            .await
            .unwrap();
    let mut contents = Vec::new();
    for i in 0..FILES {
        let data = random_bytes(2 * 1024 * 1024 + 1000 * i, i as u64);
        let options = CreateOptions {
            create_parent: true,
            block_size: Some(1024 * 1024),
            ..Default::default()
        };
        let mut writer = client.create(&format!("/d/f{i}"), options).await.unwrap();
        writer.write(&data).await.unwrap();
        writer.close().await.unwrap();
        contents.push(data);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while replicas_elsewhere(&client, "none")
        .await
        .iter()
        .any(|&n| n < 3)
    {
        assert!(Instant::now() < deadline, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Readers all along.
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (client, stop, reads) = (client.clone(), Arc::clone(&stop), Arc::clone(&reads));
        let contents = contents.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for (i, data) in contents.iter().enumerate() {
                    let got = read_all(&client, &format!("/d/f{i}")).await;
                    assert!(got == *data, "/d/f{i} read back wrong");
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // Not for ordinary users.
    let addr = cluster.datanode_addr(0).to_string();
    let refused = cluster.tool("bob", "dfsadmin", &["-decommission", &addr]);
    let (out, err) = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("decommission: Access denied for user bob. Superuser privilege is required"),
        "{err}"
    );
    let unknown = cluster.tool(&superuser(), "dfsadmin", &["-decommission", "10.9.9.9:1"]);
    let (_, err) = text(&unknown);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(err.contains("Datanode 10.9.9.9:1 is not known"), "{err}");

    let started = cluster.tool(&superuser(), "dfsadmin", &["-decommission", &addr]);
    let (out, err) = text(&started);
    assert!(started.status.success(), "{out}{err}");
    assert!(
        out.starts_with(&format!("Decommission of {addr} successful")),
        "{out}"
    );
    wait_status(&cluster, &addr, "Decommissioned").await;
    let report = cluster.tool(&superuser(), "dfsadmin", &["-report"]);
    let (out, _) = text(&report);
    assert!(out.contains("Under replicated blocks: 0\n"), "{out}");
    assert!(
        replicas_elsewhere(&client, &addr)
            .await
            .iter()
            .all(|&n| n >= 3),
        "{out}"
    );
    let decommissioning = cluster.tool(&superuser(), "dfsadmin", &["-report", "-decommissioning"]);
    let (out, _) = text(&decommissioning);
    assert!(out.contains("Decommissioning datanodes (0):"), "{out}");

    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    assert!(reads.load(Ordering::Relaxed) > 0);

    // The exclude list is in the name directory: a restarted namenode
    // decommissions the node again as soon as it reports its blocks.
    cluster.restart_namenode().unwrap();
    cluster.wait_active().await.unwrap();
    wait_status(&cluster, &addr, "Decommissioned").await;

    // Back in service; the replicas that became excess are removed.
    let back = cluster.tool(&superuser(), "dfsadmin", &["-recommission", &addr]);
    let (out, err) = text(&back);
    assert!(back.status.success(), "{out}{err}");
    assert!(out.contains("Decommission Status : Normal"), "{out}");
    assert_eq!(decommission_status(&cluster, &addr), "Normal");
    let deadline = Instant::now() + Duration::from_secs(60);
    while replicas_elsewhere(&client, "none")
        .await
        .iter()
        .any(|&n| n != 3)
    {
        assert!(Instant::now() < deadline, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (i, data) in contents.iter().enumerate() {
        assert!(read_all(&client, &format!("/d/f{i}")).await == *data);
    }
}
