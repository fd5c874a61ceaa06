//! The core promise: a 300 MiB file becomes three 128/128/44 MiB blocks, each
//! on three distinct datanodes, and comes back byte for byte.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use cairn_tests::{ClusterOptions, MiniCluster, random_bytes, sha256, superuser, text};

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_300_mib_with_replication_3_and_read_it_back() {
    let cluster = MiniCluster::start(ClusterOptions::default()).await.unwrap();
    let user = superuser();
    let data = random_bytes(300 * MIB, 42);
    let local = cluster.dir().join("big.bin");
    std::fs::write(&local, &data).unwrap();
    let local_arg = local.display().to_string();

    let put = cluster.dfs(&user, &["-put", &local_arg, "/big.bin"]);
    assert!(
        put.status.success(),
        "put failed: {:?}\n{}",
        text(&put),
        cluster.logs()
    );

    // -put returns once each block has its minimum of one replica
    // reported; the others report within moments.
    let client = cluster.client(&user).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let located = client
            .get_block_locations("/big.bin", 0, u64::MAX)
            .await
            .unwrap();
        if located.blocks.iter().all(|b| b.locations.len() == 3) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{located:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // fsck names every block, its length and its replicas.
    let fsck = cluster.tool(
        &user,
        "fsck",
        &["/big.bin", "-files", "-blocks", "-locations"],
    );
    let (out, err) = text(&fsck);
    assert!(fsck.status.success(), "fsck failed: {out}\n{err}");
    let block_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(". blk_") && l.contains(" len="))
        .collect();
    assert_eq!(block_lines.len(), 3, "{out}");
    for (line, len) in block_lines.iter().zip([128 * MIB, 128 * MIB, 44 * MIB]) {
        assert!(line.contains(&format!(" len={len} ")), "{line}");
        assert!(line.contains("Live_repl=3"), "{line}");
        let replicas: std::collections::BTreeSet<&str> = (0..cluster.datanode_count())
            .map(|i| cluster.datanode_addr(i))
            .filter(|addr| line.contains(addr))
            .collect();
        assert_eq!(replicas.len(), 3, "three distinct datanodes: {line}");
    }
    assert!(out.contains("is HEALTHY"), "{out}");

    // The same through the API: three blocks, three distinct replicas each.
    let located = client
        .get_block_locations("/big.bin", 0, data.len() as u64)
        .await
        .unwrap();
    assert_eq!(located.file_length, data.len() as u64);
    let lengths: Vec<u64> = located
        .blocks
        .iter()
        .map(|b| b.block.as_ref().unwrap().num_bytes)
        .collect();
    assert_eq!(
        lengths,
        [128 * MIB as u64, 128 * MIB as u64, 44 * MIB as u64]
    );
    for block in &located.blocks {
        let uuids: std::collections::BTreeSet<_> =
            block.locations.iter().map(|d| &d.datanode_uuid).collect();
        assert_eq!(uuids.len(), 3);
    }

    // -get returns identical bytes.
    let back = cluster.dir().join("back.bin");
    let back_arg = back.display().to_string();
    let get = cluster.dfs(&user, &["-get", "/big.bin", &back_arg]);
    assert!(get.status.success(), "get failed: {:?}", text(&get));
    assert_eq!(sha256(&std::fs::read(&back).unwrap()), sha256(&data));

    // Positional reads across the block boundaries.
    let reader = client.open("/big.bin").await.unwrap();
    for (offset, len) in [
        (128 * MIB - 1000, 5000),
        (256 * MIB - 1, 2),
        (0, 1),
        (300 * MIB - 17, 17),
        (127 * MIB + 333, 2 * MIB),
    ] {
        let mut buf = vec![0u8; len];
        reader.read_fully_at(offset as u64, &mut buf).await.unwrap();
        assert!(buf == data[offset..offset + len], "bytes at {offset}+{len}");
    }
    // A read past the end returns what there is.
    let mut buf = vec![0u8; 100];
    let n = reader
        .read_at(300 * MIB as u64 - 10, &mut buf)
        .await
        .unwrap();
    assert_eq!(n, 10);
    assert_eq!(&buf[..10], &data[300 * MIB - 10..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_restart_keeps_every_file() {
    let mut cluster = MiniCluster::start(ClusterOptions::default()).await.unwrap();
    let user = superuser();
    let client = cluster.client(&user).await.unwrap();
    client.mkdirs("/keep/deep", None).await.unwrap();
    let data = random_bytes(3 * MIB + 123, 7);
    let mut writer = client
        .create("/keep/deep/f", Default::default())
        .await
        .unwrap();
    writer.write(&data).await.unwrap();
    writer.close().await.unwrap();

    cluster.restart_namenode().unwrap();
    cluster.wait_active().await.unwrap();

    let client = cluster.client(&user).await.unwrap();
    let mut reader = client.open("/keep/deep/f").await.unwrap();
    let mut back = Vec::new();
    while let Some(chunk) = reader.read_chunk().await.unwrap() {
        back.extend_from_slice(&chunk);
    }
    assert!(back == data);
}
