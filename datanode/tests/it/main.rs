//! Datanode tests on real files in temporary directories, real gRPC and
//! real data-transfer connections on 127.0.0.1:0, against a fake namenode
//! serving the real DatanodeProtocol.

// Test helpers may fail loudly: a failure here is a failed test.
#![allow(clippy::unwrap_used)]

mod commands;
mod fake_namenode;
mod pipeline;
mod reads;
mod storage;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use cairn_datanode::{Datanode, DatanodeConfig};
use cairn_proto::data_transfer::{self, FrameReader};
use cairn_proto::pb;
use cairn_proto::pb::data_transfer_client::DataTransferClient;
use cairn_proto::{ChecksumType, MAX_MESSAGE_SIZE, RpcError};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use fake_namenode::FakeNamenode;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A datanode configuration for tests: one volume, fast loops.
pub fn config(nn: &FakeNamenode, dir: &Path) -> DatanodeConfig {
    DatanodeConfig {
        data_dirs: vec![dir.to_path_buf()],
        namenode: nn.addr.to_string(),
        heartbeat_interval: Duration::from_millis(50),
        incremental_report_delay: Duration::from_millis(5),
        ..DatanodeConfig::default()
    }
}

pub async fn start_datanode(nn: &FakeNamenode, dir: &Path) -> Datanode {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Datanode::start(config(nn, dir), listener).await.unwrap()
}

/// `n` datanodes, each with its directory `root/dn<i>`.
pub async fn start_datanodes(nn: &FakeNamenode, root: &Path, n: usize) -> Vec<(Datanode, PathBuf)> {
    let mut out = Vec::new();
    for i in 1..=n {
        let dir = root.join(format!("dn{i}"));
        out.push((start_datanode(nn, &dir).await, dir));
    }
    out
}

pub fn info(dn: &Datanode) -> pb::DatanodeInfo {
    pb::DatanodeInfo {
        datanode_uuid: dn.datanode_uuid().to_string(),
        host: "127.0.0.1".into(),
        xfer_port: u32::from(dn.local_addr().port()),
        ..Default::default()
    }
}

