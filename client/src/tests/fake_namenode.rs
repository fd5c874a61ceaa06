//! A test double of the namenode: the real `ClientProtocol` service on a
//! real socket, with just enough in-memory behaviour for the client's data
//! path (files, block allocation, completion) and a record of every call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use cairn_proto::pb::client_protocol_server::{ClientProtocol, ClientProtocolServer};
use cairn_proto::pb::*;
use cairn_proto::{ErrorKind, RpcError};
use std::pin::Pin;

use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tonic::{Request, Response, Status};

use super::serve;

pub(crate) struct FakeFile {
    pub status: FileStatus,
    pub located: LocatedBlocks,
}

pub(crate) struct NamenodeState {
    /// The `cairn-user` of every call, in order.
    pub users: Vec<String>,
    pub files: HashMap<String, FakeFile>,
    pub next_block_id: u64,
    /// The pipeline handed out by addBlock.
    pub pipeline: Vec<DatanodeInfo>,
    pub add_blocks: Vec<AddBlockRequest>,
    pub abandoned: Vec<Block>,
    pub completes: Vec<CompleteRequest>,
    /// complete() answers false this many times before true.
    pub incomplete_answers: u32,
    /// addBlock fails with NOT_REPLICATED_YET this many times first.
    pub not_replicated_yet: u32,
    pub fsyncs: Vec<FsyncRequest>,
    /// Pipeline recovery: the stamps asked for, and the pipelines reported.
    pub stamp_requests: Vec<UpdateBlockForPipelineRequest>,
    pub pipeline_updates: Vec<UpdatePipelineRequest>,
    pub renewals: Vec<String>,
    pub bad_blocks: Vec<LocatedBlock>,
    pub location_calls: Vec<GetBlockLocationsRequest>,
    pub lease_soft_limit_ms: u64,
    /// What append() returns as the last block.
    pub append_last_block: Option<LocatedBlock>,
    pub listing: Vec<FileStatus>,
    pub page_size: usize,
    /// `Call` streams the clients opened.
    pub streams_opened: u32,
    /// How many calls each `CallBatch` that arrived carried.
    pub batch_sizes: Vec<usize>,
    /// getFileInfo calls of `/hang` now waiting for [`FakeNamenode::release_hung`].
    pub hung_calls: u32,
    /// Answers go back with no response in them, as a broken peer's would.
    pub blank_answers: bool,
}

impl Default for NamenodeState {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            files: HashMap::new(),
            next_block_id: 1000,
            pipeline: Vec::new(),
            add_blocks: Vec::new(),
            abandoned: Vec::new(),
            completes: Vec::new(),
            incomplete_answers: 0,
            not_replicated_yet: 0,
            fsyncs: Vec::new(),
            stamp_requests: Vec::new(),
            pipeline_updates: Vec::new(),
            renewals: Vec::new(),
            bad_blocks: Vec::new(),
            location_calls: Vec::new(),
            lease_soft_limit_ms: 60_000,
            append_last_block: None,
            listing: Vec::new(),
            page_size: 2,
            streams_opened: 0,
            batch_sizes: Vec::new(),
            hung_calls: 0,
            blank_answers: false,
        }
    }
}

pub(crate) struct FakeNamenode {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<NamenodeState>>,
    breaks: watch::Sender<u64>,
    hung: Arc<Notify>,
    _server: serve::ServerHandle,
}

