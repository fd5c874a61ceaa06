//! HDFS's DFSOutputStream: a file open for writing. Bytes are cut into
//! packets (see [`crate::packet`]) and streamed through one block pipeline
//! ([`BlockPipeline`]) at a time; a block that reaches the file's block size
//! is finished before `addBlock` allocates the next one.

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use cairn_proto::ErrorKind;
use cairn_proto::pb::{
    AbandonBlockRequest, AddBlockRequest, Block, CompleteRequest, DatanodeInfo, FileStatus,
    FsyncRequest, LocatedBlock, WriteStage,
};

use crate::Result;
use crate::data_streamer::{BlockPipeline, PipelineSetup, bad_node_index};
use crate::dfs_client::DfsClient;
use crate::error::DfsError;
use crate::lease_renewer::LeaseGuard;
use crate::packet;
use crate::retry::Backoff;

/// Attempts at setting up the pipeline of a new block, each time leaving
/// out the datanode that failed (HDFS's `dfs.client.block.write.retries`).
const BLOCK_WRITE_ATTEMPTS: usize = 3;

/// How long a datanode that a new block's pipeline could not reach stays
/// out of this writer's later blocks (HDFS's
/// `dfs.client.write.exclude.nodes.cache.expiry.interval.millis`): long
/// enough that a dead node is not tried again for every block before the
/// namenode declares it dead, short enough that a restarted one comes back.
const EXCLUSION_EXPIRY: Duration = Duration::from_secs(10 * 60);

/// A file open for writing. Dropping it without [`FileWriter::close`]
/// abandons the write: the namenode recovers the file once the lease expires.
pub struct FileWriter {
    client: DfsClient,
    path: String,
    file_id: u64,
    block_size: u64,
    packet_size: usize,
    /// Bytes accepted so far, counted from the file's start.
    pos: u64,
    /// Bytes of the next packet not sent yet; they belong to `pipeline`.
    buffer: BytesMut,
    /// The pipeline of the block being written.
    pipeline: Option<BlockPipeline>,
    /// The previous block's pipeline while its replicas finalize: the
    /// datanodes fsync a whole block then, and the next block is written
    /// meanwhile rather than after. Its acks are awaited before the block
    /// after that one is finished, and before any flush or close returns.
    finishing: Option<BlockPipeline>,
    /// The last block of the file as far as this writer knows, with its
    /// final length: `previous` for addBlock, `last` for complete.
    last_block: Option<Block>,
    /// Set by the first failure; every later call fails with it.
    failed: Option<DfsError>,
    /// Datanodes left out of this writer's block allocations for now.
    excluded: ExcludedNodes,
    _lease: LeaseGuard,
}

impl FileWriter {
    /// A writer for a file just created.
    pub(crate) fn create(
        client: DfsClient,
        path: String,
        status: FileStatus,
        lease: LeaseGuard,
    ) -> Result<Self> {
        Self::new(client, path, &status, lease)
    }

    /// A writer for a file just opened for append. When the namenode hands
    /// back the partial last block, the pipeline carries on inside it.
    pub(crate) async fn append(
        client: DfsClient,
        path: String,
        status: FileStatus,
        last_block: Option<LocatedBlock>,
        previous_generation_stamp: u64,
        lease: LeaseGuard,
    ) -> Result<Self> {
        let mut writer = Self::new(client, path, &status, lease)?;
        writer.pos = status.length;
        if let Some(located) = last_block {
            let block = located.block.ok_or_else(|| DfsError::Protocol {
                peer: writer.client.config().namenode.clone(),
                message: format!(
                    "{}: append returned a last block without a block",
                    writer.path
                ),
            })?;
            if block.num_bytes < writer.block_size {
                let setup = PipelineSetup {
                    client: &writer.client,
                    path: &writer.path,
                    block: Block {
                        generation_stamp: previous_generation_stamp,
                        ..block
                    },
                    nodes: located.locations,
                    stage: WriteStage::PipelineSetupAppend,
                    new_generation_stamp: block.generation_stamp,
                    window: writer.client.config().max_packets_in_flight,
                    timeout: writer.client.config().rpc_timeout,
                };
                writer.pipeline = Some(BlockPipeline::setup(setup).await?);
            }
            writer.last_block = Some(block);
        }
        Ok(writer)
    }

