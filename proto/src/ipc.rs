//! Hadoop IPC's design carried over gRPC: ClientProtocol calls multiplexed
//! over one long-lived `Call` stream per client connection, each call
//! tagged with a call id (HDFS's `RpcRequestHeaderProto.callId`).
//!
//! A unary gRPC call pays for its own HTTP/2 HEADERS and trailers, hyper's
//! per-request task and tonic's per-call body machinery: 48–70 µs of CPU
//! for a namenode read whose handler takes 1–2 µs (BENCHMARKS.md, session
//! 5). A message on an open stream pays for none of these, and many share
//! one socket write. Calls travel in batches (`CallBatch`, `AnswerBatch`):
//! whatever is queued when the connection takes its next message goes as
//! one, so a busy stream pays one decode, one frame and one wake per batch
//! rather than per call, and an idle one sends a lone call at once.
//!
//! [`for_each_client_call!`] lists every rpc the stream carries, once, for
//! the client library and [`serve`] to expand; [`pb::CallError`] carries a
//! failed call's status exactly as [`crate::RpcError`] puts it in a
//! `tonic::Status`.
//!
//! [`serve`] is the namenode's end: each call of a batch is answered by
//! the same handler as the unary rpc of the same name, with the same
//! identity and permission checks, and its answer goes back tagged with
//! the call's id. Handlers that never wait (reads, lease renewal,
//! reports) run on the stream's own task, one after another, which costs
//! no task switch, and their answers are queued for the socket a chunk
//! at a time ([`CHUNK_CALLS`]); those that wait on the edit
//! log's fsync or on replicas each get a task of their own, so a create
//! waiting for its fsync does not hold up the reads behind it, and many
//! creates share one fsync (group commit).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt};
use tonic::metadata::MetadataValue;
use tonic::transport::server::TcpConnectInfo;
use tonic::{Request, Status};

use crate::error::{ERROR_CODE_METADATA, error_code};
use crate::pb;
use crate::pb::call_request::Request as Call;
use crate::pb::call_response::Response as Answer;
use crate::pb::client_protocol_server::ClientProtocol;
use crate::rpc_metrics::{PathSeries, RpcMetrics};
use crate::{ErrorKind, RpcError};

/// Expands `$apply!` with one `(method, Variant, Request, Response, how)`
/// tuple per ClientProtocol rpc: the generated client's method name, the
/// `oneof` variant of [`pb::call_request::Request`] and
/// [`pb::call_response::Response`], the message types, and `inline` for
/// handlers that never wait (the namenode answers them on the stream's own
/// task) or `spawn` for those that wait on the edit log's fsync or on
/// replicas (the namenode gives each its own task, so they do not stall
/// the stream).
#[macro_export]
macro_rules! for_each_client_call {
    ($apply:ident) => {
        $apply! {
            (get_server_defaults, GetServerDefaults, GetServerDefaultsRequest, ServerDefaults, inline),
            (get_file_info, GetFileInfo, GetFileInfoRequest, GetFileInfoResponse, inline),
            (get_listing, GetListing, GetListingRequest, GetListingResponse, inline),
            (get_content_summary, GetContentSummary, GetContentSummaryRequest, ContentSummary, inline),
            (get_block_locations, GetBlockLocations, GetBlockLocationsRequest, LocatedBlocks, inline),
            (mkdirs, Mkdirs, MkdirsRequest, MkdirsResponse, spawn),
            (create, Create, CreateRequest, CreateResponse, spawn),
            (append, Append, AppendRequest, AppendResponse, spawn),
            (add_block, AddBlock, AddBlockRequest, LocatedBlock, spawn),
            (abandon_block, AbandonBlock, AbandonBlockRequest, Empty, spawn),
            (complete, Complete, CompleteRequest, CompleteResponse, spawn),
            (fsync, Fsync, FsyncRequest, Empty, spawn),
            (renew_lease, RenewLease, RenewLeaseRequest, Empty, inline),
            (update_block_for_pipeline, UpdateBlockForPipeline, UpdateBlockForPipelineRequest, LocatedBlock, spawn),
            (update_pipeline, UpdatePipeline, UpdatePipelineRequest, Empty, spawn),
            (rename, Rename, RenameRequest, Empty, spawn),
            (delete, Delete, DeleteRequest, DeleteResponse, spawn),
            (concat, Concat, ConcatRequest, Empty, spawn),
            (truncate, Truncate, TruncateRequest, TruncateResponse, spawn),
            (create_symlink, CreateSymlink, CreateSymlinkRequest, Empty, spawn),
            (set_permission, SetPermission, SetPermissionRequest, Empty, spawn),
            (set_owner, SetOwner, SetOwnerRequest, Empty, spawn),
            (set_times, SetTimes, SetTimesRequest, Empty, spawn),
            (set_replication, SetReplication, SetReplicationRequest, SetReplicationResponse, spawn),
            (set_x_attr, SetXAttr, SetXAttrRequest, Empty, spawn),
            (get_x_attrs, GetXAttrs, GetXAttrsRequest, GetXAttrsResponse, inline),
            (list_x_attrs, ListXAttrs, ListXAttrsRequest, ListXAttrsResponse, inline),
            (remove_x_attr, RemoveXAttr, RemoveXAttrRequest, Empty, spawn),
            (report_bad_blocks, ReportBadBlocks, ReportBadBlocksRequest, Empty, inline),
            (get_fs_stats, GetFsStats, GetFsStatsRequest, FsStats, inline),
            (get_datanode_report, GetDatanodeReport, GetDatanodeReportRequest, GetDatanodeReportResponse, inline),
            (set_safe_mode, SetSafeMode, SetSafeModeRequest, SetSafeModeResponse, inline),
            (set_datanode_admin_state, SetDatanodeAdminState, SetDatanodeAdminStateRequest, SetDatanodeAdminStateResponse, inline),
        }
    };
}