impl FakeNamenode {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(Mutex::new(NamenodeState::default()));
        let (breaks, _) = watch::channel(0);
        let hung = Arc::new(Notify::new());
        let service = ClientProtocolServer::new(Service {
            state: Arc::clone(&state),
            breaks: breaks.clone(),
            hung: Arc::clone(&hung),
        })
        .max_decoding_message_size(cairn_proto::MAX_MESSAGE_SIZE)
        .max_encoding_message_size(cairn_proto::MAX_MESSAGE_SIZE);
        let server = serve::spawn(serve::server().add_service(service)).await;
        Self {
            addr: server.addr,
            state,
            breaks,
            hung,
            _server: server,
        }
    }

    /// Ends every open `Call` stream with an error, as a namenode that
    /// went away would; the server itself keeps serving.
    pub(crate) fn break_streams(&self) {
        self.breaks.send_modify(|generation| *generation += 1);
    }

    /// Lets the getFileInfo calls of `/hang` answer.
    pub(crate) fn release_hung(&self) {
        self.hung.notify_waiters();
    }

    /// Adds a complete file made of `blocks` (id, length, locations).
    pub(crate) fn add_file(
        &self,
        path: &str,
        block_size: u64,
        blocks: Vec<(u64, u64, Vec<DatanodeInfo>)>,
    ) {
        let mut offset = 0;
        let mut located = Vec::new();
        for (id, len, locations) in blocks {
            located.push(LocatedBlock {
                block: Some(Block {
                    id,
                    generation_stamp: 1,
                    num_bytes: len,
                }),
                offset,
                locations,
                corrupt: false,
                corrupt_datanode_uuids: Vec::new(),
            });
            offset += len;
        }
        let status = file_status(path, offset, block_size);
        self.state.lock().files.insert(
            path.to_string(),
            FakeFile {
                status,
                located: LocatedBlocks {
                    file_length: offset,
                    blocks: located,
                    under_construction: false,
                    last_block: None,
                    last_block_complete: true,
                },
            },
        );
    }
}

pub(crate) fn file_status(path: &str, length: u64, block_size: u64) -> FileStatus {
    FileStatus {
        inode_id: 16386,
        name: path.rsplit('/').next().unwrap_or_default().to_string(),
        file_type: FileType::File as i32,
        length,
        replication: 3,
        block_size,
        permission: 0o644,
        owner: "alice".into(),
        group: "supergroup".into(),
        ..Default::default()
    }
}

#[derive(Clone)]
struct Service {
    state: Arc<Mutex<NamenodeState>>,
    breaks: watch::Sender<u64>,
    hung: Arc<Notify>,
}

impl Service {
    /// Records the caller and gives the state.
    fn enter<T>(&self, request: &Request<T>) -> parking_lot::MutexGuard<'_, NamenodeState> {
        let user = cairn_proto::identity::user_of(request)
            .unwrap_or("<none>")
            .to_string();
        let mut state = self.state.lock();
        state.users.push(user);
        state
    }
}

fn unimplemented<T>(what: &str) -> Result<Response<T>, Status> {
    Err(Status::unimplemented(format!(
        "the fake namenode has no {what}"
    )))
}

#[tonic::async_trait]
impl ClientProtocol for Service {
    type CallStream = Pin<Box<dyn Stream<Item = Result<AnswerBatch, Status>> + Send>>;

    /// The client's calls arrive here, each answered by the handler below
    /// of the same name, as the namenode does; until `break_streams`.
    async fn call(
        &self,
        request: Request<tonic::Streaming<CallBatch>>,
    ) -> Result<Response<Self::CallStream>, Status> {
        self.state.lock().streams_opened += 1;
        let mut breaks = self.breaks.subscribe();
        let after = self.breaks.subscribe();
        let broken = async move {
            let _ = breaks.changed().await;
        };
        // Once broken, the stream ends with an error; otherwise it ends
        // when the client's does.
        let ending = futures::stream::once(async move {
            after
                .has_changed()
                .unwrap_or(true)
                .then(|| Err(Status::unavailable("the fake namenode broke the stream")))
        })
        .filter_map(futures::future::ready);
        let state = Arc::clone(&self.state);
        let counted = Arc::clone(&self.state);
        let request = request.map(|calls| {
            calls.inspect(move |batch| {
                if let Ok(batch) = batch {
                    counted.lock().batch_sizes.push(batch.calls.len());
                }
            })
        });
        let answers = cairn_proto::ipc::serve(
            Arc::new(self.clone()),
            request,
            std::future::pending(),
            None,
        )
        .map(move |batch| {
            batch.map(|mut batch| {
                if state.lock().blank_answers {
                    for answer in &mut batch.answers {
                        answer.response = None;
                    }
                }
                batch
            })
        })
        .take_until(broken)
        .chain(ending);
        Ok(Response::new(Box::pin(answers)))
    }

