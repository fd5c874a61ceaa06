//! ClientProtocol over gRPC. Each handler: who is calling (the
//! `cairn-user` metadata), one pass under the namesystem lock, then — for
//! mutations — the wait for the edit log fsync, outside the lock.

use std::sync::Arc;
use std::time::Duration;

use cairn_proto::pb;
use cairn_proto::pb::client_protocol_server::ClientProtocol;
use cairn_proto::rpc_metrics::RpcMetrics;
use cairn_proto::{ErrorKind, RpcError};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::error::Result;
use crate::namespace::ops::complete::CompleteOutcome;
use crate::namespace::permission::PermissionChecker;
use crate::namesystem::{FsNamesystem, Namesystem};

/// How long `complete` waits for replicas before answering false.
const COMPLETE_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct ClientProtocolService {
    fs: Arc<FsNamesystem>,
    /// Becomes true when the server stops: `Call` streams then end.
    stopping: Option<watch::Receiver<bool>>,
    /// Where the calls on `Call` streams are counted, by method.
    metrics: Option<RpcMetrics>,
}

impl ClientProtocolService {
    pub fn new(fs: Arc<FsNamesystem>) -> Self {
        Self {
            fs,
            stopping: None,
            metrics: None,
        }
    }

    /// Counts each call on a `Call` stream in `metrics` as the unary rpc
    /// of its name (the server's layer sees a stream as one call).
    pub fn with_metrics(mut self, metrics: RpcMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Ends every `Call` stream once `stopping` turns true, so open client
    /// connections do not hold up the server's graceful shutdown.
    pub fn stopping_with(mut self, stopping: watch::Receiver<bool>) -> Self {
        self.stopping = Some(stopping);
        self
    }

    /// Runs a mutation under the write lock, then waits for its txid.
    async fn mutate<T>(
        &self,
        f: impl FnOnce(&mut Namesystem) -> Result<(T, u64)>,
    ) -> Result<T, Status> {
        let (out, txid) = {
            let mut ns = self.fs.state.write();
            f(&mut ns)?
        };
        self.fs.sync(txid).await?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Namesystem) -> Result<T>) -> Result<T, Status> {
        let ns = self.fs.state.read();
        Ok(f(&ns)?)
    }
}

/// The calling user, or PERMISSION_DENIED.
fn caller<T>(request: &Request<T>) -> Result<String, Status> {
    cairn_proto::identity::user_of(request)
        .map(str::to_string)
        .ok_or_else(|| {
            RpcError::new(ErrorKind::PermissionDenied, "no user named in the request").into()
        })
}

