//! The write pipeline (WriteBlock) across real datanodes.

use cairn_proto::pb::{self, AckStatus, ReceivedDeletedStatus, WriteStage};
use cairn_proto::{ChecksumType, data_transfer};

use crate::fake_namenode::FakeNamenode;
use crate::{
    Pipeline, assert_replica, block, bytes, client, finalized_paths, header, info, init_tracing,
    last_packet, packet, packets, rbw_paths, read_range, start_datanode, start_datanodes,
    write_block,
};

const OK: i32 = AckStatus::Success as i32;

#[tokio::test]
async fn three_datanode_pipeline_writes_every_replica() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 3).await;
    // Packets of 100,000 bytes: most start inside a chunk.
    let data = bytes(1_234_567, 1);
    let id = 0x12_3456;
    let targets = vec![info(&dns[1].0), info(&dns[2].0)];
    let mut p = Pipeline::open(
        &dns[0].0,
        header(
            block(id, 1001, 0),
            targets,
            WriteStage::PipelineSetupCreate,
            0,
        ),
    )
    .await
    .unwrap();
    assert_eq!((p.setup.seqno, p.setup.replies.clone()), (-1, vec![OK; 3]));
    let sent = packets(&data, 0, 100_000, true);
    let n = sent.len();
    let acks = p.write_all(sent).await;
    for (i, ack) in acks.iter().enumerate() {
        assert_eq!(ack.seqno, i as i64, "acks in order");
        assert_eq!(ack.replies, vec![OK; 3], "three replies per ack");
    }
    assert_eq!(acks.len(), n);
    for (dn, dir) in &dns {
        let reported = nn
            .wait_for_report(dn.datanode_uuid(), id, ReceivedDeletedStatus::Received)
            .await;
        assert_eq!(reported, block(id, 1001, data.len() as u64));
        let paths = finalized_paths(dir, id, 1001);
        assert!(paths.0.ends_with("finalized/subdir18/subdir20/blk_1193046"));
        assert_replica(&paths, &data);
        assert!(!rbw_paths(dir, id, 1001).0.exists());
    }
    // Every replica reads back.
    let read = read_range(&dns[2].0, block(id, 1001, 0), 0, data.len() as u64)
        .await
        .unwrap();
    assert!(read == data);
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_corrupt_packet_is_refused_and_never_written() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 2).await;
    let data = bytes(20_000, 2);
    let mut p = Pipeline::open(
        &dns[0].0,
        header(
            block(5, 1, 0),
            vec![info(&dns[1].0)],
            WriteStage::PipelineSetupCreate,
            0,
        ),
    )
    .await
    .unwrap();
    p.send(packet(0, 0, &data[..10_000])).await;
    let mut bad = packet(1, 10_000, &data[10_000..]);
    let mut corrupted = bad.data.to_vec();
    corrupted[3_000] ^= 0x40;
    bad.data = corrupted.into();
    p.send(bad).await;
    let first = p.ack().await;
    assert_eq!((first.seqno, first.replies), (0, vec![OK, OK]));
    // Only the last datanode verifies (as in HDFS): it refuses the packet,
    // and the first one passes its verdict on, naming it.
    let refused = p.ack().await;
    assert_eq!(refused.seqno, 1);
    assert_eq!(refused.replies, vec![OK, AckStatus::ErrorChecksum as i32]);
    assert_eq!(
        refused.first_bad_link,
        format!("127.0.0.1:{}", dns[1].0.local_addr().port())
    );
    assert!(refused.message.contains("checksum"), "{}", refused.message);
    // The pipeline is over. The last replica holds the good packet only;
    // the first one stored the bad packet unverified, past the length the
    // pipeline acknowledged, which is all a reader sees and all pipeline
    // recovery keeps.
    assert!(p.acks.read_ack().await.map(|m| m.is_none()).unwrap_or(true));
    assert_replica(&rbw_paths(&dns[1].1, 5, 1), &data[..10_000]);
    let first = std::fs::read(rbw_paths(&dns[0].1, 5, 1).0).unwrap();
    assert_eq!(&first[..10_000], &data[..10_000]);
    let visible = client(&dns[0].0)
        .await
        .get_replica_visible_length(pb::GetReplicaVisibleLengthRequest {
            block: Some(block(5, 1, 0)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(visible.length, 10_000);
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_corrupt_packet_behind_a_full_disk_queue_is_refused_after_the_ones_before_it() {
    // The replica's writer runs behind the socket by up to DISK_QUEUE
    // packets, and the last datanode verifies there: a corrupt packet must
    // be acked after every packet before it, those must all be on disk,
    // and it must not be.
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, tmp.path()).await;
    let good = 3 * cairn_datanode::receiver::DISK_QUEUE;
    let data = bytes(10_000 * (good + 1), 3);
    let mut p = Pipeline::open(
        &dn,
        header(block(9, 1, 0), vec![], WriteStage::PipelineSetupCreate, 0),
    )
    .await
    .unwrap();
    let mut sent = packets(&data, 0, 10_000, false);
    let mut corrupted = sent[good].data.to_vec();
    corrupted[5] ^= 0x01;
    sent[good].data = corrupted.into();
    for packet in sent {
        p.send(packet).await;
    }
    for seqno in 0..good as i64 {
        let ack = p.ack().await;
        assert_eq!((ack.seqno, ack.replies), (seqno, vec![OK]));
    }
    let refused = p.ack().await;
    assert_eq!(
        (refused.seqno, refused.replies),
        (good as i64, vec![AckStatus::ErrorChecksum as i32])
    );
    assert_replica(&rbw_paths(tmp.path(), 9, 1), &data[..10_000 * good]);
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_downstream_is_named_in_the_setup_ack() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = pb::DatanodeInfo {
        host: "127.0.0.1".into(),
        xfer_port: u32::from(port),
        ..Default::default()
    };
    let p = Pipeline::open(
        &dn,
        header(
            block(9, 1, 0),
            vec![dead],
            WriteStage::PipelineSetupCreate,
            0,
        ),
    )
    .await
    .unwrap();
    assert_eq!(p.setup.seqno, -1);
    assert_eq!(p.setup.replies, vec![OK, AckStatus::Error as i32]);
    assert_eq!(p.setup.first_bad_link, format!("127.0.0.1:{port}"));
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_second_create_of_the_same_block_is_refused() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    write_block(&dn, 11, 4, b"abc").await;
    let p = Pipeline::open(
        &dn,
        header(block(11, 4, 0), vec![], WriteStage::PipelineSetupCreate, 0),
    )
    .await
    .unwrap();
    // Refused in the setup ack, naming this datanode and why.
    assert_eq!(p.setup.seqno, -1);
    assert_eq!(p.setup.replies, vec![AckStatus::Error as i32]);
    assert_eq!(
        p.setup.first_bad_link,
        format!("127.0.0.1:{}", dn.local_addr().port())
    );
    assert!(p.setup.message.contains("exists"), "{}", p.setup.message);
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_to_a_partial_last_chunk_keeps_every_checksum_right() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 2).await;
    let data = bytes(300_000, 3);
    let first_len = 1000; // ends 488 bytes into the second chunk
    for (dn, _) in &dns {
        write_block(dn, 21, 1, &data[..first_len]).await;
    }
    let mut p = Pipeline::open(
        &dns[0].0,
        header(
            block(21, 1, first_len as u64),
            vec![info(&dns[1].0)],
            WriteStage::PipelineSetupAppend,
            2,
        ),
    )
    .await
    .unwrap();
    assert_eq!(p.setup.replies, vec![OK, OK]);
    let mut sent = packets(&data[first_len..], first_len as u64, 65_536, true);
    sent[1].sync = true; // an hsync on the way
    let acks = p.write_all(sent).await;
    assert!(acks.iter().all(|a| a.replies == [OK, OK]), "{acks:?}");
    for (dn, dir) in &dns {
        let reported = nn
            .wait_for_report(dn.datanode_uuid(), 21, ReceivedDeletedStatus::Received)
            .await;
        if reported.generation_stamp == 1 {
            // The first write's report; wait for the append's.
            nn.wait_for_stamp(dn.datanode_uuid(), 2).await;
        }
        assert_replica(&finalized_paths(dir, 21, 2), &data);
        assert!(
            !finalized_paths(dir, 21, 1).1.exists(),
            "the old meta file is gone"
        );
        let read = read_range(dn, block(21, 2, 0), 900, 1000).await.unwrap();
        assert!(read == data[900..1900]);
    }
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}

/// `packets` re-checksummed with `kind`.
fn with_checksums(mut sent: Vec<pb::Packet>, kind: ChecksumType) -> Vec<pb::Packet> {
    for p in &mut sent {
        let mut sums = Vec::new();
        kind.chunk_checksums(&p.data, p.offset_in_block, &mut sums);
        p.checksums = sums.into();
    }
    sent
}

#[tokio::test]
async fn an_append_with_another_checksum_type_keeps_the_replicas_type() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 2).await;
    let data = bytes(200_000, 4);
    let first_len = 1000;
    // Written as before checksum types were sent: CRC32.
    for (dn, _) in &dns {
        write_block(dn, 31, 1, &data[..first_len]).await;
    }
    // The appending client writes CRC32C: each datanode (the first one
    // too, though it is not the last) verifies and converts.
    let mut append = header(
        block(31, 1, first_len as u64),
        vec![info(&dns[1].0)],
        WriteStage::PipelineSetupAppend,
        2,
    );
    append.checksum_type = pb::ChecksumType::ChecksumCrc32c as i32;
    let mut p = Pipeline::open(&dns[0].0, append).await.unwrap();
    let sent = with_checksums(
        packets(&data[first_len..], first_len as u64, 65_536, true),
        ChecksumType::Crc32c,
    );
    let acks = p.write_all(sent).await;
    assert!(acks.iter().all(|a| a.replies == [OK, OK]), "{acks:?}");
    for (dn, dir) in &dns {
        nn.wait_for_stamp(dn.datanode_uuid(), 2).await;
        // Still a CRC32 replica, every checksum right.
        assert_replica(&finalized_paths(dir, 31, 2), &data);
        let read = read_range(dn, block(31, 2, 0), 500, 150_000).await.unwrap();
        assert!(read == data[500..150_500]);
    }
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn null_and_crc32c_blocks_record_their_type_and_read_back() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 2).await;
    let data = bytes(150_000, 5);
    for (id, kind) in [(41, ChecksumType::Null), (42, ChecksumType::Crc32c)] {
        let mut create = header(
            block(id, 1, 0),
            vec![info(&dns[1].0)],
            WriteStage::PipelineSetupCreate,
            0,
        );
        create.checksum_type = kind.to_pb() as i32;
        let mut p = Pipeline::open(&dns[0].0, create).await.unwrap();
        let acks = p
            .write_all(with_checksums(packets(&data, 0, 65_536, true), kind))
            .await;
        assert!(acks.iter().all(|a| a.replies == [OK, OK]), "{acks:?}");
        for (dn, dir) in &dns {
            nn.wait_for_report(dn.datanode_uuid(), id, ReceivedDeletedStatus::Received)
                .await;
            let (block_file, meta_file) = finalized_paths(dir, id, 1);
            assert!(std::fs::read(&block_file).unwrap() == data);
            let mut want = vec![0, 1, kind.meta_id(), 0, 0, 2, 0];
            kind.chunk_checksums(&data, 0, &mut want);
            assert!(
                std::fs::read(&meta_file).unwrap() == want,
                "{kind} meta file"
            );
            let read = read_range(dn, block(id, 1, 0), 700, 100_000).await.unwrap();
            assert!(read == data[700..100_700], "{kind} read");
        }
    }
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn an_abandoned_rbw_replica_is_cut_to_its_vouched_length_on_restart() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn1");
    let dn = start_datanode(&nn, &dir).await;
    let data = bytes(50_000, 4);
    {
        let mut p = Pipeline::open(
            &dn,
            header(block(31, 7, 0), vec![], WriteStage::PipelineSetupCreate, 0),
        )
        .await
        .unwrap();
        let acks = p
            .write_all(packets(&data[..30_000], 0, 10_000, false))
            .await;
        assert_eq!(acks.len(), 3);
        // The client goes away without the last packet.
    }
    let visible = {
        let mut c = crate::client(&dn).await;
        c.get_replica_visible_length(pb::GetReplicaVisibleLengthRequest {
            block: Some(block(31, 7, 0)),
        })
        .await
        .unwrap()
        .into_inner()
        .length
    };
    assert_eq!(visible, 30_000);
    dn.shutdown().await.unwrap();
    // As after a crash: data reached the disk without its checksums.
    let paths = rbw_paths(&dir, 31, 7);
    let mut on_disk = std::fs::read(&paths.0).unwrap();
    on_disk.extend_from_slice(&data[30_000..31_000]);
    std::fs::write(&paths.0, &on_disk).unwrap();

    let dn = start_datanode(&nn, &dir).await;
    let report = nn.state.lock().block_reports.last().cloned().unwrap();
    let replica = report
        .replicas
        .iter()
        .find(|r| r.block.as_ref().unwrap().id == 31)
        .unwrap();
    // Its writer is gone: waiting to be recovered (HDFS's RWR).
    assert_eq!(replica.state, pb::ReplicaState::Rwr as i32);
    assert_eq!(replica.block, Some(block(31, 7, 30_000)));
    assert_replica(&paths, &data[..30_000]);
    // The replica can still be recovered and carried on.
    let mut p = Pipeline::open(
        &dn,
        header(
            block(31, 7, 30_000),
            vec![],
            WriteStage::PipelineSetupRecovery,
            8,
        ),
    )
    .await
    .unwrap();
    let mut sent = packets(&data[30_000..], 30_000, 7_000, false);
    sent.push(last_packet(sent.len() as i64, data.len() as u64));
    let acks = p.write_all(sent).await;
    assert!(acks.iter().all(|a| a.replies == [OK]));
    assert_replica(&finalized_paths(&dir, 31, 8), &data);
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_mid_block_leaves_the_replica_in_rbw() {
    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn1");
    let dn = start_datanode(&nn, &dir).await;
    let data = bytes(8192, 5);
    let mut p = Pipeline::open(
        &dn,
        header(block(33, 2, 0), vec![], WriteStage::PipelineSetupCreate, 0),
    )
    .await
    .unwrap();
    let acks = p.write_all(packets(&data, 0, 4096, false)).await;
    assert_eq!(acks.len(), 2);
    // The client keeps its connection open while the datanode stops: an
    // error ack naming the datanode ends it.
    let addr = format!("127.0.0.1:{}", dn.local_addr().port());
    dn.shutdown().await.unwrap();
    let ack = p.ack().await;
    assert_eq!(ack.replies, vec![AckStatus::Error as i32]);
    assert_eq!(ack.first_bad_link, addr);
    assert!(ack.message.contains("shutting down"), "{}", ack.message);
    assert!(p.acks.read_ack().await.unwrap().is_none());
    assert_replica(&rbw_paths(&dir, 33, 2), &data);
    let dn = start_datanode(&nn, &dir).await;
    let report = nn.state.lock().block_reports.last().cloned().unwrap();
    // Still in rbw/, reported as waiting to be recovered: no one writes it.
    assert_eq!(report.replicas[0].state, pb::ReplicaState::Rwr as i32);
    assert_eq!(report.replicas[0].block, Some(block(33, 2, 8192)));
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_on_the_data_transfer_port_is_refused_and_serving_goes_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    init_tracing();
    let nn = FakeNamenode::start("CID-p").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    // Not HTTP/2 and not our magic: the datanode closes the connection.
    let mut stream = tokio::net::TcpStream::connect(dn.local_addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // A close with our bytes unread may reach us as a reset.
    let _ = stream.read_to_end(&mut answer).await;
    assert!(answer.is_empty(), "{answer:?}");
    // A packet length over the bound after a good header: refused with an
    // error ack, before anything of that size is read.
    let addr = dn.local_addr().to_string();
    let stall = std::time::Duration::from_secs(30);
    let (read, mut write) = data_transfer::connect(&addr, stall)
        .await
        .unwrap()
        .into_split();
    let create = header(block(12, 1, 0), vec![], WriteStage::PipelineSetupCreate, 0);
    write
        .write_all(&data_transfer::encode_write_block(&create))
        .await
        .unwrap();
    let mut acks = data_transfer::FrameReader::new(read, addr, stall);
    assert_eq!(acks.read_ack().await.unwrap().unwrap().replies, vec![OK]);
    let mut prefix = u32::MAX.to_be_bytes().to_vec();
    prefix.extend(4u16.to_be_bytes());
    write.write_all(&prefix).await.unwrap();
    let refused = acks.read_ack().await.unwrap().unwrap();
    assert_eq!(refused.replies, vec![AckStatus::Error as i32]);
    assert!(refused.message.contains("over the"), "{}", refused.message);
    assert!(acks.read_ack().await.unwrap().is_none());
    // Both the gRPC service and WriteBlock still answer on the port.
    write_block(&dn, 13, 1, b"still serving").await;
    assert_eq!(
        read_range(&dn, block(13, 1, 13), 0, 13).await.unwrap(),
        b"still serving"
    );
    dn.shutdown().await.unwrap();
}