    async fn get_server_defaults(
        &self,
        request: Request<GetServerDefaultsRequest>,
    ) -> Result<Response<ServerDefaults>, Status> {
        let state = self.enter(&request);
        Ok(Response::new(ServerDefaults {
            block_size: 4096,
            bytes_per_checksum: 512,
            write_packet_size: 1024,
            replication: 3,
            lease_soft_limit_ms: state.lease_soft_limit_ms,
            cluster_id: "CID-test".into(),
        }))
    }

    async fn get_file_info(
        &self,
        request: Request<GetFileInfoRequest>,
    ) -> Result<Response<GetFileInfoResponse>, Status> {
        if request.get_ref().path == "/hang" {
            let released = self.hung.notified();
            self.state.lock().hung_calls += 1;
            released.await;
        }
        let state = self.enter(&request);
        let path = &request.get_ref().path;
        if path == "/forbidden" {
            return Err(RpcError::new(
                ErrorKind::PermissionDenied,
                "Permission denied: user=alice, access=EXECUTE, inode=\"/forbidden\"",
            )
            .into());
        }
        if path == "/missing-parent/x" {
            return Err(
                RpcError::new(ErrorKind::NotFound, "File does not exist: /missing-parent").into(),
            );
        }
        let status = if path == "/dir" {
            Some(FileStatus {
                file_type: FileType::Directory as i32,
                name: "dir".into(),
                ..Default::default()
            })
        } else {
            state.files.get(path).map(|f| f.status.clone())
        };
        Ok(Response::new(GetFileInfoResponse { status }))
    }

    async fn get_listing(
        &self,
        request: Request<GetListingRequest>,
    ) -> Result<Response<GetListingResponse>, Status> {
        let state = self.enter(&request);
        let after = request.get_ref().start_after.clone();
        let rest: Vec<FileStatus> = state
            .listing
            .iter()
            .filter(|e| after.is_empty() || e.name.as_bytes() > after.as_bytes())
            .cloned()
            .collect();
        let page: Vec<FileStatus> = rest.iter().take(state.page_size).cloned().collect();
        Ok(Response::new(GetListingResponse {
            remaining_entries: (rest.len() - page.len()) as u32,
            entries: page,
        }))
    }

    async fn get_content_summary(
        &self,
        _: Request<GetContentSummaryRequest>,
    ) -> Result<Response<ContentSummary>, Status> {
        unimplemented("getContentSummary")
    }

    async fn get_block_locations(
        &self,
        request: Request<GetBlockLocationsRequest>,
    ) -> Result<Response<LocatedBlocks>, Status> {
        let mut state = self.enter(&request);
        let req = request.into_inner();
        state.location_calls.push(req.clone());
        let Some(file) = state.files.get(&req.path) else {
            return Err(RpcError::new(
                ErrorKind::NotFound,
                format!("File does not exist: {}", req.path),
            )
            .into());
        };
        let end = req.offset.saturating_add(req.length);
        let mut located = file.located.clone();
        located.blocks.retain(|b| {
            let len = b.block.map_or(0, |x| x.num_bytes);
            b.offset < end && req.offset < b.offset + len.max(1)
        });
        Ok(Response::new(located))
    }

    async fn mkdirs(
        &self,
        request: Request<MkdirsRequest>,
    ) -> Result<Response<MkdirsResponse>, Status> {
        let _state = self.enter(&request);
        let req = request.get_ref();
        // Echo the permission back in the answer, so a test can check it.
        Ok(Response::new(MkdirsResponse {
            created: req.permission == 0o755 && req.create_parent,
        }))
    }

    async fn create(
        &self,
        request: Request<CreateRequest>,
    ) -> Result<Response<CreateResponse>, Status> {
        let mut state = self.enter(&request);
        let req = request.into_inner();
        if state.files.contains_key(&req.path) && !req.overwrite {
            return Err(RpcError::new(
                ErrorKind::AlreadyExists,
                format!("{} for client 127.0.0.1 already exists", req.path),
            )
            .into());
        }
        let block_size = if req.block_size == 0 {
            4096
        } else {
            req.block_size
        };
        let mut status = file_status(&req.path, 0, block_size);
        status.permission = req.permission;
        status.under_construction = true;
        state.files.insert(
            req.path.clone(),
            FakeFile {
                status: status.clone(),
                located: LocatedBlocks::default(),
            },
        );
        Ok(Response::new(CreateResponse {
            status: Some(status),
        }))
    }

