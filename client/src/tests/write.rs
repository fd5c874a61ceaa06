//! The write path: packets, headers, block boundaries, the ack window,
//! failures, append, hflush/hsync and the lease renewer.

use cairn_proto::pb::{Block, DatanodeInfo, LocatedBlock, WriteStage};

use super::fake_datanode::FakeDatanode;
use super::fake_namenode::FakeNamenode;
use super::{client_for, eventually, pattern, serve};
use crate::{CreateOptions, DfsError};

fn target(uuid: &str, port: u32) -> DatanodeInfo {
    DatanodeInfo {
        datanode_uuid: uuid.into(),
        host: "127.0.0.1".into(),
        xfer_port: port,
        ..Default::default()
    }
}

fn with_block_size(block_size: u64) -> CreateOptions {
    CreateOptions {
        block_size: Some(block_size),
        ..Default::default()
    }
}

/// A client left at the default packet size sends 256 KiB packets (see
/// `ClientConfig::write_packet_size`), the last one shorter.
#[tokio::test]
async fn default_packets_are_256_kib() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    nn.state.lock().pipeline = vec![dn.info("dn1")];
    let mut config = crate::ClientConfig::new(nn.addr.to_string(), "alice");
    // A guard against a hung test, not a timing assertion.
    config.rpc_timeout = std::time::Duration::from_secs(30);
    let client = crate::DfsClient::connect(config).await.unwrap();
    let data = pattern(600_000);
    let mut writer = client
        .create("/f", with_block_size(128 << 20))
        .await
        .unwrap();
    writer
        .write_bytes(bytes::Bytes::from(data.clone()))
        .await
        .unwrap();
    writer.close().await.unwrap();

    let dn_state = dn.state.lock();
    let sizes: Vec<usize> = dn_state
        .packets
        .iter()
        .filter(|p| !p.last_packet_in_block)
        .map(|p| p.data.len())
        .collect();
    assert_eq!(sizes, vec![256 << 10, 256 << 10, 600_000 - (512 << 10)]);
    assert_eq!(dn_state.blocks[&1000], data);
}

#[tokio::test]
async fn multi_block_write_sends_aligned_packets_and_headers() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    {
        let mut state = nn.state.lock();
        state.pipeline = vec![dn.info("dn1"), target("dn2", 1), target("dn3", 2)];
        state.incomplete_answers = 2;
    }
    let client = client_for(&nn, 16).await;
    let data = pattern(10_000);
    let mut writer = client.create("/f", with_block_size(4096)).await.unwrap();
    // Odd-sized writes go through the packet buffer; a large one is cut
    // into packets directly.
    for piece in data[..3000].chunks(777) {
        writer.write(piece).await.unwrap();
    }
    writer
        .write_bytes(bytes::Bytes::copy_from_slice(&data[3000..]))
        .await
        .unwrap();
    assert_eq!(writer.pos(), 10_000);
    writer.close().await.unwrap();

    let dn_state = dn.state.lock();
    // One pipeline per block, to the first datanode, naming the others.
    let ids: Vec<u64> = dn_state
        .headers
        .iter()
        .map(|h| h.block.unwrap().id)
        .collect();
    assert_eq!(ids, vec![1000, 1001, 1002]);
    for header in &dn_state.headers {
        assert_eq!(header.stage, WriteStage::PipelineSetupCreate as i32);
        assert_eq!(header.block.unwrap().num_bytes, 0);
        let targets: Vec<&str> = header
            .targets
            .iter()
            .map(|t| t.datanode_uuid.as_str())
            .collect();
        assert_eq!(targets, vec!["dn2", "dn3"]);
        assert_eq!(header.client_name, client.client_name());
        assert_eq!(header.bytes_per_checksum, 512);
    }
    // Blocks of 4096, 4096 and 1808 bytes hold the data in order.
    let mut stored = Vec::new();
    for (id, len) in [(1000, 4096), (1001, 4096), (1002, 1808)] {
        assert_eq!(dn_state.blocks[&id].len(), len);
        stored.extend_from_slice(&dn_state.blocks[&id]);
    }
    assert_eq!(stored, data);
    // Per block: seqnos from 0, contiguous chunk-aligned packets of at most
    // 1 KiB, then the empty last packet at the block's length.
    let mut expected_offset = 0;
    let mut expected_seqno = 0;
    for packet in &dn_state.packets {
        assert_eq!(packet.seqno, expected_seqno);
        assert_eq!(packet.offset_in_block, expected_offset);
        if packet.last_packet_in_block {
            assert!(packet.data.is_empty());
            assert!([4096, 1808].contains(&packet.offset_in_block));
            expected_offset = 0;
            expected_seqno = 0;
        } else {
            assert_eq!(packet.offset_in_block % 512, 0);
            assert!(packet.data.len() <= 1024);
            assert_eq!(packet.checksums.len(), packet.data.len().div_ceil(512) * 4);
            expected_offset += packet.data.len() as u64;
            expected_seqno += 1;
        }
    }
    assert_eq!(
        dn_state
            .packets
            .iter()
            .filter(|p| p.last_packet_in_block)
            .count(),
        3
    );

    let nn_state = nn.state.lock();
    let previous: Vec<Option<Block>> = nn_state.add_blocks.iter().map(|r| r.previous).collect();
    let block = |id, num_bytes| Block {
        id,
        generation_stamp: 1,
        num_bytes,
    };
    assert_eq!(
        previous,
        vec![None, Some(block(1000, 4096)), Some(block(1001, 4096))]
    );
    assert!(
        nn_state
            .add_blocks
            .iter()
            .all(|r| r.file_id == 16386 && !r.client_host.is_empty())
    );
    // complete() answered false twice and was retried.
    assert_eq!(nn_state.completes.len(), 3);
    assert!(
        nn_state
            .completes
            .iter()
            .all(|c| c.last == Some(block(1002, 1808)))
    );
    assert!(nn_state.users.iter().all(|u| u == "alice"));
}