    fn new(
        client: DfsClient,
        path: String,
        status: &FileStatus,
        lease: LeaseGuard,
    ) -> Result<Self> {
        if status.block_size == 0 {
            return Err(DfsError::Protocol {
                peer: client.config().namenode.clone(),
                message: format!("{path}: the file status has no block size"),
            });
        }
        let packet_size = packet::packet_data_size(client.config().write_packet_size);
        Ok(Self {
            file_id: status.inode_id,
            block_size: status.block_size,
            packet_size,
            pos: 0,
            buffer: BytesMut::new(),
            pipeline: None,
            finishing: None,
            last_block: None,
            failed: None,
            excluded: ExcludedNodes::default(),
            _lease: lease,
            client,
            path,
        })
    }

    /// Writes all of `buf` (copied once, into packets).
    pub async fn write(&mut self, buf: &[u8]) -> Result<()> {
        self.check()?;
        let result = self.write_inner(Source::Borrowed(buf)).await;
        self.record(result)
    }

    /// Writes all of `buf`; whole packets are sent without copying when the
    /// writer holds no partial packet.
    pub async fn write_bytes(&mut self, buf: Bytes) -> Result<()> {
        self.check()?;
        let result = self.write_inner(Source::Owned(buf)).await;
        self.record(result)
    }

    /// Sends everything written so far, waits until every datanode of the
    /// pipeline acknowledged it, and records the length on the namenode:
    /// new readers see the data.
    pub async fn hflush(&mut self) -> Result<()> {
        self.check()?;
        let result = self.flush_inner(false).await;
        self.record(result)
    }

    /// As [`FileWriter::hflush`], and the datanodes have the data on disk.
    pub async fn hsync(&mut self) -> Result<()> {
        self.check()?;
        let result = self.flush_inner(true).await;
        self.record(result)
    }

    /// The datanodes of the block being written, in pipeline order (HDFS's
    /// `DFSOutputStream.getPipeline`); empty between blocks. Pipeline
    /// recovery leaves failed datanodes out.
    pub fn pipeline_nodes(&self) -> Vec<DatanodeInfo> {
        self.pipeline
            .as_ref()
            .map(|p| p.nodes().to_vec())
            .unwrap_or_default()
    }

    /// Bytes written so far, counted from the start of the file (including
    /// the data the file had before an append).
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Sends the rest, finishes the last block, and returns once the
    /// namenode says the file is complete.
    pub async fn close(mut self) -> Result<()> {
        self.check()?;
        if let Some(pipeline) = self.pipeline.as_mut()
            && !self.buffer.is_empty()
        {
            let data = self.buffer.split().freeze();
            pipeline.send_data(data, false).await?;
        }
        self.finish_block().await?;
        self.wait_finishing().await?;
        self.complete().await
    }

    async fn write_inner(&mut self, mut data: Source<'_>) -> Result<()> {
        // A failure leaves the writer unusable, so `pos` need not be exact
        // on the error path.
        self.pos += data.len() as u64;
        while !data.is_empty() {
            if self.pipeline.is_none() {
                self.next_block().await?;
            }
            let Some(pipeline) = self.pipeline.as_mut() else {
                continue;
            };
            let offset = pipeline.bytes_sent();
            let target = packet::next_packet_len(offset, self.block_size, self.packet_size);
            let full = if self.buffer.is_empty() && data.len() >= target {
                Some(data.take(target))
            } else {
                let take = (target - self.buffer.len()).min(data.len());
                data.take_into(&mut self.buffer, take);
                (self.buffer.len() == target).then(|| self.buffer.split().freeze())
            };
            if let Some(packet) = full {
                pipeline.send_data(packet, false).await?;
                if pipeline.bytes_sent() >= self.block_size {
                    self.finish_block().await?;
                }
            }
        }
        Ok(())
    }

    async fn flush_inner(&mut self, sync: bool) -> Result<()> {
        self.wait_finishing().await?;
        let last_block_length = match self.pipeline.as_mut() {
            Some(pipeline) => {
                if !self.buffer.is_empty() || sync {
                    // An empty packet with `sync` asks the datanodes to fsync
                    // what they already have.
                    let data = self.buffer.split().freeze();
                    pipeline.send_data(data, sync).await?;
                }
                pipeline.wait_all_acked().await?
            }
            None => self.last_block.map_or(0, |b| b.num_bytes),
        };
        let request = FsyncRequest {
            path: self.path.clone(),
            client_name: self.client.client_name().to_string(),
            file_id: self.file_id,
            last_block_length,
        };
        self.client.namenode().fsync(request).await?;
        Ok(())
    }

    /// Ends the block being written (if any): it becomes the file's last
    /// block, and its replicas finalize while the next block is written.
    async fn finish_block(&mut self) -> Result<()> {
        if let Some(mut pipeline) = self.pipeline.take() {
            let block = pipeline.send_last_packet().await?;
            tracing::debug!(path = %self.path, block = block.id, length = block.num_bytes, "block finished");
            self.last_block = Some(block);
            self.wait_finishing().await?;
            self.finishing = Some(pipeline);
        }
        Ok(())
    }