    async fn append(
        &self,
        request: Request<AppendRequest>,
    ) -> Result<Response<AppendResponse>, Status> {
        let state = self.enter(&request);
        let req = request.into_inner();
        let Some(file) = state.files.get(&req.path) else {
            return Err(RpcError::new(
                ErrorKind::NotFound,
                format!("File does not exist: {}", req.path),
            )
            .into());
        };
        Ok(Response::new(AppendResponse {
            status: Some(file.status.clone()),
            last_block: state.append_last_block.clone(),
            previous_generation_stamp: state
                .append_last_block
                .as_ref()
                .and_then(|b| b.block)
                .map_or(0, |b| b.generation_stamp - 1),
        }))
    }

    async fn add_block(
        &self,
        request: Request<AddBlockRequest>,
    ) -> Result<Response<LocatedBlock>, Status> {
        let mut state = self.enter(&request);
        let req = request.into_inner();
        state.add_blocks.push(req.clone());
        if state.not_replicated_yet > 0 {
            state.not_replicated_yet -= 1;
            return Err(RpcError::new(
                ErrorKind::NotReplicatedYet,
                format!("Not replicated yet: {}", req.path),
            )
            .into());
        }
        let id = state.next_block_id;
        state.next_block_id += 1;
        let locations = state
            .pipeline
            .iter()
            .filter(|n| !req.excluded_nodes.contains(&n.datanode_uuid))
            .cloned()
            .collect();
        Ok(Response::new(LocatedBlock {
            block: Some(Block {
                id,
                generation_stamp: 1,
                num_bytes: 0,
            }),
            offset: 0,
            locations,
            corrupt: false,
            corrupt_datanode_uuids: Vec::new(),
        }))
    }

    async fn abandon_block(
        &self,
        request: Request<AbandonBlockRequest>,
    ) -> Result<Response<Empty>, Status> {
        let mut state = self.enter(&request);
        if let Some(block) = request.get_ref().block {
            state.abandoned.push(block);
        }
        Ok(Response::new(Empty {}))
    }

    async fn complete(
        &self,
        request: Request<CompleteRequest>,
    ) -> Result<Response<CompleteResponse>, Status> {
        let mut state = self.enter(&request);
        state.completes.push(request.into_inner());
        let completed = state.incomplete_answers == 0;
        state.incomplete_answers = state.incomplete_answers.saturating_sub(1);
        Ok(Response::new(CompleteResponse { completed }))
    }

    async fn fsync(&self, request: Request<FsyncRequest>) -> Result<Response<Empty>, Status> {
        let mut state = self.enter(&request);
        state.fsyncs.push(request.into_inner());
        Ok(Response::new(Empty {}))
    }

    async fn renew_lease(
        &self,
        request: Request<RenewLeaseRequest>,
    ) -> Result<Response<Empty>, Status> {
        let mut state = self.enter(&request);
        state.renewals.push(request.into_inner().client_name);
        Ok(Response::new(Empty {}))
    }

    /// Hands out the next stamp: 2, 3, ... (blocks start at 1).
    async fn update_block_for_pipeline(
        &self,
        request: Request<UpdateBlockForPipelineRequest>,
    ) -> Result<Response<LocatedBlock>, Status> {
        let mut state = self.enter(&request);
        let request = request.into_inner();
        state.stamp_requests.push(request.clone());
        let generation_stamp = 1 + state.stamp_requests.len() as u64;
        Ok(Response::new(LocatedBlock {
            block: request.block.map(|b| Block {
                generation_stamp,
                ..b
            }),
            ..Default::default()
        }))
    }

    async fn update_pipeline(
        &self,
        request: Request<UpdatePipelineRequest>,
    ) -> Result<Response<Empty>, Status> {
        let mut state = self.enter(&request);
        state.pipeline_updates.push(request.into_inner());
        Ok(Response::new(Empty {}))
    }