/// The client's host as the namenode sees it (HDFS's clientMachine).
fn machine<T>(request: &Request<T>) -> String {
    cairn_proto::identity::remote_addr_of(request)
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

fn checker(ns: &Namesystem, user: &str) -> PermissionChecker {
    ns.checker(user)
}

#[tonic::async_trait]
impl ClientProtocol for ClientProtocolService {
    type CallStream = cairn_proto::ipc::Answers;

    /// Many calls over one stream (`cairn_proto::ipc`), each answered by
    /// the handler of its unary rpc below.
    async fn call(
        &self,
        request: Request<tonic::Streaming<pb::CallBatch>>,
    ) -> Result<Response<Self::CallStream>, Status> {
        let stopping = self.stopping.clone();
        let closing = async move {
            match stopping {
                Some(mut stopping) => {
                    let _ = stopping.wait_for(|stop| *stop).await;
                }
                None => std::future::pending().await,
            }
        };
        Ok(Response::new(cairn_proto::ipc::serve(
            Arc::new(self.clone()),
            request,
            closing,
            self.metrics.clone(),
        )))
    }

    async fn get_server_defaults(
        &self,
        _request: Request<pb::GetServerDefaultsRequest>,
    ) -> Result<Response<pb::ServerDefaults>, Status> {
        let ns = self.fs.state.read();
        Ok(Response::new(pb::ServerDefaults {
            block_size: self.fs.config.default_block_size,
            bytes_per_checksum: cairn_proto::BYTES_PER_CHECKSUM as u32,
            write_packet_size: 64 * 1024,
            replication: self.fs.config.default_replication,
            lease_soft_limit_ms: u64::try_from(self.fs.config.lease_soft_limit.as_millis())
                .unwrap_or(u64::MAX),
            cluster_id: ns.cluster_id.clone(),
        }))
    }

    async fn get_file_info(
        &self,
        request: Request<pb::GetFileInfoRequest>,
    ) -> Result<Response<pb::GetFileInfoResponse>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        let status = self.read(|ns| ns.get_file_info(&checker(ns, &user), &req))?;
        Ok(Response::new(pb::GetFileInfoResponse { status }))
    }

    async fn get_listing(
        &self,
        request: Request<pb::GetListingRequest>,
    ) -> Result<Response<pb::GetListingResponse>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        Ok(Response::new(
            self.read(|ns| ns.get_listing(&checker(ns, &user), &req))?,
        ))
    }

    async fn get_content_summary(
        &self,
        request: Request<pb::GetContentSummaryRequest>,
    ) -> Result<Response<pb::ContentSummary>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        Ok(Response::new(self.read(|ns| {
            ns.get_content_summary(&checker(ns, &user), &req.path)
        })?))
    }

    async fn get_block_locations(
        &self,
        request: Request<pb::GetBlockLocationsRequest>,
    ) -> Result<Response<pb::LocatedBlocks>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        Ok(Response::new(self.read(|ns| {
            ns.get_block_locations(&checker(ns, &user), &req)
        })?))
    }

    async fn mkdirs(
        &self,
        request: Request<pb::MkdirsRequest>,
    ) -> Result<Response<pb::MkdirsResponse>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        let created = self
            .mutate(|ns| ns.mkdirs(&checker(ns, &user), &req))
            .await?;
        Ok(Response::new(pb::MkdirsResponse { created }))
    }

    async fn create(
        &self,
        request: Request<pb::CreateRequest>,
    ) -> Result<Response<pb::CreateResponse>, Status> {
        let user = caller(&request)?;
        let host = machine(&request);
        let req = request.into_inner();
        let status = self
            .mutate(|ns| ns.create(&checker(ns, &user), &req, &host))
            .await?;
        Ok(Response::new(pb::CreateResponse {
            status: Some(status),
        }))
    }

    async fn append(
        &self,
        request: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        let user = caller(&request)?;
        let host = machine(&request);
        let req = request.into_inner();
        Ok(Response::new(
            self.mutate(|ns| ns.append(&checker(ns, &user), &req, &host))
                .await?,
        ))
    }

    async fn add_block(
        &self,
        request: Request<pb::AddBlockRequest>,
    ) -> Result<Response<pb::LocatedBlock>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        Ok(Response::new(self.mutate(|ns| ns.add_block(&req)).await?))
    }

    async fn abandon_block(
        &self,
        request: Request<pb::AbandonBlockRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.abandon_block(&req).map(|t| ((), t)))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn complete(
        &self,
        request: Request<pb::CompleteRequest>,
    ) -> Result<Response<pb::CompleteResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let deadline = tokio::time::Instant::now() + COMPLETE_WAIT;
        loop {
            // Registered before looking, so a report in between is not missed.
            let notified = self.fs.block_received.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let outcome = {
                let mut ns = self.fs.state.write();
                ns.complete(&req)?
            };
            match outcome {
                CompleteOutcome::Closed(txid) => {
                    self.fs.sync(txid).await?;
                    return Ok(Response::new(pb::CompleteResponse { completed: true }));
                }
                CompleteOutcome::NotYet => {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return Ok(Response::new(pb::CompleteResponse { completed: false }));
                    }
                }
            }
        }
    }

    async fn fsync(
        &self,
        request: Request<pb::FsyncRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.fsync(&req).map(|t| ((), t))).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn renew_lease(
        &self,
        request: Request<pb::RenewLeaseRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let mut ns = self.fs.state.write();
        ns.leases.renew(&req.client_name, std::time::Instant::now());
        Ok(Response::new(pb::Empty {}))
    }

    async fn update_block_for_pipeline(
        &self,
        request: Request<pb::UpdateBlockForPipelineRequest>,
    ) -> Result<Response<pb::LocatedBlock>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        Ok(Response::new(
            self.mutate(|ns| ns.update_block_for_pipeline(&req)).await?,
        ))
    }

    async fn update_pipeline(
        &self,
        request: Request<pb::UpdatePipelineRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.update_pipeline(&req).map(|t| ((), t)))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn rename(
        &self,
        request: Request<pb::RenameRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.rename(&checker(ns, &user), &req).map(|t| ((), t)))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        let deleted = self
            .mutate(|ns| ns.delete(&checker(ns, &user), &req))
            .await?;
        Ok(Response::new(pb::DeleteResponse { deleted }))
    }

    async fn concat(
        &self,
        request: Request<pb::ConcatRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.concat(&checker(ns, &user), &req).map(|t| ((), t)))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn truncate(
        &self,
        request: Request<pb::TruncateRequest>,
    ) -> Result<Response<pb::TruncateResponse>, Status> {
        let user = caller(&request)?;
        let host = machine(&request);
        let req = request.into_inner();
        let done = self
            .mutate(|ns| ns.truncate(&checker(ns, &user), &req, &host))
            .await?;
        Ok(Response::new(pb::TruncateResponse { done }))
    }

    async fn create_symlink(
        &self,
        request: Request<pb::CreateSymlinkRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| {
            ns.create_symlink(&checker(ns, &user), &req)
                .map(|t| ((), t))
        })
        .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn set_permission(
        &self,
        request: Request<pb::SetPermissionRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| {
            ns.set_permission(&checker(ns, &user), &req)
                .map(|t| ((), t))
        })
        .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn set_owner(
        &self,
        request: Request<pb::SetOwnerRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.set_owner(&checker(ns, &user), &req).map(|t| ((), t)))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn set_times(
        &self,
        request: Request<pb::SetTimesRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.set_times(&checker(ns, &user), &req).map(|t| ((), t)))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn set_replication(
        &self,
        request: Request<pb::SetReplicationRequest>,
    ) -> Result<Response<pb::SetReplicationResponse>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        let changed = self
            .mutate(|ns| ns.set_replication(&checker(ns, &user), &req))
            .await?;
        Ok(Response::new(pb::SetReplicationResponse { changed }))
    }

    async fn set_x_attr(
        &self,
        request: Request<pb::SetXAttrRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.set_xattr(&checker(ns, &user), &req).map(|t| ((), t)))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn get_x_attrs(
        &self,
        request: Request<pb::GetXAttrsRequest>,
    ) -> Result<Response<pb::GetXAttrsResponse>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        let xattrs = self.read(|ns| ns.get_xattrs(&checker(ns, &user), &req))?;
        Ok(Response::new(pb::GetXAttrsResponse { xattrs }))
    }

    async fn list_x_attrs(
        &self,
        request: Request<pb::ListXAttrsRequest>,
    ) -> Result<Response<pb::ListXAttrsResponse>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        let names = self.read(|ns| ns.list_xattrs(&checker(ns, &user), &req))?;
        Ok(Response::new(pb::ListXAttrsResponse { names }))
    }

    async fn remove_x_attr(
        &self,
        request: Request<pb::RemoveXAttrRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        self.mutate(|ns| ns.remove_xattr(&checker(ns, &user), &req).map(|t| ((), t)))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn report_bad_blocks(
        &self,
        request: Request<pb::ReportBadBlocksRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        self.fs.state.write().client_report_bad_blocks(&req.blocks);
        Ok(Response::new(pb::Empty {}))
    }

    async fn get_fs_stats(
        &self,
        request: Request<pb::GetFsStatsRequest>,
    ) -> Result<Response<pb::FsStats>, Status> {
        caller(&request)?;
        Ok(Response::new(self.fs.state.read().fs_stats()))
    }

    async fn get_datanode_report(
        &self,
        request: Request<pb::GetDatanodeReportRequest>,
    ) -> Result<Response<pb::GetDatanodeReportResponse>, Status> {
        caller(&request)?;
        let kind = request.into_inner().report_type();
        let datanodes = self.fs.state.read().datanode_report(kind);
        Ok(Response::new(pb::GetDatanodeReportResponse { datanodes }))
    }

    async fn set_safe_mode(
        &self,
        request: Request<pb::SetSafeModeRequest>,
    ) -> Result<Response<pb::SetSafeModeResponse>, Status> {
        let user = caller(&request)?;
        let action = request.into_inner().action();
        let mut ns = self.fs.state.write();
        if action != pb::SafeModeAction::SafemodeGet && !ns.checker(&user).is_superuser() {
            return Err(RpcError::new(
                ErrorKind::PermissionDenied,
                format!("Access denied for user {user}. Superuser privilege is required"),
            )
            .into());
        }
        Ok(Response::new(ns.set_safe_mode(action)))
    }

    async fn set_datanode_admin_state(
        &self,
        request: Request<pb::SetDatanodeAdminStateRequest>,
    ) -> Result<Response<pb::SetDatanodeAdminStateResponse>, Status> {
        let user = caller(&request)?;
        let req = request.into_inner();
        let action = req.action();
        let mut ns = self.fs.state.write();
        if !ns.checker(&user).is_superuser() {
            return Err(RpcError::new(
                ErrorKind::PermissionDenied,
                format!("Access denied for user {user}. Superuser privilege is required"),
            )
            .into());
        }
        let datanode = ns.set_datanode_admin_state(req.datanode.trim(), action)?;
        Ok(Response::new(pb::SetDatanodeAdminStateResponse {
            datanode: Some(datanode),
        }))
    }
}