    /// Waits until the replicas of the block that was finished last are
    /// finalized on every datanode of its pipeline.
    /// Pipeline recovery may have moved that block to a new generation
    /// stamp: the file's last block takes it, for `complete`.
    async fn wait_finishing(&mut self) -> Result<()> {
        if let Some(mut pipeline) = self.finishing.take() {
            pipeline.wait_all_acked().await?;
            let block = pipeline.block();
            if let Some(last) = self.last_block.as_mut()
                && last.id == block.id
            {
                last.generation_stamp = block.generation_stamp;
            }
        }
        Ok(())
    }

    /// Allocates the next block and opens its pipeline; a datanode that
    /// cannot be reached is left out of the next allocations (HDFS's
    /// DataStreamer.excludedNodes).
    async fn next_block(&mut self) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let excluded = self.excluded.current(Instant::now());
            let located = self.add_block(&excluded).await?;
            let block = located.block.ok_or_else(|| DfsError::Protocol {
                peer: self.client.config().namenode.clone(),
                message: format!("{}: addBlock returned no block", self.path),
            })?;
            let nodes = located.locations.clone();
            let setup = PipelineSetup {
                client: &self.client,
                path: &self.path,
                block: Block {
                    num_bytes: 0,
                    ..block
                },
                nodes: nodes.clone(),
                stage: WriteStage::PipelineSetupCreate,
                new_generation_stamp: 0,
                window: self.client.config().max_packets_in_flight,
                timeout: self.client.config().rpc_timeout,
            };
            match BlockPipeline::setup(setup).await {
                Ok(pipeline) => {
                    self.pipeline = Some(pipeline);
                    return Ok(());
                }
                Err(err) if attempt < BLOCK_WRITE_ATTEMPTS => {
                    tracing::warn!(path = %self.path, block = block.id, error = %err, "abandoning block");
                    self.abandon_block(block).await?;
                    if let Some(bad) = bad_node_index(&err, &nodes).and_then(|i| nodes.get(i)) {
                        self.excluded.add(&bad.datanode_uuid, Instant::now());
                    }
                }
                Err(err) => {
                    // Best effort: the namenode also drops it at complete().
                    if let Err(abandon) = self.abandon_block(block).await {
                        tracing::debug!(path = %self.path, error = %abandon, "could not abandon block");
                    }
                    return Err(err);
                }
            }
        }
    }

    /// `addBlock`, retried while the namenode says the previous block is not
    /// replicated yet.
    async fn add_block(&self, excluded: &[String]) -> Result<LocatedBlock> {
        let mut backoff = Backoff::new();
        loop {
            let request = AddBlockRequest {
                path: self.path.clone(),
                client_name: self.client.client_name().to_string(),
                previous: self.last_block,
                excluded_nodes: excluded.to_vec(),
                file_id: self.file_id,
                client_host: self.client.client_host().to_string(),
            };
            match self.client.namenode().add_block(request).await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) => {
                    let err = DfsError::from(status);
                    if err.kind() != ErrorKind::NotReplicatedYet {
                        return Err(err);
                    }
                    tracing::debug!(path = %self.path, error = %err, "addBlock: retrying");
                    if !backoff.wait().await {
                        return Err(DfsError::RetriesExhausted {
                            path: self.path.clone(),
                            attempts: backoff.attempts(),
                            what: format!("addBlock: {err}"),
                        });
                    }
                }
            }
        }
    }

    async fn abandon_block(&self, block: Block) -> Result<()> {
        let request = AbandonBlockRequest {
            block: Some(block),
            path: self.path.clone(),
            client_name: self.client.client_name().to_string(),
            file_id: self.file_id,
        };
        self.client.namenode().abandon_block(request).await?;
        Ok(())
    }

    /// `complete`, retried while the last block is not minimally replicated.
    async fn complete(&self) -> Result<()> {
        let mut backoff = Backoff::new();
        loop {
            let request = CompleteRequest {
                path: self.path.clone(),
                client_name: self.client.client_name().to_string(),
                last: self.last_block,
                file_id: self.file_id,
            };
            let why = match self.client.namenode().complete(request).await {
                Ok(response) if response.get_ref().completed => return Ok(()),
                Ok(_) => "the last block is not replicated yet".to_string(),
                Err(status) => {
                    let err = DfsError::from(status);
                    if err.kind() != ErrorKind::NotReplicatedYet {
                        return Err(err);
                    }
                    err.to_string()
                }
            };
            tracing::debug!(path = %self.path, %why, "complete: retrying");
            if !backoff.wait().await {
                return Err(DfsError::RetriesExhausted {
                    path: self.path.clone(),
                    attempts: backoff.attempts(),
                    what: format!("complete: {why}"),
                });
            }
        }
    }

    fn check(&self) -> Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(cause) => Err(DfsError::WriterFailed {
                path: self.path.clone(),
                cause: Box::new(cause.clone()),
            }),
        }
    }

    /// Remembers the first failure and drops the pipeline: the writer cannot
    /// go on from an unknown state.
    fn record(&mut self, result: Result<()>) -> Result<()> {
        if let Err(err) = &result {
            self.failed = Some(err.clone());
            self.pipeline = None;
        }
        result
    }

    #[cfg(test)]
    pub(crate) fn pipeline(&self) -> Option<&BlockPipeline> {
        self.pipeline.as_ref()
    }
}