impl From<tonic::Status> for pb::CallError {
    /// The status's code, message and `cairn-error-code` metadata.
    fn from(status: tonic::Status) -> Self {
        let code = error_code(&status).unwrap_or(pb::ErrorCode::Unspecified);
        Self {
            grpc_code: status.code() as i32,
            message: status.message().to_string(),
            code: code as i32,
        }
    }
}

impl From<pb::CallError> for tonic::Status {
    /// The status a unary call would have failed with, so
    /// `RpcError::from` finds the same kind in it.
    fn from(error: pb::CallError) -> Self {
        let mut status = tonic::Status::new(tonic::Code::from_i32(error.grpc_code), error.message);
        if error.code != pb::ErrorCode::Unspecified as i32 {
            status
                .metadata_mut()
                .insert(ERROR_CODE_METADATA, MetadataValue::from(error.code));
        }
        status
    }
}

impl pb::CallResponse {
    /// The answer to call `call_id` that failed with `status`.
    pub fn failed(call_id: u64, status: tonic::Status) -> Self {
        Self {
            call_id,
            response: Some(pb::call_response::Response::Error(Box::new(status.into()))),
        }
    }
}

/// Answer chunks waiting for the socket. When the client reads slower
/// than the namenode answers, the stream's task (and each spawned handler)
/// waits here rather than buffer without bound.
const ANSWER_QUEUE: usize = 256;

/// An answer batch is closed once its answers' encoded size reaches this,
/// so a batch of large answers (listings, block locations) is not one
/// huge message the client must take in whole.
const BATCH_BYTES: usize = 1024 * 1024;

/// The most answers one batch carries (a chunk is never split, so one
/// batch may carry a chunk's worth more).
const BATCH_ANSWERS: usize = 256;

type AnswerSender = mpsc::Sender<Result<Chunk, Status>>;

/// Answers queued together: up to [`CHUNK_CALLS`] of a run of inline
/// calls, or a spawned handler's one. A busy stream pays one send and at
/// most one wake of the connection's writer per chunk rather than per
/// call, and a chunk's answers leave in one socket write.
#[derive(Default)]
struct Chunk {
    answers: Vec<pb::CallResponse>,
    /// Their encoded size.
    bytes: usize,
}

impl Chunk {
    fn push(&mut self, answer: pb::CallResponse) {
        self.bytes += prost::Message::encoded_len(&answer);
        self.answers.push(answer);
    }

    fn of(answer: pb::CallResponse) -> Chunk {
        let mut chunk = Chunk::default();
        chunk.push(answer);
        chunk
    }
}

/// The answers of one stream, in batches of those ready together: when the
/// connection takes the next message it gets every answer queued since the
/// last one, so the namenode answers as soon as the socket is free and
/// batches grow only while it is busy (no timer, no waiting for company).
pub struct Answers {
    queued: mpsc::Receiver<Result<Chunk, Status>>,
    /// A chunk that did not fit the last batch, the next one's first.
    held: Option<Chunk>,
    /// The error that ended the stream, found behind a batch's answers.
    failed: Option<Status>,
}