pub async fn client(dn: &Datanode) -> DataTransferClient<Channel> {
    let channel = Channel::from_shared(format!("http://{}", dn.local_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    DataTransferClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

/// Deterministic test bytes.
pub fn bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn block(id: u64, gs: u64, len: u64) -> pb::Block {
    pb::Block {
        id,
        generation_stamp: gs,
        num_bytes: len,
    }
}

pub fn header(
    block: pb::Block,
    targets: Vec<pb::DatanodeInfo>,
    stage: pb::WriteStage,
    new_gs: u64,
) -> pb::WriteBlockHeader {
    pb::WriteBlockHeader {
        block: Some(block),
        targets,
        client_name: "test-client".into(),
        stage: stage as i32,
        new_generation_stamp: new_gs,
        bytes_per_checksum: 512,
        // What these tests write: CRC32, as every writer did before the
        // type was sent (0 on the wire), so old meta files are covered too.
        checksum_type: pb::ChecksumType::ChecksumCrc32 as i32,
    }
}

/// A data packet with correct checksums.
pub fn packet(seqno: i64, offset: u64, data: &[u8]) -> pb::Packet {
    let mut sums = Vec::new();
    ChecksumType::Crc32.chunk_checksums(data, offset, &mut sums);
    pb::Packet {
        seqno,
        offset_in_block: offset,
        data: Bytes::copy_from_slice(data),
        checksums: Bytes::from(sums),
        last_packet_in_block: false,
        sync: false,
    }
}

pub fn last_packet(seqno: i64, offset: u64) -> pb::Packet {
    pb::Packet {
        seqno,
        offset_in_block: offset,
        last_packet_in_block: true,
        ..Default::default()
    }
}

/// `data` cut into packets of `size` bytes from `start`, then (if `finish`)
/// the empty last packet.
pub fn packets(data: &[u8], start: u64, size: usize, finish: bool) -> Vec<pb::Packet> {
    let mut out: Vec<pb::Packet> = data
        .chunks(size)
        .enumerate()
        .map(|(i, c)| packet(i as i64, start + (i * size) as u64, c))
        .collect();
    if finish {
        out.push(last_packet(out.len() as i64, start + data.len() as u64));
    }
    out
}

/// An open WriteBlock connection, set up (its seqno -1 ack received).
pub struct Pipeline {
    pub tx: mpsc::Sender<pb::Packet>,
    pub acks: FrameReader<OwnedReadHalf>,
    pub setup: pb::PipelineAck,
}

/// How long a test's data-transfer connection waits on a stalled frame.
pub const STALL: Duration = Duration::from_secs(30);

impl Pipeline {
    pub async fn open(dn: &Datanode, header: pb::WriteBlockHeader) -> Result<Pipeline, RpcError> {
        let addr = dn.local_addr().to_string();
        let (read, mut write) = data_transfer::connect(&addr, STALL).await?.into_split();
        write
            .write_all(&data_transfer::encode_write_block(&header))
            .await
            .unwrap();
        let mut acks = FrameReader::new(read, addr.clone(), STALL);
        let setup = acks.read_ack().await?.expect("a setup ack");
        let (tx, rx) = mpsc::channel(1024);
        data_transfer::spawn_sender(write, rx, addr, STALL);
        Ok(Pipeline { tx, acks, setup })
    }

    pub async fn send(&self, packet: pb::Packet) {
        self.tx.send(packet).await.unwrap();
    }

    pub async fn ack(&mut self) -> pb::PipelineAck {
        self.acks.read_ack().await.unwrap().expect("an ack")
    }

    /// Sends all packets, then collects one ack per packet.
    pub async fn write_all(&mut self, packets: Vec<pb::Packet>) -> Vec<pb::PipelineAck> {
        let n = packets.len();
        for p in packets {
            self.send(p).await;
        }
        let mut acks = Vec::new();
        for _ in 0..n {
            acks.push(self.ack().await);
        }
        acks
    }
}

/// Writes a whole block through a one-datanode pipeline and finalizes it.
pub async fn write_block(dn: &Datanode, id: u64, gs: u64, data: &[u8]) {
    let mut p = Pipeline::open(
        dn,
        header(
            block(id, gs, 0),
            vec![],
            pb::WriteStage::PipelineSetupCreate,
            0,
        ),
    )
    .await
    .unwrap();
    let acks = p.write_all(packets(data, 0, 64 * 1024, true)).await;
    assert!(
        acks.iter()
            .all(|a| a.replies == [pb::AckStatus::Success as i32]),
        "{acks:?}"
    );
}

/// The two files of a finalized replica under a datanode's directory.
pub fn finalized_paths(dir: &Path, id: u64, gs: u64) -> (PathBuf, PathBuf) {
    let sub = dir
        .join("current/finalized")
        .join(format!("subdir{}", (id >> 16) & 31))
        .join(format!("subdir{}", (id >> 8) & 31));
    (
        sub.join(format!("blk_{id}")),
        sub.join(format!("blk_{id}_{gs}.meta")),
    )
}

pub fn rbw_paths(dir: &Path, id: u64, gs: u64) -> (PathBuf, PathBuf) {
    let rbw = dir.join("current/rbw");
    (
        rbw.join(format!("blk_{id}")),
        rbw.join(format!("blk_{id}_{gs}.meta")),
    )
}

/// Asserts that a replica's files hold exactly `data` and its checksums.
pub fn assert_replica(paths: &(PathBuf, PathBuf), data: &[u8]) {
    let on_disk = std::fs::read(&paths.0).unwrap();
    assert_eq!(on_disk.len(), data.len(), "length of {}", paths.0.display());
    assert!(on_disk == data, "bytes of {}", paths.0.display());
    let mut meta = vec![0, 1, 1, 0, 0, 2, 0];
    ChecksumType::Crc32.chunk_checksums(data, 0, &mut meta);
    assert!(
        std::fs::read(&paths.1).unwrap() == meta,
        "checksums in {}",
        paths.1.display()
    );
}

/// Reads a range with ReadBlock, checks every packet's checksums, and
/// returns exactly the requested bytes.
pub async fn read_range(
    dn: &Datanode,
    block: pb::Block,
    offset: u64,
    length: u64,
) -> Result<Vec<u8>, tonic::Status> {
    let mut stream = client(dn)
        .await
        .read_block(pb::ReadBlockRequest {
            block: Some(block),
            offset,
            length,
            client_name: "test-client".into(),
            send_checksums: true,
        })
        .await?
        .into_inner();
    let mut out = Vec::new();
    let mut next = offset - offset % 512;
    while let Some(p) = stream.message().await? {
        assert_eq!(p.offset_in_block, next, "packets follow each other");
        assert_eq!(
            p.offset_in_block % 512,
            0,
            "packets start on a chunk boundary"
        );
        ChecksumType::from_pb(p.checksum_type)
            .expect("a known checksum type")
            .verify(&p.data, p.offset_in_block, &p.checksums)
            .unwrap_or_else(|bad| panic!("bad checksum at {bad}"));
        let start = p.offset_in_block;
        for (i, b) in p.data.iter().enumerate() {
            let pos = start + i as u64;
            if pos >= offset && pos < offset + length {
                out.push(*b);
            }
        }
        next = start + p.data.len() as u64;
    }
    Ok(out)
}