/// Bytes handed to the writer: borrowed ones are copied once, into the
/// packet that carries them; owned ones are sliced without copying.
enum Source<'a> {
    Borrowed(&'a [u8]),
    Owned(Bytes),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Borrowed(slice) => slice.len(),
            Source::Owned(bytes) => bytes.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` bytes (at most `len()`), as a packet's payload.
    fn take(&mut self, n: usize) -> Bytes {
        match self {
            Source::Borrowed(slice) => {
                let (head, tail) = slice.split_at(n);
                *slice = tail;
                Bytes::copy_from_slice(head)
            }
            Source::Owned(bytes) => bytes.split_to(n),
        }
    }

    /// Moves the first `n` bytes (at most `len()`) to the end of `buffer`.
    fn take_into(&mut self, buffer: &mut BytesMut, n: usize) {
        match self {
            Source::Borrowed(slice) => {
                let (head, tail) = slice.split_at(n);
                buffer.extend_from_slice(head);
                *slice = tail;
            }
            Source::Owned(bytes) => {
                buffer.extend_from_slice(&bytes[..n]);
                bytes.advance(n);
            }
        }
    }
}

/// Datanodes a writer leaves out of its block allocations, each until
/// [`EXCLUSION_EXPIRY`] after it failed.
#[derive(Debug, Default)]
struct ExcludedNodes {
    /// Datanode uuid and when it was excluded; a handful at most.
    nodes: Vec<(String, Instant)>,
}

impl ExcludedNodes {
    fn add(&mut self, datanode_uuid: &str, now: Instant) {
        self.nodes.retain(|(uuid, _)| uuid != datanode_uuid);
        self.nodes.push((datanode_uuid.to_string(), now));
    }

    /// The uuids still excluded at `now`; forgets the expired ones.
    fn current(&mut self, now: Instant) -> Vec<String> {
        self.nodes
            .retain(|(_, since)| now.duration_since(*since) < EXCLUSION_EXPIRY);
        self.nodes.iter().map(|(uuid, _)| uuid.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_nodes_expire() {
        let start = Instant::now();
        let mut excluded = ExcludedNodes::default();
        excluded.add("u1", start);
        excluded.add("u2", start + Duration::from_secs(60));
        // Failing again restarts the node's expiry.
        excluded.add("u1", start + Duration::from_secs(120));
        assert_eq!(excluded.current(start + EXCLUSION_EXPIRY), ["u2", "u1"]);
        let later = start + Duration::from_secs(60) + EXCLUSION_EXPIRY;
        assert_eq!(excluded.current(later), ["u1"]);
        assert!(excluded.current(later + Duration::from_secs(60)).is_empty());
    }

    #[test]
    fn bad_node_by_address_or_uuid() {
        let nodes = vec![
            DatanodeInfo {
                datanode_uuid: "u1".into(),
                host: "h1".into(),
                xfer_port: 1,
                ..Default::default()
            },
            DatanodeInfo {
                datanode_uuid: "u2".into(),
                host: "h2".into(),
                xfer_port: 2,
                ..Default::default()
            },
        ];
        let err = |datanode: &str| DfsError::Pipeline {
            block_id: 1,
            path: "/f".into(),
            datanode: datanode.into(),
            message: "boom".into(),
        };
        assert_eq!(bad_node_index(&err("h2:2"), &nodes), Some(1));
        assert_eq!(bad_node_index(&err("u1"), &nodes), Some(0));
        assert!(bad_node_index(&err("h3:3"), &nodes).is_none());
        assert!(bad_node_index(&DfsError::InvalidArgument("x".into()), &nodes).is_none());
    }
}