impl Stream for Answers {
    type Item = Result<pb::AnswerBatch, Status>;

    /// The answers ready now as one batch; ends once the stream's task and
    /// every spawned handler have finished.
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut *self;
        if let Some(status) = this.failed.take() {
            return Poll::Ready(Some(Err(status)));
        }
        let mut batch = this.held.take().unwrap_or_default();
        let mut ended = false;
        while batch.answers.len() < BATCH_ANSWERS && batch.bytes < BATCH_BYTES {
            match this.queued.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) if batch.answers.is_empty() => batch = chunk,
                Poll::Ready(Some(Ok(chunk))) if batch.bytes + chunk.bytes > BATCH_BYTES => {
                    this.held = Some(chunk);
                    break;
                }
                Poll::Ready(Some(Ok(mut chunk))) => {
                    batch.answers.append(&mut chunk.answers);
                    batch.bytes += chunk.bytes;
                }
                Poll::Ready(Some(Err(status))) if batch.answers.is_empty() => {
                    return Poll::Ready(Some(Err(status)));
                }
                Poll::Ready(Some(Err(status))) => {
                    this.failed = Some(status);
                    break;
                }
                Poll::Ready(None) => {
                    ended = true;
                    break;
                }
                // Registered to wake this task when the next comes.
                Poll::Pending => break,
            }
        }
        if !batch.answers.is_empty() {
            Poll::Ready(Some(Ok(pb::AnswerBatch {
                answers: batch.answers,
            })))
        } else if ended {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

/// Who made a call on a `Call` stream and from where: the request
/// extension its handler finds in place of the metadata and the connection
/// details a unary call carries ([`crate::identity::user_of`],
/// [`crate::identity::remote_addr_of`]). One small value instead of a
/// header map and a copy of the connection's details per call; only the
/// server inserts extensions, so a client cannot forge it.
#[derive(Clone, Debug)]
pub struct StreamCaller {
    /// `None` when the call named no usable user (empty, or not a name a
    /// unary call could carry in metadata): the handler refuses it as it
    /// refuses a unary call naming no user.
    user: Option<Arc<str>>,
    remote: Option<std::net::SocketAddr>,
}

impl StreamCaller {
    /// The user the call is made for, if it named a usable one.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The client's address (the stream's peer).
    pub fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        self.remote
    }
}

/// Where the stream came from, given to every call on it as a unary call
/// gets it from its own request (the client's host for block placement).
struct Origin {
    remote: Option<std::net::SocketAddr>,
    /// The server's RPC metrics, if it keeps them.
    metrics: Option<RpcMetrics>,
}

/// What a stream's task keeps between calls: the last caller's name, and
/// the metrics series of the paths called so far (a stream calls few), so
/// a call neither re-checks a name nor looks its series up in the shared
/// map.
#[derive(Default)]
struct StreamState {
    users: LastCaller,
    series: Vec<(&'static str, PathSeries)>,
}

impl StreamState {
    /// The series of `path` (one of [`path_of!`]'s), if metrics are kept.
    fn series(&mut self, origin: &Origin, path: &'static str) -> Option<&PathSeries> {
        let metrics = origin.metrics.as_ref()?;
        let at = match self.series.iter().position(|(p, _)| *p == path) {
            Some(at) => at,
            None => {
                self.series.push((path, metrics.path_series(path)));
                self.series.len() - 1
            }
        };
        self.series.get(at).map(|(_, series)| series)
    }

