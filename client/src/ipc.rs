//! Hadoop IPC's `Client.Connection` over gRPC: every namenode call of a
//! client goes as one message on a long-lived `ClientProtocol.Call` stream,
//! tagged with a call id, and its answer comes back on the response stream
//! in whatever order the namenode finishes (`cairn_proto::ipc`).
//!
//! One stream per namenode channel, shared by every clone of a client and
//! every user it calls as (the FUSE mount's callers). It opens on the first
//! call; when it ends (the namenode restarted, the socket broke) every call
//! waiting on it fails with UNAVAILABLE, as a unary call on a broken
//! connection does, and the next call opens a new one over the channel,
//! which reconnects by itself.
//!
//! Calls queued together go as one `CallBatch` message: whenever the
//! connection takes the next message, it gets every call queued since the
//! last one (no timer: a lone call goes at once). Answers come back in
//! batches too, handed to their callers under one lock of the waiting map.
//!
//! A call waits at most the client's rpc timeout for its answer. Rather
//! than a timer per call (registered in and removed from the runtime's
//! timer wheel, a measurable share of a call's CPU), each waiting call
//! notes its deadline, and one watchdog per stream fails the calls past
//! theirs every eighth of the timeout: a call times out between its
//! timeout and an eighth more.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use cairn_proto::pb;
use cairn_proto::pb::call_response::Response;
use cairn_proto::pb::client_protocol_client::ClientProtocolClient;
use parking_lot::Mutex;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

/// What a waiting call receives: the namenode's answer or why there is none.
type Answer = Result<Response, Status>;

/// The calls sent on one stream and not answered yet, by call id. `None`
/// once the stream has ended: a call that finds it so fails at once rather
/// than wait for an answer that cannot come.
type Waiting = Mutex<Option<WaitingCalls>>;

type WaitingCalls = HashMap<u64, Waiter, BuildHasherDefault<CallIdHasher>>;

/// A call waiting for its answer, and until when.
struct Waiter {
    answer: oneshot::Sender<Answer>,
    deadline: Instant,
}

/// The most calls one `CallBatch` carries; more queued go in the next.
const BATCH_CALLS: usize = 256;

/// Hashes a call id with one multiplication (Fibonacci hashing). Call ids
/// are sequential numbers this client made up, so there is nothing to
/// defend against, and SipHash cost a measurable share of the reader's
/// time per answer.
#[derive(Default)]
pub(crate) struct CallIdHasher(u64);

