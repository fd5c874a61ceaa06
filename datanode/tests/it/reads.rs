//! ReadBlock and GetReplicaVisibleLength.

use cairn_proto::data_transfer::{self, FrameReader};
use cairn_proto::pb::{self, AckStatus, WriteStage};
use cairn_proto::{ChecksumType, ErrorKind, RpcError};
use tokio::io::AsyncWriteExt;

use crate::fake_namenode::FakeNamenode;
use crate::{
    Pipeline, STALL, block, bytes, client, header, init_tracing, packets, read_range,
    start_datanode, write_block,
};

#[tokio::test]
async fn reads_unaligned_ranges_with_checksums_that_verify() {
    init_tracing();
    let nn = FakeNamenode::start("CID-r").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    let data = bytes(2_700_001, 5);
    write_block(&dn, 40, 3, &data).await;

    // Several packets, starting and ending inside chunks.
    let (offset, length) = (1_000u64, 2_500_000u64);
    let read = read_range(&dn, block(40, 3, 0), offset, length)
        .await
        .unwrap();
    assert!(read == data[1_000..2_501_000]);
    // Up to the very end (a short last chunk), and a tiny range.
    let read = read_range(&dn, block(40, 3, 0), 2_699_999, 2)
        .await
        .unwrap();
    assert_eq!(read, &data[2_699_999..]);
    let read = read_range(&dn, block(40, 3, 0), 513, 1).await.unwrap();
    assert_eq!(read, &data[513..514]);
    // Packets come chunk-aligned: the first starts at 512 for offset 1000.
    let mut stream = client(&dn)
        .await
        .read_block(pb::ReadBlockRequest {
            block: Some(block(40, 3, 0)),
            offset: 1000,
            length: 10,
            client_name: String::new(),
            send_checksums: true,
        })
        .await
        .unwrap()
        .into_inner();
    let p = stream.message().await.unwrap().unwrap();
    assert_eq!(
        (p.offset_in_block, p.data.len(), p.checksums.len()),
        (512, 512, 4)
    );
    assert!(stream.message().await.unwrap().is_none());
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn read_errors_are_typed() {
    init_tracing();
    let nn = FakeNamenode::start("CID-r").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    write_block(&dn, 41, 5, &[7u8; 4000]).await;
    let kind = |r: Result<Vec<u8>, tonic::Status>| RpcError::from(r.unwrap_err()).kind;
    assert_eq!(
        kind(read_range(&dn, block(99, 1, 0), 0, 1).await),
        ErrorKind::ReplicaNotFound
    );
    assert_eq!(
        kind(read_range(&dn, block(41, 6, 0), 0, 1).await),
        ErrorKind::StaleGenerationStamp
    );
    assert_eq!(
        kind(read_range(&dn, block(41, 5, 0), 3000, 1001).await),
        ErrorKind::InvalidArgument
    );
    // An older generation stamp in the request is fine (HDFS: <= replica's).
    assert_eq!(
        read_range(&dn, block(41, 4, 0), 3000, 1000).await.unwrap(),
        vec![7u8; 1000]
    );
    let mut c = client(&dn).await;
    let err = c
        .get_replica_visible_length(pb::GetReplicaVisibleLengthRequest {
            block: Some(block(99, 1, 0)),
        })
        .await
        .unwrap_err();
    assert_eq!(RpcError::from(err).kind, ErrorKind::ReplicaNotFound);
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_replica_being_written_is_readable_up_to_its_acked_length() {
    init_tracing();
    let nn = FakeNamenode::start("CID-r").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    let data = bytes(10_000, 6);
    let mut p = Pipeline::open(
        &dn,
        header(block(42, 1, 0), vec![], WriteStage::PipelineSetupCreate, 0),
    )
    .await
    .unwrap();
    let acks = p.write_all(packets(&data[..7_777], 0, 3_000, false)).await;
    assert!(
        acks.iter()
            .all(|a| a.replies == [AckStatus::Success as i32])
    );
    let mut c = client(&dn).await;
    let visible = c
        .get_replica_visible_length(pb::GetReplicaVisibleLengthRequest {
            block: Some(block(42, 1, 0)),
        })
        .await
        .unwrap()
        .into_inner()
        .length;
    assert_eq!(visible, 7_777);
    let read = read_range(&dn, block(42, 1, 0), 7_000, 777).await.unwrap();
    assert_eq!(read, &data[7_000..7_777]);
    assert!(read_range(&dn, block(42, 1, 0), 7_000, 778).await.is_err());
    dn.shutdown().await.unwrap();
}

/// A ReadBlock op over a plain data-transfer connection: the answer, then
/// the packets until the datanode closes its side.
async fn read_over_data_transfer(
    dn: &cairn_datanode::Datanode,
    block: pb::Block,
    offset: u64,
    length: u64,
) -> Result<(ChecksumType, Vec<pb::Packet>), RpcError> {
    let addr = dn.local_addr().to_string();
    let mut stream = data_transfer::connect(&addr, STALL).await?;
    let request = pb::ReadBlockRequest {
        block: Some(block),
        offset,
        length,
        client_name: "test-client".into(),
        send_checksums: true,
    };
    stream
        .write_all(&data_transfer::encode_read_block(&request))
        .await
        .unwrap();
    let mut frames = FrameReader::new(stream, addr, STALL);
    let kind = frames
        .read_block_response()
        .await?
        .expect("an answer")
        .into_result()?;
    let mut packets = Vec::new();
    while let Some(packet) = frames.read_packet().await? {
        packets.push(packet);
    }
    Ok((kind, packets))
}

#[tokio::test]
async fn reads_over_data_transfer_come_as_verified_packets_and_refusals_are_typed() {
    init_tracing();
    let nn = FakeNamenode::start("CID-r").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    let data = bytes(2_700_001, 9);
    write_block(&dn, 42, 3, &data).await;

    // Several packets, from the chunk the offset falls in to the end.
    let (kind, packets) = read_over_data_transfer(&dn, block(42, 3, 0), 1_000, 2_699_001)
        .await
        .unwrap();
    // `write_block` sends no type: CRC32, as writers before the field.
    assert_eq!(kind, ChecksumType::Crc32);
    assert!(packets.len() > 1);
    let mut next = 512;
    let mut read = Vec::new();
    for (seqno, p) in (0..).zip(&packets) {
        assert_eq!((p.seqno, p.offset_in_block), (seqno, next));
        kind.verify(&p.data, p.offset_in_block, &p.checksums)
            .unwrap_or_else(|bad| panic!("bad checksum at {bad}"));
        read.extend_from_slice(&p.data);
        next += p.data.len() as u64;
    }
    assert_eq!(next, 2_700_001);
    assert!(read == data[512..]);

    let refused = |r: Result<(ChecksumType, Vec<pb::Packet>), RpcError>| r.unwrap_err().kind;
    assert_eq!(
        refused(read_over_data_transfer(&dn, block(99, 1, 0), 0, 1).await),
        ErrorKind::ReplicaNotFound
    );
    assert_eq!(
        refused(read_over_data_transfer(&dn, block(42, 4, 0), 0, 1).await),
        ErrorKind::StaleGenerationStamp
    );
    assert_eq!(
        refused(read_over_data_transfer(&dn, block(42, 3, 0), 2_700_000, 2).await),
        ErrorKind::InvalidArgument
    );
    dn.shutdown().await.unwrap();
}