    /// Counts one call of `path` that took since `started`.
    fn record<T>(
        &mut self,
        origin: &Origin,
        path: &'static str,
        started: Instant,
        result: &Result<T, Status>,
    ) {
        if let Some(series) = self.series(origin, path) {
            record(series, started, result);
        }
    }
}

/// Counts one call in `series` that took since `started`.
fn record<T>(series: &PathSeries, started: Instant, result: &Result<T, Status>) {
    let code = result
        .as_ref()
        .map_or_else(Status::code, |_| tonic::Code::Ok);
    series.record(code, started.elapsed().as_secs_f64());
}

impl Origin {
    /// A request of `user` from this origin, as its handler expects it.
    fn request<T>(&self, users: &mut LastCaller, user: &str, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.extensions_mut().insert(StreamCaller {
            user: users.name(user),
            remote: self.remote,
        });
        request
    }
}

/// The user named by the stream's last call. A stream's calls nearly
/// always come from one user (a process calls as itself; only the mount's
/// callers differ), so the name is checked and copied once, not for every
/// call.
#[derive(Default)]
struct LastCaller {
    name: String,
    usable: Option<Arc<str>>,
}

impl LastCaller {
    /// `user`, shared, or `None` if a unary call could not name it (empty,
    /// or not visible ASCII, which metadata cannot carry).
    fn name(&mut self, user: &str) -> Option<Arc<str>> {
        if self.name != user || self.name.is_empty() {
            self.name.clear();
            self.name.push_str(user);
            let usable =
                !user.is_empty() && MetadataValue::<tonic::metadata::Ascii>::try_from(user).is_ok();
            self.usable = usable.then(|| Arc::from(user));
        }
        self.usable.clone()
    }
}

/// Serves the calls arriving on `request`'s stream with `service`'s
/// handlers (the namenode's, or a test double's); returns the stream of
/// their answers, each call counted in `metrics` as the unary rpc of its
/// name would be. A batch's inline handlers run one after another and
/// their answers go back a chunk at a time. Once `closing` completes (the
/// server is stopping) no new batch is read, and the answers end after
/// those in progress, so a stream does not hold up a graceful shutdown;
/// the client's next call finds the stream ended and reconnects.
pub fn serve<S, C>(
    service: Arc<S>,
    request: Request<C>,
    closing: impl Future<Output = ()> + Send + 'static,
    metrics: Option<RpcMetrics>,
) -> Answers
where
    S: ClientProtocol,
    C: Stream<Item = Result<pb::CallBatch, Status>> + Send + Unpin + 'static,
{
    let origin = Origin {
        remote: request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr),
        metrics,
    };
    let mut calls = request.into_inner();
    let (answers, queued) = mpsc::channel(ANSWER_QUEUE);
    tokio::spawn(async move {
        tokio::pin!(closing);
        let mut state = StreamState::default();
        loop {
            let message = tokio::select! {
                message = calls.next() => message.transpose(),
                () = &mut closing => break,
            };
            match message {
                Ok(Some(batch)) => {
                    if !serve_calls(&service, &origin, &mut state, batch.calls, &answers).await {
                        break;
                    }
                }
                Ok(None) => break,
                Err(status) => {
                    // A message that does not decode, or the connection
                    // broke: the stream ends, and the client opens another.
                    tracing::debug!(%status, "call stream ended");
                    let _ = answers.send(Err(status)).await;
                    break;
                }
            }
        }
    });
    Answers {
        queued,
        held: None,
        failed: None,
    }
}

/// A run of inline calls sends its answers on after this many, and lets
/// the connection write them before it goes on: the client's callers
/// then make their next calls while the rest of the run is answered,
/// rather than all of a batch's calls travelling back and forth in step
/// (each side idle while the other works).
const CHUNK_CALLS: usize = 32;

/// Runs `calls` one after another, the inline ones' answers queued
/// together in chunks of at most [`CHUNK_CALLS`] answers or
/// [`BATCH_BYTES`]; false once the client has stopped reading.
async fn serve_calls<S: ClientProtocol>(
    service: &Arc<S>,
    origin: &Origin,
    state: &mut StreamState,
    calls: Vec<pb::CallRequest>,
    answers: &AnswerSender,
) -> bool {
    let mut ready = Chunk::default();
    for call in calls {
        dispatch(service, origin, state, call, &mut ready, answers).await;
        if ready.answers.len() >= CHUNK_CALLS || ready.bytes >= BATCH_BYTES {
            if answers.send(Ok(std::mem::take(&mut ready))).await.is_err() {
                return false;
            }
            // On a reader's one thread, the connection's writer runs only
            // when this task yields.
            tokio::task::yield_now().await;
        }
    }
    ready.answers.is_empty() || answers.send(Ok(ready)).await.is_ok()
}

/// The answer to call `call_id` of a handler's result.
fn answer_of<T>(
    call_id: u64,
    result: Result<tonic::Response<T>, Status>,
    variant: impl FnOnce(T) -> Answer,
) -> pb::CallResponse {
    match result {
        Ok(response) => pb::CallResponse {
            call_id,
            response: Some(variant(response.into_inner())),
        },
        Err(status) => pb::CallResponse::failed(call_id, status),
    }
}