impl Hasher for CallIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        // Spreads sequential ids over the high bits the table's tags use
        // as well as the low bits that pick a bucket.
        self.0 = (self.0 ^ id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The request side of a stream: every call queued when the connection
/// asks for its next message goes in one batch.
pub(crate) struct Outgoing {
    queued: mpsc::UnboundedReceiver<pb::CallRequest>,
}

impl Outgoing {
    pub(crate) fn new(queued: mpsc::UnboundedReceiver<pb::CallRequest>) -> Self {
        Self { queued }
    }
}

impl tokio_stream::Stream for Outgoing {
    type Item = pb::CallBatch;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut calls = Vec::new();
        match self.queued.poll_recv_many(cx, &mut calls, BATCH_CALLS) {
            Poll::Ready(0) => Poll::Ready(None),
            Poll::Ready(_) => Poll::Ready(Some(pb::CallBatch { calls })),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Calls multiplexed over one `Call` stream at a time. Cheap to clone:
/// clones share the stream.
#[derive(Clone)]
pub(crate) struct IpcConnection<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    /// Opens streams; the transport below reconnects by itself.
    protocol: ClientProtocolClient<T>,
    /// Who the calls go to, for error messages ("host:port").
    authority: Arc<str>,
    /// The stream in use, if one is open.
    current: Mutex<Option<Arc<Stream>>>,
    /// Held while a stream opens, so concurrent first calls open one.
    opening: tokio::sync::Mutex<()>,
    next_call_id: AtomicU64,
    /// How long a call waits for its answer (the client's rpc timeout).
    timeout: Duration,
}

/// One open `Call` stream. Dropping it (the last clone of the connection
/// went away, or a newer stream replaced it) ends the request stream,
/// which tells the namenode the client is gone.
struct Stream {
    requests: mpsc::UnboundedSender<pb::CallRequest>,
    waiting: Arc<Waiting>,
}

impl<T> IpcConnection<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    T::Error: Into<tonic::codegen::StdError>,
{
    /// Calls over `protocol`, to the namenode at `authority`, each waiting
    /// at most `timeout` for its answer.
    pub(crate) fn new(
        protocol: ClientProtocolClient<T>,
        authority: &str,
        timeout: Duration,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                protocol,
                authority: Arc::from(authority),
                current: Mutex::new(None),
                opening: tokio::sync::Mutex::new(()),
                next_call_id: AtomicU64::new(1),
                timeout,
            }),
        }
    }

    /// Makes one call as `user`; the namenode's answer, or the status the
    /// call failed with (the namenode's own error, or UNAVAILABLE when the
    /// stream ended before the answer came).
    pub(crate) async fn call(&self, user: &str, request: pb::call_request::Request) -> Answer {
        let call_id = self.shared.next_call_id.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.shared.timeout;
        let mut message = pb::CallRequest {
            call_id,
            user: user.to_string(),
            request: Some(request),
        };
        // A stream found ended before the call went out is replaced once:
        // the call was not sent, so it is safe to send on the new one.
        let mut attempts = 0;
        let answered = loop {
            attempts += 1;
            let stream = self.stream().await?;
            let (answer, answered) = oneshot::channel();
            let registered = match stream.waiting.lock().as_mut() {
                Some(waiting) => waiting
                    .insert(call_id, Waiter { answer, deadline })
                    .is_none(),
                None => false,
            };
            if registered {
                match stream.requests.send(message) {
                    Ok(()) => break answered,
                    Err(mpsc::error::SendError(unsent)) => {
                        forget(&stream.waiting, call_id);
                        message = unsent;
                    }
                }
            }
            self.forget_stream(&stream);
            if attempts == 2 {
                return Err(self.lost("the connection closed"));
            }
        };
        // The answer, the stream's end, or the watchdog's timeout.
        match answered.await {
            Ok(answer) => answer,
            Err(_) => Err(self.lost("the connection closed")),
        }
    }

    /// Stops using `stream` (it has ended), if it is still the current one.
    fn forget_stream(&self, stream: &Arc<Stream>) {
        forget_stream(&self.shared, &stream.waiting);
    }

    /// The open stream, or a new one.
    async fn stream(&self) -> Result<Arc<Stream>, Status> {
        if let Some(stream) = self.shared.current.lock().as_ref() {
            return Ok(Arc::clone(stream));
        }
        let _opening = self.shared.opening.lock().await;
        if let Some(stream) = self.shared.current.lock().as_ref() {
            return Ok(Arc::clone(stream));
        }
        let (requests, outgoing) = mpsc::unbounded_channel();
        let mut protocol = self.shared.protocol.clone();
        let answers = protocol.call(Outgoing::new(outgoing)).await?.into_inner();
        let stream = Arc::new(Stream {
            requests,
            waiting: Arc::new(Mutex::new(Some(WaitingCalls::default()))),
        });
        tokio::spawn(deliver_answers(
            answers,
            Arc::clone(&stream.waiting),
            Arc::downgrade(&self.shared),
            Arc::clone(&self.shared.authority),
        ));
        tokio::spawn(time_out_calls(
            Arc::downgrade(&stream.waiting),
            Arc::clone(&self.shared.authority),
            self.shared.timeout,
        ));
        *self.shared.current.lock() = Some(Arc::clone(&stream));
        tracing::debug!(namenode = %self.shared.authority, "call stream opened");
        Ok(stream)
    }

    fn lost(&self, why: &str) -> Status {
        lost(&self.shared.authority, why)
    }
}

/// The status of a call whose stream ended before its answer came.
fn lost(authority: &str, why: &str) -> Status {
    Status::unavailable(format!(
        "Call to {authority} failed: {why} before the namenode answered"
    ))
}

/// Makes the stream whose calls wait in `waiting` no longer current, so
/// the next call opens a new one.
fn forget_stream<T>(shared: &Shared<T>, waiting: &Arc<Waiting>) {
    let mut current = shared.current.lock();
    if current
        .as_ref()
        .is_some_and(|s| Arc::ptr_eq(&s.waiting, waiting))
    {
        *current = None;
    }
}

fn forget(waiting: &Waiting, call_id: u64) {
    if let Some(waiting) = waiting.lock().as_mut() {
        waiting.remove(&call_id);
    }
}

/// How often a stream's watchdog looks for calls past their deadline: an
/// eighth of the timeout, so a call times out at most an eighth late.
pub(crate) fn watchdog_period(timeout: Duration) -> Duration {
    (timeout / 8).max(Duration::from_millis(1))
}

