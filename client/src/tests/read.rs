//! The read path: block mapping, sequential and positional reads, checksum
//! failover, dead replicas, location batches, files being written.

use cairn_proto::ErrorKind;
use cairn_proto::pb::{Block, DatanodeInfo, LocatedBlock, LocatedBlocks};

use super::fake_datanode::FakeDatanode;
use super::fake_namenode::{FakeFile, FakeNamenode, file_status};
use super::{client_for, pattern, serve};
use crate::{DfsError, FileReader};

/// Stores `data` on `dn` as blocks of the given lengths (ids from 1) and
/// returns the (id, length) list.
fn store_blocks(dn: &FakeDatanode, data: &[u8], lengths: &[usize]) -> Vec<(u64, u64)> {
    let mut state = dn.state.lock();
    let mut offset = 0;
    let mut blocks = Vec::new();
    for (i, len) in lengths.iter().enumerate() {
        let id = i as u64 + 1;
        state.blocks.insert(id, data[offset..offset + len].to_vec());
        blocks.push((id, *len as u64));
        offset += len;
    }
    blocks
}

fn located_on(blocks: &[(u64, u64)], nodes: &[DatanodeInfo]) -> Vec<(u64, u64, Vec<DatanodeInfo>)> {
    blocks
        .iter()
        .map(|(id, len)| (*id, *len, nodes.to_vec()))
        .collect()
}

async fn read_to_end(reader: &mut FileReader) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 777];
    loop {
        let n = reader.read(&mut buf).await.unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn reads_across_blocks_of_different_lengths() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    let data = pattern(3800);
    let blocks = store_blocks(&dn, &data, &[1000, 300, 2500]);
    nn.add_file("/r", 4096, located_on(&blocks, &[dn.info("dn1")]));
    let client = client_for(&nn, 16).await;

    let mut reader = client.open("/r").await.unwrap();
    assert_eq!(reader.len(), 3800);
    assert_eq!(reader.status().length, 3800);
    assert_eq!(read_to_end(&mut reader).await, data);
    assert_eq!(reader.read(&mut [0u8; 10]).await.unwrap(), 0);

    // read_chunk hands out packet slices that add up to the file.
    reader.seek(0);
    let mut chunks = Vec::new();
    while let Some(chunk) = reader.read_chunk().await.unwrap() {
        assert!(!chunk.is_empty());
        chunks.extend_from_slice(&chunk);
    }
    assert_eq!(chunks, data);

    // A seek into the middle of a block.
    reader.seek(1500);
    assert_eq!(read_to_end(&mut reader).await, &data[1500..]);

    // Positional reads across three blocks, independent of the position.
    reader.seek(10);
    let mut buf = vec![0u8; 600];
    assert_eq!(reader.read_at(900, &mut buf).await.unwrap(), 600);
    assert_eq!(buf, &data[900..1500]);
    let mut small = [0u8; 5];
    reader.read(&mut small).await.unwrap();
    assert_eq!(small, data[10..15]);
    // A seek forward within the bytes already fetched.
    reader.seek(40);
    reader.read(&mut small).await.unwrap();
    assert_eq!(small, data[40..45]);

    // At the end: short, then nothing; read_fully_at refuses.
    let mut tail = vec![0u8; 500];
    assert_eq!(reader.read_at(3700, &mut tail).await.unwrap(), 100);
    assert_eq!(&tail[..100], &data[3700..]);
    assert_eq!(reader.read_at(3800, &mut tail).await.unwrap(), 0);
    let err = reader.read_fully_at(3700, &mut tail).await.unwrap_err();
    assert!(
        matches!(err, DfsError::UnexpectedEof { length: 3800, .. }),
        "{err:?}"
    );
    reader.read_fully_at(1200, &mut tail).await.unwrap();
    assert_eq!(tail, &data[1200..1700]);

    // The positional read asked block 1 for exactly its part (the
    // datanode aligned it down to a chunk itself).
    let reads = dn.state.lock().reads.clone();
    assert!(reads.iter().any(|r| r.block.unwrap().id == 1
        && r.offset == 900
        && r.length == 100
        && r.send_checksums));
}

#[tokio::test]
async fn checksum_mismatch_is_reported_and_the_read_fails_over() {
    let nn = FakeNamenode::start().await;
    let bad = FakeDatanode::start().await;
    let good = FakeDatanode::start().await;
    let data = pattern(3000);
    let blocks = store_blocks(&bad, &data, &[3000]);
    store_blocks(&good, &data, &[3000]);
    bad.state.lock().corrupt.insert(1);
    nn.add_file(
        "/c",
        4096,
        located_on(&blocks, &[bad.info("bad"), good.info("good")]),
    );
    let client = client_for(&nn, 16).await;

    let mut reader = client.open("/c").await.unwrap();
    assert_eq!(read_to_end(&mut reader).await, data);
    let reported = nn.state.lock().bad_blocks.clone();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].block.unwrap().id, 1);
    let nodes: Vec<&str> = reported[0]
        .locations
        .iter()
        .map(|n| n.datanode_uuid.as_str())
        .collect();
    assert_eq!(nodes, vec!["bad"]);

    // A positional read also verifies, reports and fails over.
    let mut buf = vec![0u8; 1000];
    reader.read_fully_at(1500, &mut buf).await.unwrap();
    assert_eq!(buf, &data[1500..2500]);
    assert_eq!(nn.state.lock().bad_blocks.len(), 2);
}