/// The unary rpc's path, under which its calls are counted.
macro_rules! path_of {
    ($variant:ident) => {
        concat!("/cairn.ClientProtocol/", stringify!($variant))
    };
}

/// Runs one call's handler inline or on a task of its own (see the module
/// comment), queueing its answer.
macro_rules! run_call {
    (inline, $service:ident, $origin:ident, $state:ident, $ready:ident, $answers:ident, $call_id:ident, $method:ident, $variant:ident, $request:ident) => {{
        let started = Instant::now();
        let result = $service.$method($request).await;
        $state.record($origin, path_of!($variant), started, &result);
        $ready.push(answer_of($call_id, result, |r| {
            Answer::$variant(Box::new(r))
        }));
    }};
    (spawn, $service:ident, $origin:ident, $state:ident, $ready:ident, $answers:ident, $call_id:ident, $method:ident, $variant:ident, $request:ident) => {{
        let series = $state.series($origin, path_of!($variant)).cloned();
        let (service, answers) = (Arc::clone($service), $answers.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let result = service.$method($request).await;
            if let Some(series) = &series {
                record(series, started, &result);
            }
            let answer = answer_of($call_id, result, |r| Answer::$variant(Box::new(r)));
            // Fails only when the client has gone.
            let _ = answers.send(Ok(Chunk::of(answer))).await;
        });
    }};
}

/// `dispatch`: one arm per rpc of `cairn_proto::for_each_client_call!`.
macro_rules! dispatch_calls {
    ($(($method:ident, $variant:ident, $request:ident, $response:ident, $how:ident)),* $(,)?) => {
        /// Answers one call: inline, into `ready`; on a task of its own,
        /// straight into `answers`.
        async fn dispatch<S: ClientProtocol>(
            service: &Arc<S>,
            origin: &Origin,
            state: &mut StreamState,
            call: pb::CallRequest,
            ready: &mut Chunk,
            answers: &AnswerSender,
        ) {
            let call_id = call.call_id;
            let Some(request) = call.request else {
                let refused = RpcError::new(
                    ErrorKind::InvalidArgument,
                    format!("call {call_id} names no operation this namenode knows"),
                );
                ready.push(pb::CallResponse::failed(call_id, refused.into()));
                return;
            };
            match request {
                $(Call::$variant(message) => {
                    let request = origin.request(&mut state.users, &call.user, *message);
                    run_call!($how, service, origin, state, ready, answers, call_id, $method, $variant, request)
                })*
            }
        }
    };
}