#[tokio::test]
async fn empty_file_completes_without_a_block() {
    let nn = FakeNamenode::start().await;
    let client = client_for(&nn, 16).await;
    let writer = client
        .create("/empty", CreateOptions::default())
        .await
        .unwrap();
    writer.close().await.unwrap();
    let state = nn.state.lock();
    assert!(state.add_blocks.is_empty());
    assert_eq!(state.completes.len(), 1);
    assert_eq!(state.completes[0].last, None);
}

#[tokio::test]
async fn ack_window_is_respected() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start_holding_acks().await;
    nn.state.lock().pipeline = vec![dn.info("dn1")];
    let client = client_for(&nn, 4).await;
    let mut writer = client.create("/w", with_block_size(1 << 20)).await.unwrap();

    // Four packets fill the window; no ack has come back.
    writer.write(&pattern(4 * 1024)).await.unwrap();
    assert_eq!(
        writer.pipeline().unwrap().unacked_seqnos(),
        vec![0, 1, 2, 3]
    );
    dn.wait_for(|s| s.received == 4).await;

    // A fifth packet waits for the window.
    let fifth = pattern(1024);
    {
        let write = writer.write(&fifth);
        tokio::pin!(write);
        assert!(futures::poll!(write.as_mut()).is_pending());
        // One ack frees one slot.
        dn.ack_credits.as_ref().unwrap().add_permits(1);
        write.await.unwrap();
    }
    assert_eq!(
        writer.pipeline().unwrap().unacked_seqnos(),
        vec![1, 2, 3, 4]
    );

    dn.ack_credits.as_ref().unwrap().add_permits(1000);
    writer.write(&pattern(20 * 1024)).await.unwrap();
    writer.close().await.unwrap();
    let state = dn.state.lock();
    assert_eq!(state.max_outstanding, 4);
    assert_eq!(state.blocks[&1000].len(), 25 * 1024);
}

#[tokio::test]
async fn error_ack_recovers_the_pipeline_without_the_bad_datanode() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    nn.state.lock().pipeline = vec![dn.info("dn1"), target("dn2", 50020)];
    dn.state.lock().fail_seqno = Some((1, "127.0.0.1:50020".into()));
    let client = client_for(&nn, 16).await;
    let mut writer = client
        .create("/recover", with_block_size(1 << 20))
        .await
        .unwrap();
    let data = pattern(4096);
    // Four packets of 1 KiB: the second one's ack blames dn2.
    writer.write(&data).await.unwrap();
    writer.hflush().await.unwrap();
    writer.close().await.unwrap();

    let nn_state = nn.state.lock();
    // One new stamp, asked for at the length acknowledged before the error.
    assert_eq!(nn_state.stamp_requests.len(), 1);
    let asked = nn_state.stamp_requests[0].block.unwrap();
    assert_eq!(
        (asked.id, asked.generation_stamp, asked.num_bytes),
        (1000, 1, 1024)
    );
    assert_eq!(nn_state.pipeline_updates.len(), 1);
    let update = &nn_state.pipeline_updates[0];
    assert_eq!(update.new_datanode_uuids, vec!["dn1".to_string()]);
    assert_eq!(update.old_block.unwrap().generation_stamp, 1);
    assert_eq!(update.new_block.unwrap().generation_stamp, 2);
    assert_eq!(update.new_block.unwrap().num_bytes, 1024);
    // The file closes with the block under its new stamp.
    let last = nn_state.completes.last().unwrap().last.unwrap();
    assert_eq!((last.generation_stamp, last.num_bytes), (2, 4096));
    drop(nn_state);

    let dn_state = dn.state.lock();
    assert_eq!(dn_state.headers.len(), 2);
    let recovery = &dn_state.headers[1];
    assert_eq!(recovery.stage, WriteStage::PipelineSetupRecovery as i32);
    assert_eq!(recovery.new_generation_stamp, 2);
    assert_eq!(recovery.block.unwrap().num_bytes, 1024);
    assert!(recovery.targets.is_empty(), "dn2 is left out");
    // Everything from the acknowledged length on was sent again.
    assert_eq!(dn_state.blocks[&1000], data);
}

