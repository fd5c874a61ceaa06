//! What an answered RPC did is never lost by a crash of the namenode, and a
//! damaged edit log is either cut at a torn tail or refused with the file and
//! offset named.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::{CreateOptions, DfsClient};
use cairn_tests::{ClusterOptions, MiniCluster, random_bytes, superuser};

/// What the writers were told succeeded.
#[derive(Default)]
struct Acknowledged {
    dirs: BTreeSet<String>,
    files: BTreeSet<(String, u64)>,
}

async fn writer_loop(client: DfsClient, id: usize, acked: Arc<Mutex<Acknowledged>>) {
    for n in 0.. {
        let dir = format!("/crash/w{id}/d{n}");
        if client.mkdirs(&dir, None).await.is_err() {
            return;
        }
        acked.lock().unwrap().dirs.insert(dir.clone());
        let file = format!("{dir}/f");
        let seed = (id * 100_000 + n) as u64;
        let data = random_bytes(1000 + n % 5000, seed);
        let result = async {
            let mut writer = client.create(&file, CreateOptions::default()).await?;
            writer.write(&data).await?;
            writer.close().await
        }
        .await;
        if result.is_err() {
            return;
        }
        acked.lock().unwrap().files.insert((file, seed));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_namenode_while_clients_create_loses_nothing_answered() {
    let mut cluster = MiniCluster::start(ClusterOptions::default()).await.unwrap();
    let user = superuser();
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let mut writers = Vec::new();
    for id in 0..4 {
        let client = cluster.client(&user).await.unwrap();
        writers.push(tokio::spawn(writer_loop(client, id, acked.clone())));
    }
    // Let the writers get well going, then crash the namenode under them.
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if acked.lock().unwrap().files.len() >= 40 {
            break;
        }
    }
    cluster.kill_namenode();
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(120), writer)
            .await
            .expect("writers notice the namenode is gone")
            .unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.files.len() >= 40);

    cluster.restart_namenode().unwrap();
    cluster.wait_active().await.unwrap();
    let client = cluster.client(&user).await.unwrap();

    for dir in &acked.dirs {
        let status = client.get_file_info(dir).await.unwrap();
        assert!(status.is_some(), "acknowledged directory {dir} is gone");
    }
    for (file, seed) in &acked.files {
        let status = client.get_file_info(file).await.unwrap();
        let status = status.unwrap_or_else(|| panic!("acknowledged file {file} is gone"));
        let n = file
            .trim_end_matches("/f")
            .rsplit("/d")
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap();
        let expected = random_bytes(1000 + n % 5000, *seed);
        assert_eq!(status.length, expected.len() as u64, "{file}");
        let mut reader = client.open(file).await.unwrap();
        let mut back = Vec::new();
        while let Some(chunk) = reader.read_chunk().await.unwrap() {
            back.extend_from_slice(&chunk);
        }
        assert!(back == expected, "{file} reads back whole");
    }
    // The namespace is consistent: everything below /crash is a directory
    // chain of writers, each with its d<n>/f entries and nothing else.
    for w in client.list("/crash").await.unwrap() {
        for d in client.list(&format!("/crash/{}", w.name)).await.unwrap() {
            for f in client
                .list(&format!("/crash/{}/{}", w.name, d.name))
                .await
                .unwrap()
            {
                assert_eq!(f.name, "f");
            }
        }
    }
}

fn edits_in_progress(cluster: &MiniCluster) -> std::path::PathBuf {
    let current = cluster.name_dir().join("current");
    std::fs::read_dir(&current)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("edits_inprogress_"))
        })
        .unwrap_or_else(|| panic!("no edits_inprogress_ file in {}", current.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_tail_is_cut_and_mid_log_corruption_stops_start_up() {
    let mut cluster = MiniCluster::start(ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let user = superuser();
    let client = cluster.client(&user).await.unwrap();
    for i in 0..20 {
        client.mkdirs(&format!("/torn/d{i}"), None).await.unwrap();
    }
    cluster.kill_namenode();

    // A record whose header promises more bytes than were written: what a
    // crash in the middle of a write leaves.
    let edits = edits_in_progress(&cluster);
    let mut torn = Vec::new();
    torn.extend_from_slice(&200u32.to_be_bytes());
    torn.extend_from_slice(&[0xab; 9]);
    let mut bytes = std::fs::read(&edits).unwrap();
    bytes.extend_from_slice(&torn);
    std::fs::write(&edits, &bytes).unwrap();

    cluster.restart_namenode().unwrap();
    cluster.wait_active().await.unwrap();
    let client = cluster.client(&user).await.unwrap();
    assert_eq!(client.list("/torn").await.unwrap().len(), 20);
    for i in 0..20 {
        client
            .mkdirs(&format!("/torn/after{i}"), None)
            .await
            .unwrap();
    }
    cluster.kill_namenode();

    // Now damage a record in the middle: start-up must refuse, naming the
    // file and the offset, rather than silently drop what follows.
    let edits = edits_in_progress(&cluster);
    let mut bytes = std::fs::read(&edits).unwrap();
    let frames = frame_offsets(&bytes);
    assert!(frames.len() >= 20, "{} records", frames.len());
    let (start, len) = frames[frames.len() / 2];
    bytes[start + 8 + len / 2] ^= 0x5a;
    std::fs::write(&edits, &bytes).unwrap();
    let output = cluster.start_namenode_expecting_failure().unwrap();
    let name = edits.file_name().unwrap().to_str().unwrap();
    assert!(output.contains(name), "names the file: {output}");
    assert!(
        output.contains(&format!("offset {start}")),
        "names the offset {start}: {output}"
    );
}

/// Offsets and payload lengths of the records of an edit-log segment:
/// `u32 length | u32 crc32 | payload`, big-endian.
fn frame_offsets(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 || at + 8 + len > bytes.len() {
            break;
        }
        frames.push((at, len));
        at += 8 + len;
    }
    frames
}