for_each_client_call!(dispatch_calls);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, RpcError};

    #[test]
    fn an_error_keeps_its_kind_and_message_across_the_stream() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::PermissionDenied,
            ErrorKind::SafeMode,
            ErrorKind::LeaseConflict,
            ErrorKind::NotReplicatedYet,
        ] {
            let status: tonic::Status = RpcError::new(kind, "`/a': boom").into();
            let grpc = status.code();
            let carried = pb::CallError::from(status);
            let back = tonic::Status::from(carried);
            assert_eq!(back.code(), grpc);
            let back = RpcError::from(back);
            assert_eq!(back.kind, kind);
            assert_eq!(back.message, "`/a': boom");
        }
    }

    #[test]
    fn each_call_carries_its_own_callers_name() {
        let mut users = LastCaller::default();
        for user in ["alice", "alice", "bob", "alice"] {
            assert_eq!(users.name(user).as_deref(), Some(user));
        }
        // A name that cannot be metadata is none, and the next call's
        // good name is not mistaken for it.
        assert!(users.name("not\nascii").is_none());
        assert!(users.name("not\nascii").is_none());
        assert!(users.name("").is_none());
        assert_eq!(users.name("bob").as_deref(), Some("bob"));
    }

    #[test]
    fn a_stream_call_names_its_user_and_peer_to_the_handler() {
        let origin = Origin {
            remote: Some(([10, 0, 0, 7], 4242).into()),
            metrics: None,
        };
        let mut users = LastCaller::default();
        let request = origin.request(&mut users, "carol", ());
        assert_eq!(crate::identity::user_of(&request), Some("carol"));
        assert_eq!(
            crate::identity::remote_addr_of(&request),
            Some(([10, 0, 0, 7], 4242).into())
        );
        // A name no unary call could carry names nobody, even if the
        // request's metadata says otherwise.
        let mut request = origin.request(&mut users, "bad\nname", ());
        request
            .metadata_mut()
            .insert(crate::identity::USER_METADATA, "mallory".parse().unwrap());
        assert_eq!(crate::identity::user_of(&request), None);
    }

    #[test]
    fn a_streams_calls_are_counted_as_their_unary_rpcs() {
        let metrics = RpcMetrics::default();
        let origin = Origin {
            remote: None,
            metrics: Some(metrics.clone()),
        };
        let mut state = StreamState::default();
        let ok: Result<(), Status> = Ok(());
        let denied: Result<(), Status> = Err(Status::permission_denied("no"));
        for result in [&ok, &ok, &denied] {
            state.record(&origin, path_of!(GetFileInfo), Instant::now(), result);
        }
        state.record(&origin, path_of!(Mkdirs), Instant::now(), &ok);
        assert_eq!(metrics.calls_of("ClientProtocol", "GetFileInfo", "0"), 2);
        assert_eq!(metrics.calls_of("ClientProtocol", "GetFileInfo", "7"), 1);
        assert_eq!(metrics.calls_of("ClientProtocol", "Mkdirs", "0"), 1);
        assert_eq!(state.series.len(), 2);
    }

    /// A chunk of `count` answers, each of about `bytes` encoded bytes.
    fn chunk(first_id: u64, count: u64, bytes: usize) -> Chunk {
        let mut chunk = Chunk::default();
        for call_id in first_id..first_id + count {
            chunk.push(pb::CallResponse::failed(
                call_id,
                Status::not_found("x".repeat(bytes)),
            ));
        }
        chunk
    }

    fn ids(batch: &pb::AnswerBatch) -> Vec<u64> {
        batch.answers.iter().map(|a| a.call_id).collect()
    }

    #[tokio::test]
    async fn chunks_ready_together_leave_as_one_batch_within_its_byte_bound() {
        let (sender, queued) = mpsc::channel(ANSWER_QUEUE);
        let mut answers = Answers {
            queued,
            held: None,
            failed: None,
        };
        // Two small chunks and a spawned handler's lone answer: one batch.
        for (first, count) in [(1, 3), (4, 2), (6, 1)] {
            sender.send(Ok(chunk(first, count, 10))).await.unwrap();
        }
        let batch = answers.next().await.unwrap().unwrap();
        assert_eq!(ids(&batch), [1, 2, 3, 4, 5, 6]);
        // A chunk that would take a batch past the bound waits for the
        // next; a chunk is never split.
        let big = BATCH_BYTES / 4;
        sender.send(Ok(chunk(7, 3, big))).await.unwrap();
        sender.send(Ok(chunk(10, 2, big))).await.unwrap();
        sender.send(Ok(chunk(12, 1, 10))).await.unwrap();
        assert_eq!(ids(&answers.next().await.unwrap().unwrap()), [7, 8, 9]);
        assert_eq!(ids(&answers.next().await.unwrap().unwrap()), [10, 11, 12]);
        // An error behind answers comes after them; then the end.
        sender.send(Ok(chunk(13, 1, 10))).await.unwrap();
        sender.send(Err(Status::data_loss("broken"))).await.unwrap();
        drop(sender);
        assert_eq!(ids(&answers.next().await.unwrap().unwrap()), [13]);
        assert_eq!(
            answers.next().await.unwrap().unwrap_err().code(),
            tonic::Code::DataLoss
        );
        assert!(answers.next().await.is_none());
    }

    #[test]
    fn an_envelope_is_a_pointer_not_the_largest_message() {
        // What the decoder, the channels and the futures between the
        // socket and the caller copy for every call.
        assert!(std::mem::size_of::<pb::call_response::Response>() <= 64);
        assert!(std::mem::size_of::<pb::call_request::Request>() <= 64);
    }

    #[test]
    fn a_plain_status_stays_plain() {
        let carried = pb::CallError::from(tonic::Status::unavailable("tcp connect error"));
        assert_eq!(carried.code, pb::ErrorCode::Unspecified as i32);
        let back = RpcError::from(tonic::Status::from(carried));
        assert_eq!(back.kind, ErrorKind::Unavailable);
    }

    #[test]
    fn a_made_up_code_from_the_network_is_still_an_error() {
        let back = tonic::Status::from(pb::CallError {
            grpc_code: 9999,
            message: "odd".into(),
            code: 12345,
        });
        assert_eq!(back.code(), tonic::Code::Unknown);
        assert_eq!(RpcError::from(back).kind, ErrorKind::Internal);
    }
}
