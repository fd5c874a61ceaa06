//! A writer killed with SIGKILL after hflush: once its lease passes the
//! hard limit, the namenode recovers the last block through a primary
//! datanode, which settles the replicas at the length they all have; the
//! file is closed, readable with at least the hflushed bytes, and a new
//! writer can append to it.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_tests::replicas::{DiskReplica, disk_replicas, read_file};
use cairn_tests::{ClusterOptions, MiniCluster, random_bytes, sha256, superuser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writer_is_recovered_after_the_hard_limit() {
    let cluster = MiniCluster::start(ClusterOptions {
        datanodes: 3,
        namenode_toml: "lease-soft-limit = \"1s\"\nlease-hard-limit = \"3s\"\n".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let user = superuser();
    let client = cluster.client(&user).await.unwrap();
    let (flushed, extra, seed) = (3 * 1024 * 1024 + 777, 200_000, 31);

    let mut writer = Command::new(env!("CARGO_BIN_EXE_hflush_writer"))
        .args([
            cluster.namenode_addr(),
            &user,
            "/killed.bin",
            &flushed.to_string(),
            &extra.to_string(),
            &seed.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(writer.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        format!("hflushed {flushed}"),
        "{}",
        cluster.logs()
    );
    let status = client.get_file_info("/killed.bin").await.unwrap().unwrap();
    assert!(status.under_construction);
    let pid = nix::unistd::Pid::from_raw(writer.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    writer.wait().unwrap();

    // The lease passes its hard limit; block recovery closes the file.
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        let status = client.get_file_info("/killed.bin").await.unwrap().unwrap();
        if !status.under_construction {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the file is still open\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let length = status.length as usize;
    assert!(
        (flushed..=flushed + extra).contains(&length),
        "length {length}, hflushed {flushed}"
    );
    let expected = random_bytes(flushed + extra, seed);
    let data = read_file(&client, "/killed.bin").await.unwrap();
    assert_eq!(data.len(), length);
    assert!(data == expected[..length], "the recovered bytes differ");

    // The replicas agree: every one of the last block on disk has the
    // recovered stamp and length.
    let located = client
        .get_block_locations("/killed.bin", 0, u64::MAX)
        .await
        .unwrap();
    let last = located.blocks.last().unwrap().block.unwrap();
    let on_disk: Vec<DiskReplica> = (0..cluster.datanode_count())
        .flat_map(|i| disk_replicas(&cluster.datanode_dir(i)))
        .filter(|r| r.block_id == last.id)
        .collect();
    assert_eq!(on_disk.len(), 3, "{on_disk:?}");
    for r in &on_disk {
        assert_eq!(
            (r.generation_stamp, r.len),
            (last.generation_stamp, last.num_bytes)
        );
    }

    // No lease is left stuck: a new writer appends.
    let more = random_bytes(10_000, 32);
    let mut appender = client.append("/killed.bin").await.unwrap();
    appender.write(&more).await.unwrap();
    appender.close().await.unwrap();
    let data = read_file(&client, "/killed.bin").await.unwrap();
    assert_eq!(data.len(), length + more.len());
    assert_eq!(sha256(&data[length..]), sha256(&more));
    assert!(data[..length] == expected[..length]);
}