#[tokio::test]
async fn write_fails_when_every_datanode_of_the_pipeline_is_bad() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    nn.state.lock().pipeline = vec![dn.info("dn1")];
    dn.state.lock().fail_seqno = Some((0, dn.addr.to_string()));
    let client = client_for(&nn, 16).await;
    let mut writer = client
        .create("/bad", CreateOptions::default())
        .await
        .unwrap();
    // The error ack may arrive while the packets are still going out, or
    // at the latest while hflush waits for every ack.
    let err = match writer.write(&pattern(4096)).await {
        Err(err) => err,
        Ok(()) => writer.hflush().await.unwrap_err(),
    };
    match &err {
        DfsError::AllDatanodesBad {
            block_id,
            path,
            datanodes,
            cause,
        } => {
            assert_eq!(*block_id, 1000);
            assert_eq!(path, "/bad");
            assert_eq!(datanodes, &vec![dn.addr.to_string()]);
            assert!(cause.to_string().contains("disk failed"), "{cause}");
        }
        other => panic!("expected all datanodes bad, got {other:?}"),
    }
    assert!(err.to_string().starts_with("All datanodes"), "{err}");
    assert_eq!(err.kind(), cairn_proto::ErrorKind::Io);
    // The writer stays failed.
    let again = writer.write(b"more").await.unwrap_err();
    assert!(matches!(again, DfsError::WriterFailed { .. }), "{again:?}");
    assert!(writer.close().await.is_err());
    assert!(nn.state.lock().completes.is_empty());
}

/// A datanode a new block's pipeline could not reach is left out of the
/// retry and of the writer's later blocks, not tried again for each.
#[tokio::test]
async fn unreachable_first_datanode_is_excluded_from_later_blocks() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    let dead = serve::closed_port().await;
    nn.state.lock().pipeline = vec![target("dead", u32::from(dead.port())), dn.info("dn1")];
    let client = client_for(&nn, 16).await;
    let mut writer = client
        .create("/retry", with_block_size(4096))
        .await
        .unwrap();
    let data = pattern(6000);
    writer.write(&data).await.unwrap();
    writer.close().await.unwrap();

    let state = nn.state.lock();
    assert_eq!(
        state.abandoned.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![1000]
    );
    let excluded: Vec<_> = state.add_blocks.iter().map(|a| &a.excluded_nodes).collect();
    assert_eq!(
        excluded,
        [
            &vec![],
            &vec!["dead".to_string()],
            &vec!["dead".to_string()]
        ]
    );
    let dn_state = dn.state.lock();
    let written: Vec<_> = dn_state
        .headers
        .iter()
        .map(|h| h.block.unwrap().id)
        .collect();
    assert_eq!(written, [1001, 1002]);
    assert!(dn_state.headers.iter().all(|h| h.targets.is_empty()));
    assert_eq!(dn_state.blocks[&1001], data[..4096]);
    assert_eq!(dn_state.blocks[&1002], data[4096..]);
}

#[tokio::test]
async fn not_replicated_yet_is_retried() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    {
        let mut state = nn.state.lock();
        state.pipeline = vec![dn.info("dn1")];
        state.not_replicated_yet = 2;
    }
    let client = client_for(&nn, 16).await;
    let mut writer = client
        .create("/slow", CreateOptions::default())
        .await
        .unwrap();
    writer.write(&pattern(10)).await.unwrap();
    writer.close().await.unwrap();
    assert_eq!(nn.state.lock().add_blocks.len(), 3);
    assert_eq!(dn.state.lock().blocks[&1000], pattern(10));
}