    async fn rename(&self, _: Request<RenameRequest>) -> Result<Response<Empty>, Status> {
        unimplemented("rename")
    }

    async fn delete(&self, _: Request<DeleteRequest>) -> Result<Response<DeleteResponse>, Status> {
        unimplemented("delete")
    }

    async fn concat(&self, _: Request<ConcatRequest>) -> Result<Response<Empty>, Status> {
        unimplemented("concat")
    }

    async fn truncate(
        &self,
        _: Request<TruncateRequest>,
    ) -> Result<Response<TruncateResponse>, Status> {
        unimplemented("truncate")
    }

    async fn create_symlink(
        &self,
        _: Request<CreateSymlinkRequest>,
    ) -> Result<Response<Empty>, Status> {
        unimplemented("createSymlink")
    }

    async fn set_permission(
        &self,
        _: Request<SetPermissionRequest>,
    ) -> Result<Response<Empty>, Status> {
        unimplemented("setPermission")
    }

    async fn set_owner(&self, _: Request<SetOwnerRequest>) -> Result<Response<Empty>, Status> {
        unimplemented("setOwner")
    }

    async fn set_times(&self, _: Request<SetTimesRequest>) -> Result<Response<Empty>, Status> {
        unimplemented("setTimes")
    }

    async fn set_replication(
        &self,
        _: Request<SetReplicationRequest>,
    ) -> Result<Response<SetReplicationResponse>, Status> {
        unimplemented("setReplication")
    }

    async fn set_x_attr(&self, _: Request<SetXAttrRequest>) -> Result<Response<Empty>, Status> {
        unimplemented("setXAttr")
    }

    async fn get_x_attrs(
        &self,
        request: Request<GetXAttrsRequest>,
    ) -> Result<Response<GetXAttrsResponse>, Status> {
        let _state = self.enter(&request);
        let req = request.into_inner();
        if req.names.iter().any(|n| n == "user.absent") {
            return Err(RpcError::new(
                ErrorKind::XAttrNotFound,
                "At least one of the attributes provided was not found.",
            )
            .into());
        }
        Ok(Response::new(GetXAttrsResponse {
            xattrs: vec![XAttr {
                name: "user.etag".into(),
                value: bytes::Bytes::from_static(b"abc"),
            }],
        }))
    }

    async fn list_x_attrs(
        &self,
        _: Request<ListXAttrsRequest>,
    ) -> Result<Response<ListXAttrsResponse>, Status> {
        unimplemented("listXAttrs")
    }

    async fn remove_x_attr(
        &self,
        _: Request<RemoveXAttrRequest>,
    ) -> Result<Response<Empty>, Status> {
        unimplemented("removeXAttr")
    }

    async fn report_bad_blocks(
        &self,
        request: Request<ReportBadBlocksRequest>,
    ) -> Result<Response<Empty>, Status> {
        let mut state = self.enter(&request);
        state.bad_blocks.extend(request.into_inner().blocks);
        Ok(Response::new(Empty {}))
    }

    async fn get_fs_stats(
        &self,
        _: Request<GetFsStatsRequest>,
    ) -> Result<Response<FsStats>, Status> {
        unimplemented("getFsStats")
    }

    async fn get_datanode_report(
        &self,
        _: Request<GetDatanodeReportRequest>,
    ) -> Result<Response<GetDatanodeReportResponse>, Status> {
        unimplemented("getDatanodeReport")
    }

    async fn set_safe_mode(
        &self,
        _: Request<SetSafeModeRequest>,
    ) -> Result<Response<SetSafeModeResponse>, Status> {
        Err(RpcError::new(
            ErrorKind::SafeMode,
            "Cannot leave safe mode: the fake namenode has no blocks",
        )
        .into())
    }

    async fn set_datanode_admin_state(
        &self,
        request: Request<cairn_proto::pb::SetDatanodeAdminStateRequest>,
    ) -> Result<Response<cairn_proto::pb::SetDatanodeAdminStateResponse>, Status> {
        Err(RpcError::new(
            ErrorKind::NotFound,
            format!(
                "Datanode {} is not known to the namenode (the fake namenode has none)",
                request.into_inner().datanode
            ),
        )
        .into())
    }
}