/// The stream's watchdog: fails each call still waiting past its deadline
/// with DEADLINE_EXCEEDED, as a per-call timer would, until the stream has
/// ended (its waiting map is closed or gone).
async fn time_out_calls(waiting: Weak<Waiting>, authority: Arc<str>, timeout: Duration) {
    let mut ticks = tokio::time::interval(watchdog_period(timeout));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut late_ids, mut late) = (Vec::new(), Vec::<Waiter>::new());
    loop {
        ticks.tick().await;
        let Some(waiting) = waiting.upgrade() else {
            return;
        };
        {
            let mut waiting = waiting.lock();
            let Some(calls) = waiting.as_mut() else {
                return;
            };
            let now = Instant::now();
            late_ids.extend(
                calls
                    .iter()
                    .filter(|(_, call)| call.deadline <= now)
                    .map(|(&id, _)| id),
            );
            late.extend(late_ids.drain(..).filter_map(|id| calls.remove(&id)));
        }
        for waiter in late.drain(..) {
            // A send fails only if the caller stopped waiting.
            let _ = waiter.answer.send(Err(Status::deadline_exceeded(format!(
                "Call to {authority} timed out after {timeout:?} waiting for the namenode's answer"
            ))));
        }
    }
}

/// Hands each answer on the stream to the call waiting for it, a batch's
/// answers under one lock of the waiting map, until the stream ends; then
/// fails every call still waiting and forgets the stream, so the next call
/// opens a new one.
async fn deliver_answers<T>(
    mut answers: tonic::Streaming<pb::AnswerBatch>,
    waiting: Arc<Waiting>,
    shared: Weak<Shared<T>>,
    authority: Arc<str>,
) {
    let mut orphans = Orphans {
        waiting: Arc::clone(&waiting),
        authority: Arc::clone(&authority),
        why: "the client's runtime stopped".to_string(),
    };
    // Reused for every batch: the waiters found, woken after the lock.
    let mut found = Vec::new();
    let why = loop {
        match answers.message().await {
            Ok(Some(batch)) => {
                take_waiters(&waiting, batch, &mut found);
                for (waiter, answer) in found.drain(..) {
                    // A send fails only if the caller stopped waiting.
                    let _ = waiter.answer.send(answer_of(&authority, answer));
                }
            }
            Ok(None) => break "the namenode closed the connection".to_string(),
            Err(status) => break format!("the connection broke ({})", status.message()),
        }
    };
    tracing::debug!(namenode = %authority, %why, "call stream ended");
    if let Some(shared) = shared.upgrade() {
        forget_stream(&shared, &waiting);
    }
    orphans.why = why;
}

/// Takes the waiter of each answer in `batch` out of `waiting` under one
/// lock, into `found`; answers nobody waits for any more (their callers
/// timed out) are dropped.
fn take_waiters(
    waiting: &Waiting,
    batch: pb::AnswerBatch,
    found: &mut Vec<(Waiter, pb::CallResponse)>,
) {
    let mut waiting = waiting.lock();
    let Some(waiting) = waiting.as_mut() else {
        return;
    };
    for answer in batch.answers {
        match waiting.remove(&answer.call_id) {
            Some(waiter) => found.push((waiter, answer)),
            None => tracing::debug!(
                call_id = answer.call_id,
                "answer to a call no longer waiting"
            ),
        }
    }
}

/// What the caller of `answer`'s call receives.
fn answer_of(authority: &str, answer: pb::CallResponse) -> Answer {
    match answer.response {
        Some(Response::Error(error)) => Err(Status::from(*error)),
        Some(response) => Ok(response),
        None => Err(Status::internal(format!(
            "the namenode at {authority} answered call {} with nothing",
            answer.call_id
        ))),
    }
}

/// Fails the calls still waiting on a stream when its reader stops,
/// however it stops: the stream ended, or the runtime the reader ran on
/// shut down (then the next call finds the stream closed and opens one).
struct Orphans {
    waiting: Arc<Waiting>,
    authority: Arc<str>,
    why: String,
}

impl Drop for Orphans {
    fn drop(&mut self) {
        let orphans = self.waiting.lock().take().unwrap_or_default();
        for (_, waiter) in orphans {
            let _ = waiter.answer.send(Err(lost(&self.authority, &self.why)));
        }
    }
}