#[tokio::test]
async fn append_continues_the_partial_block_with_a_short_first_chunk() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    let old = pattern(700);
    dn.state.lock().blocks.insert(7, old.clone());
    nn.add_file("/a", 4096, vec![(7, 700, vec![dn.info("dn1")])]);
    nn.state.lock().append_last_block = Some(LocatedBlock {
        block: Some(Block {
            id: 7,
            generation_stamp: 2,
            num_bytes: 700,
        }),
        offset: 0,
        locations: vec![dn.info("dn1")],
        ..Default::default()
    });
    let client = client_for(&nn, 16).await;
    let mut writer = client.append("/a").await.unwrap();
    assert_eq!(writer.pos(), 700);
    let new = pattern(2000);
    writer.write(&new).await.unwrap();
    assert_eq!(writer.pos(), 2700);
    writer.close().await.unwrap();

    let dn_state = dn.state.lock();
    let header = &dn_state.headers[0];
    assert_eq!(header.stage, WriteStage::PipelineSetupAppend as i32);
    assert_eq!(header.block.unwrap().num_bytes, 700);
    assert_eq!(
        header.block.unwrap().generation_stamp,
        1,
        "the replica's stamp now"
    );
    assert_eq!(header.new_generation_stamp, 2);
    // 700..1536 (a short chunk, then one whole), then aligned packets.
    let first = &dn_state.packets[0];
    assert_eq!((first.offset_in_block, first.data.len()), (700, 836));
    assert_eq!(first.checksums.len(), 2 * 4);
    assert_eq!(dn_state.packets[1].offset_in_block, 1536);
    let mut expected = old;
    expected.extend_from_slice(&new);
    assert_eq!(dn_state.blocks[&7], expected);

    let nn_state = nn.state.lock();
    assert!(nn_state.add_blocks.is_empty());
    let last = nn_state.completes[0].last.unwrap();
    assert_eq!(
        (last.id, last.generation_stamp, last.num_bytes),
        (7, 2, 2700)
    );
}

#[tokio::test]
async fn hflush_and_hsync_send_partial_packets_and_record_the_length() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    nn.state.lock().pipeline = vec![dn.info("dn1")];
    let client = client_for(&nn, 16).await;
    let mut writer = client.create("/h", CreateOptions::default()).await.unwrap();
    let data = pattern(3100);
    writer.write(&data[..1000]).await.unwrap();
    writer.hflush().await.unwrap();
    writer.write(&data[1000..1100]).await.unwrap();
    writer.hsync().await.unwrap();
    // An hsync with nothing new still asks for a sync.
    writer.hsync().await.unwrap();
    writer.write(&data[1100..]).await.unwrap();
    writer.close().await.unwrap();

    let dn_state = dn.state.lock();
    let packets: Vec<(u64, usize, bool)> = dn_state
        .packets
        .iter()
        .map(|p| (p.offset_in_block, p.data.len(), p.sync))
        .collect();
    // After a partial packet the next one ends on a chunk boundary again.
    assert_eq!(
        packets,
        vec![
            (0, 1000, false),
            (1000, 100, true),
            (1100, 0, true),
            (1100, 948, false),
            (2048, 1024, false),
            (3072, 28, false),
            (3100, 0, false),
        ]
    );
    assert_eq!(dn_state.blocks[&1000], data);
    let fsyncs: Vec<u64> = nn
        .state
        .lock()
        .fsyncs
        .iter()
        .map(|f| f.last_block_length)
        .collect();
    assert_eq!(fsyncs, vec![1000, 1100, 1100]);
}

#[tokio::test]
async fn lease_is_renewed_while_a_writer_is_open() {
    let nn = FakeNamenode::start().await;
    let dn = FakeDatanode::start().await;
    {
        let mut state = nn.state.lock();
        state.pipeline = vec![dn.info("dn1")];
        state.lease_soft_limit_ms = 20;
    }
    let client = client_for(&nn, 16).await;
    let renewer = client.clone();
    assert!(!renewer.lease_renewer().is_running());
    let first = client
        .create("/l1", CreateOptions::default())
        .await
        .unwrap();
    let mut second = client
        .create("/l2", CreateOptions::default())
        .await
        .unwrap();
    assert_eq!(renewer.lease_renewer().writers(), 2);
    assert!(renewer.lease_renewer().is_running());
    eventually(|| nn.state.lock().renewals.len() >= 2).await;
    assert!(
        nn.state
            .lock()
            .renewals
            .iter()
            .all(|c| c == client.client_name())
    );

    first.close().await.unwrap();
    assert_eq!(renewer.lease_renewer().writers(), 1);
    second.write(b"x").await.unwrap();
    // Dropping a writer abandons it and unregisters it.
    drop(second);
    assert_eq!(renewer.lease_renewer().writers(), 0);
    eventually(|| !renewer.lease_renewer().is_running()).await;

    // A new writer starts the renewer again.
    let third = client
        .create("/l3", CreateOptions::default())
        .await
        .unwrap();
    assert!(renewer.lease_renewer().is_running());
    third.close().await.unwrap();
}