#[tokio::test]
async fn unreachable_first_replica_fails_over_and_is_not_retried() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    let data = pattern(2000);
    let blocks = store_blocks(&dn, &data, &[1200, 800]);
    let dead = serve::closed_port().await;
    let dead_node = DatanodeInfo {
        datanode_uuid: "dead".into(),
        host: dead.ip().to_string(),
        xfer_port: u32::from(dead.port()),
        ..Default::default()
    };
    nn.add_file(
        "/u",
        4096,
        located_on(&blocks, &[dead_node, dn.info("dn1")]),
    );
    let client = client_for(&nn, 16).await;

    let mut reader = client.open("/u").await.unwrap();
    assert_eq!(read_to_end(&mut reader).await, data);
    let mut buf = vec![0u8; 100];
    reader.read_fully_at(1150, &mut buf).await.unwrap();
    assert_eq!(buf, &data[1150..1250]);
    // A dead node is not a corrupt replica.
    assert!(nn.state.lock().bad_blocks.is_empty());
    assert!(reader.dead_nodes().contains(&dead.to_string()));
}

#[tokio::test]
async fn when_every_replica_fails_the_locations_are_fetched_once_more() {
    let nn = FakeNamenode::start().await;
    let first = serve::closed_port().await;
    let second = serve::closed_port().await;
    let node = |uuid: &str, addr: std::net::SocketAddr| DatanodeInfo {
        datanode_uuid: uuid.into(),
        host: addr.ip().to_string(),
        xfer_port: u32::from(addr.port()),
        ..Default::default()
    };
    nn.add_file(
        "/gone",
        4096,
        vec![(1, 1000, vec![node("a", first), node("b", second)])],
    );
    let client = client_for(&nn, 16).await;

    let reader = client.open("/gone").await.unwrap();
    let mut buf = vec![0u8; 10];
    let err = reader.read_at(0, &mut buf).await.unwrap_err();
    match &err {
        DfsError::AllReplicasFailed { block_id, path, .. } => {
            assert_eq!(*block_id, 1);
            assert_eq!(path, "/gone");
        }
        other => panic!("expected all replicas to fail, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("all replicas failed for block blk_1 of /gone: ")
    );
    // Once at open, once more after every replica failed.
    assert_eq!(nn.state.lock().location_calls.len(), 2);
}

#[tokio::test]
async fn locations_are_fetched_in_batches_and_cached() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    let data = pattern(25 * 512);
    let blocks = store_blocks(&dn, &data, &[512; 25]);
    nn.add_file("/many", 512, located_on(&blocks, &[dn.info("dn1")]));
    let client = client_for(&nn, 16).await;

    let mut reader = client.open("/many").await.unwrap();
    assert_eq!(read_to_end(&mut reader).await, data);
    let mut buf = vec![0u8; 512 * 3];
    reader.read_fully_at(512 * 11, &mut buf).await.unwrap();
    assert_eq!(buf, &data[512 * 11..512 * 14]);
    // Ten blocks per call: 0, 5120, 10240; the positional read was cached.
    let offsets: Vec<u64> = nn
        .state
        .lock()
        .location_calls
        .iter()
        .map(|c| c.offset)
        .collect();
    assert_eq!(offsets, vec![0, 5120, 10240]);
}

#[tokio::test]
async fn a_file_being_written_is_read_up_to_the_visible_length() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    let data = pattern(1300);
    store_blocks(&dn, &data, &[1000, 300]);
    let located = |id, offset, num_bytes| LocatedBlock {
        block: Some(Block {
            id,
            generation_stamp: 1,
            num_bytes,
        }),
        offset,
        locations: vec![dn.info("dn1")],
        ..Default::default()
    };
    let mut status = file_status("/open", 1000, 4096);
    status.under_construction = true;
    nn.state.lock().files.insert(
        "/open".into(),
        FakeFile {
            status,
            located: LocatedBlocks {
                file_length: 1000,
                blocks: vec![located(1, 0, 1000), located(2, 1000, 0)],
                under_construction: true,
                last_block: Some(located(2, 1000, 0)),
                last_block_complete: false,
            },
        },
    );
    let client = client_for(&nn, 16).await;
    let mut reader = client.open("/open").await.unwrap();
    assert_eq!(reader.len(), 1300);
    assert_eq!(read_to_end(&mut reader).await, data);
}

#[tokio::test]
async fn open_refuses_directories_and_missing_files() {
    let nn = FakeNamenode::start().await;
    let client = client_for(&nn, 16).await;
    let err = client.open("/nope").await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "File does not exist: /nope");
    let err = client.open("/dir").await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::IsADirectory);
}

#[tokio::test]
async fn readers_cross_tasks() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    let data = pattern(5000);
    let blocks = store_blocks(&dn, &data, &[2048, 2952]);
    nn.add_file("/shared", 4096, located_on(&blocks, &[dn.info("dn1")]));
    let client = client_for(&nn, 16).await;
    let reader = std::sync::Arc::new(client.open("/shared").await.unwrap());
    send_sync(&*reader);
    send_sync(&client);
    let tasks: Vec<_> = (0..4u64)
        .map(|i| {
            let reader = std::sync::Arc::clone(&reader);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1000];
                reader
                    .read_fully_at(i * 1000 + 500, &mut buf)
                    .await
                    .unwrap();
                buf
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let start = i * 1000 + 500;
        assert_eq!(task.await.unwrap(), &data[start..start + 1000]);
    }
}
