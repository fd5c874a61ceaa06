//! MD5 of concurrent uploads in SIMD lanes: every PUT and UploadPart body
//! is hashed for its ETag (and Content-MD5's check), and one MD5 stream is
//! serial, so a lone stream runs at ~0.35 GB/s per core here. Several
//! streams hashed together in the lanes of one AVX2/AVX-512 register go
//! much further (`md5-many`: 4 streams in 16 lanes 2.9× md-5's assembly
//! per core in a microbenchmark; in `cairn bench s3-large` the PUT's MD5
//! went from 2.1 to 1.1 CPU-s per GiB; see BENCHMARKS.md), as MinIO's
//! md5-simd does in Go.
//!
//! [`Md5Lanes`] is that shared hasher: a thread of its own takes the pieces
//! that uploads hand it and advances every pending stream together, in
//! steps of at most [`STEP`] bytes, so a stream that arrives while others
//! are being hashed joins them at the next step.
//!
//! Pieces of concurrent uploads arrive at different moments (each upload
//! hands over a 4 MiB piece every few tens of milliseconds, and hashing one
//! takes a few), so hashing each piece as it comes hashed most of them
//! alone, at the single-stream rate. So the hasher waits for company: it
//! holds a piece until every open message has one waiting, and no longer
//! than its owner can spare: until the owner needs the digest state back
//! (it hands over its next piece, or finishes), or [`MAX_WAIT`] has passed.
//! The owner receives its next piece meanwhile, so the wait costs the
//! upload nothing. A lone message never waits: it is hashed at once.
//!
//! Each upload owns its [`Md5Stream`] and hands it over with one piece at a
//! time, getting it back advanced; so a stream's pieces are hashed in order
//! without the hasher keeping any per-upload bookkeeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use md5_many::{Md5Many, Md5State};
use tokio::sync::oneshot;

use crate::error::{GatewayError, Result};

/// Streams hashed in one SIMD call: 16 lanes of AVX-512 or 2 × 8 of AVX2.
/// Fewer real streams are padded to this many (the padding lanes repeat
/// the first stream's input into a scratch state), because `md5-many`
/// only runs its lock-step kernels on whole register groups: 4 real streams
/// padded to 16 lanes measured ~3× as fast as the same 4 unpadded.
const LANES: usize = 16;

/// Bytes each pending stream advances by per step before the hasher looks
/// for newly arrived streams: small enough that a newcomer joins within a
/// few milliseconds, large enough that the per-step cost is nothing.
const STEP: usize = 256 << 10;

/// MD5 blocks are 64 bytes; lanes advance in whole blocks.
const BLOCK: usize = 64;

/// The longest a piece waits in the hasher for other messages' pieces to
/// hash it with, when its owner has not asked for it yet.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// One message's MD5 in progress.
#[derive(Clone, Copy, Debug)]
pub struct Md5Stream {
    state: Md5State,
    /// Bytes hashed so far (whether a partial block is buffered).
    length: u64,
}

impl Md5Stream {
    pub fn new() -> Self {
        Self {
            state: Md5State::new(),
            length: 0,
        }
    }

    /// The digest of everything hashed so far.
    pub fn finalize(&self) -> [u8; 16] {
        self.state.finalize()
    }

    /// Bytes hashed so far.
    pub fn length(&self) -> u64 {
        self.length
    }

    fn block_aligned(&self) -> bool {
        self.length.is_multiple_of(BLOCK as u64)
    }

    /// Hashes `data` with the single-stream code (for one message alone,
    /// e.g. the ETag of a file that was not put through S3).
    pub fn update(&mut self, data: &[u8]) {
        self.state.update(data);
        self.length += data.len() as u64;
    }
}

impl Default for Md5Stream {
    fn default() -> Self {
        Self::new()
    }
}

/// A piece of one stream, in the hasher.
struct Job {
    stream: Md5Stream,
    data: Bytes,
    /// How much of `data` is hashed.
    done: usize,
    reply: oneshot::Sender<Md5Stream>,
    /// Set while the owner waits for this piece: hash it now.
    wanted: Arc<AtomicBool>,
    arrived: Instant,
}

impl Job {
    fn rest(&self) -> &[u8] {
        self.data.get(self.done..).unwrap_or_default()
    }

    /// Whether the job can join the lanes: whole blocks left and none
    /// buffered.
    fn can_share_lanes(&self) -> bool {
        self.stream.block_aligned() && self.rest().len() >= BLOCK
    }

    fn is_wanted(&self) -> bool {
        self.wanted.load(Ordering::Acquire)
    }
}

/// What the hasher thread is sent: a piece to hash, or word that the
/// messages' state changed (an owner now waits for its piece, or a message
/// ended), so that it looks again whether to hash what it holds.
enum Request {
    Piece(Job),
    LookAgain,
}

/// Handle to the shared hasher thread; cheap to clone. The thread ends
/// when the last handle is dropped.
#[derive(Clone, Debug)]
pub struct Md5Lanes {
    requests: mpsc::Sender<Request>,
    /// Messages open now (each may send a piece soon).
    open: Arc<AtomicUsize>,
}

impl Md5Lanes {
    /// Starts the hasher thread.
    pub fn start() -> Result<Self> {
        let (requests, queue) = mpsc::channel();
        let open = Arc::new(AtomicUsize::new(0));
        let open_seen = Arc::clone(&open);
        std::thread::Builder::new()
            .name("s3-md5-lanes".into())
            .spawn(move || run(&queue, &open_seen))
            .map_err(|e| GatewayError::Startup(format!("cannot start the MD5 hasher: {e}")))?;
        Ok(Self { requests, open })
    }

    /// A new message to hash through these lanes.
    pub fn message(&self) -> LaneMessage {
        self.open.fetch_add(1, Ordering::AcqRel);
        LaneMessage {
            lanes: self.clone(),
            hashed: Md5Stream::new(),
            in_hasher: None,
            wanted: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// One message (an upload's body) hashed piece by piece in the shared
/// lanes. [`LaneMessage::push`] returns as soon as the piece is handed
/// over, so the upload reads its next piece while this one is hashed; at
/// most one piece is in the hasher at a time, which keeps them in order.
#[derive(Debug)]
pub struct LaneMessage {
    lanes: Md5Lanes,
    hashed: Md5Stream,
    in_hasher: Option<oneshot::Receiver<Md5Stream>>,
    /// Shared with the piece in the hasher: set while this waits for it.
    wanted: Arc<AtomicBool>,
}

impl LaneMessage {
    /// Hands `data`, the message's next bytes, to the hasher (after the
    /// previous piece is done).
    pub async fn push(&mut self, data: Bytes) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let stream = self.settle().await?;
        let (reply, advanced) = oneshot::channel();
        self.wanted.store(false, Ordering::Release);
        let job = Job {
            stream,
            data,
            done: 0,
            reply,
            wanted: Arc::clone(&self.wanted),
            arrived: Instant::now(),
        };
        self.lanes
            .requests
            .send(Request::Piece(job))
            .map_err(|_| hasher_stopped())?;
        self.in_hasher = Some(advanced);
        Ok(())
    }

    /// The message's MD5 and length, once every piece is hashed.
    pub async fn finish(mut self) -> Result<([u8; 16], u64)> {
        let stream = self.settle().await?;
        Ok((stream.finalize(), stream.length()))
    }

    /// Waits for the piece in the hasher, if any.
    async fn settle(&mut self) -> Result<Md5Stream> {
        if let Some(advanced) = self.in_hasher.take() {
            self.wanted.store(true, Ordering::Release);
            self.lanes
                .requests
                .send(Request::LookAgain)
                .map_err(|_| hasher_stopped())?;
            self.hashed = advanced.await.map_err(|_| hasher_stopped())?;
        }
        Ok(self.hashed)
    }
}

impl Drop for LaneMessage {
    /// One open message fewer: the others may no longer need to wait.
    fn drop(&mut self) {
        self.lanes.open.fetch_sub(1, Ordering::AcqRel);
        // A stopped hasher has nothing to look at.
        let _ = self.lanes.requests.send(Request::LookAgain);
    }
}

fn hasher_stopped() -> GatewayError {
    GatewayError::Body("the MD5 hasher has stopped".into())
}

/// The hasher thread: takes in every newly arrived piece before each step,
/// and waits for more while what it holds is not [`worth_a_step`].
fn run(queue: &mpsc::Receiver<Request>, open: &AtomicUsize) {
    let engine = Md5Many::new();
    let mut pending: Vec<Job> = Vec::new();
    loop {
        let take = |request: Request, pending: &mut Vec<Job>| {
            if let Request::Piece(job) = request {
                pending.push(job);
            }
        };
        for request in queue.try_iter() {
            take(request, &mut pending);
        }
        // An upload that went away no longer wants its digest.
        pending.retain(|job| !job.reply.is_closed());
        while !worth_a_step(&pending, open.load(Ordering::Acquire)) {
            let request = match pending.iter().map(|job| job.arrived).min() {
                None => queue
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(oldest) => queue
                    .recv_timeout((oldest + MAX_WAIT).saturating_duration_since(Instant::now())),
            };
            match request {
                Ok(request) => take(request, &mut pending),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        step(engine, &mut pending);
        let mut i = 0;
        while i < pending.len() {
            if pending.get(i).is_some_and(|job| job.rest().is_empty()) {
                let job = pending.swap_remove(i);
                // An upload that went away no longer wants its digest.
                let _ = job.reply.send(job.stream);
            } else {
                i += 1;
            }
        }
    }
}

/// Whether to hash what is `pending` now rather than wait for more: every
/// one of the `open` messages has a piece here (or a whole group of lanes
/// is full), or an owner waits for its piece, or a piece has waited
/// [`MAX_WAIT`] (checked by the caller's timeout).
fn worth_a_step(pending: &[Job], open: usize) -> bool {
    !pending.is_empty()
        && (pending.len() >= open.min(LANES)
            || pending.iter().any(Job::is_wanted)
            || pending.iter().any(|job| job.arrived.elapsed() >= MAX_WAIT))
}

/// Advances every pending job by up to [`STEP`] bytes: those that can
/// share lanes in groups of up to [`LANES`], the rest one at a time.
fn step(engine: Md5Many, pending: &mut [Job]) {
    let (mut shared, mut alone): (Vec<&mut Job>, Vec<&mut Job>) =
        pending.iter_mut().partition(|job| job.can_share_lanes());
    if shared.len() < 2 {
        alone.append(&mut shared);
    }
    for group in shared.chunks_mut(LANES) {
        if let [job] = group {
            hash_alone(job);
        } else {
            hash_in_lanes(engine, group);
        }
    }
    for job in alone {
        hash_alone(job);
    }
}

/// One job with the single-stream code: up to a step, or, when a partial
/// block is buffered, just up to the block's end so that the stream can
/// share lanes at the next step.
fn hash_alone(job: &mut Job) {
    let buffered = (job.stream.length % BLOCK as u64) as usize;
    let limit = if buffered == 0 {
        STEP
    } else {
        BLOCK - buffered
    };
    let take = job.rest().len().min(limit);
    let Job {
        stream, data, done, ..
    } = job;
    if let Some(piece) = data.get(*done..*done + take) {
        stream.update(piece);
        *done += take;
    }
}

/// Jobs that all can share lanes, advanced together by the whole blocks
/// they all have (up to a step). Unused lanes repeat the first job's input
/// into scratch states whose results are dropped.
fn hash_in_lanes(engine: Md5Many, group: &mut [&mut Job]) {
    let Some(common) = group.iter().map(|job| job.rest().len()).min() else {
        return;
    };
    let take = common.min(STEP) / BLOCK * BLOCK;
    let Some(first) = group.first() else {
        return;
    };
    let padding: &[u8] = first
        .data
        .get(first.done..first.done + take)
        .unwrap_or_default();
    let mut states = [first.stream.state; LANES];
    let mut inputs: [&[u8]; LANES] = [padding; LANES];
    for ((state, input), job) in states.iter_mut().zip(inputs.iter_mut()).zip(group.iter()) {
        *state = job.stream.state;
        *input = job.data.get(job.done..job.done + take).unwrap_or_default();
    }
    engine.update_many(&mut states, &inputs);
    for (state, job) in states.iter().zip(group.iter_mut()) {
        job.stream.state = *state;
        job.stream.length += take as u64;
        job.done += take;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use md5::{Digest, Md5};
    use rand::{Rng, SeedableRng};

    use super::*;

    fn random_bytes(rng: &mut impl Rng, len: usize) -> Vec<u8> {
        let mut data = vec![0u8; len];
        rng.fill(&mut data[..]);
        data
    }

    /// Feeds `message` to the hasher in pieces of the given lengths.
    async fn hash_in_pieces(lanes: Md5Lanes, message: Vec<u8>, pieces: Vec<usize>) -> [u8; 16] {
        let message = Bytes::from(message);
        let mut hashing = lanes.message();
        let mut at = 0;
        for len in pieces {
            let end = (at + len).min(message.len());
            hashing.push(message.slice(at..end)).await.unwrap();
            at = end;
        }
        hashing.push(message.slice(at..)).await.unwrap();
        let (digest, length) = hashing.finish().await.unwrap();
        assert_eq!(length, message.len() as u64);
        digest
    }

    #[tokio::test]
    async fn a_lone_stream_matches_md5() {
        let lanes = Md5Lanes::start().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for len in [0, 1, 55, 56, 63, 64, 65, 1000, 4096, 300_001] {
            let message = random_bytes(&mut rng, len);
            let expected: [u8; 16] = Md5::digest(&message).into();
            let got = hash_in_pieces(lanes.clone(), message, vec![len / 3, 7, 64]).await;
            assert_eq!(got, expected, "length {len}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_streams_of_odd_lengths_match_md5() {
        let lanes = Md5Lanes::start().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut uploads = Vec::new();
        let mut expected = Vec::new();
        // More streams than lanes, of different lengths, cut into pieces of
        // odd and block-aligned lengths so that lanes, lone steps and
        // partial blocks all occur.
        for i in 0..40usize {
            let len = rng.random_range(0..3_000_000usize) + i;
            let message = random_bytes(&mut rng, len);
            expected.push(<[u8; 16]>::from(Md5::digest(&message)));
            let pieces: Vec<usize> = (0..rng.random_range(1..8))
                .map(|_| {
                    if rng.random_bool(0.5) {
                        rng.random_range(1..20) * 65_536
                    } else {
                        rng.random_range(1..700_000)
                    }
                })
                .collect();
            uploads.push(tokio::spawn(hash_in_pieces(lanes.clone(), message, pieces)));
        }
        for (upload, expected) in uploads.into_iter().zip(expected) {
            assert_eq!(upload.await.unwrap(), expected);
        }
    }

    fn job(len: usize, arrived: Instant) -> Job {
        let (reply, _) = oneshot::channel();
        Job {
            stream: Md5Stream::new(),
            data: Bytes::from(vec![7u8; len]),
            done: 0,
            reply,
            wanted: Arc::new(AtomicBool::new(false)),
            arrived,
        }
    }

    #[test]
    fn a_piece_waits_for_the_other_open_messages_unless_wanted() {
        let now = Instant::now();
        let one = vec![job(4096, now)];
        assert!(!worth_a_step(&[], 1), "nothing to hash");
        assert!(worth_a_step(&one, 1), "a lone message never waits");
        assert!(!worth_a_step(&one, 3), "two more messages are open");
        let two = vec![job(4096, now), job(4096, now)];
        assert!(worth_a_step(&two, 2), "every open message has a piece here");
        one[0].wanted.store(true, Ordering::Release);
        assert!(worth_a_step(&one, 3), "its owner waits for it");
        if let Some(long_ago) = now.checked_sub(MAX_WAIT) {
            assert!(
                worth_a_step(&[job(4096, long_ago)], 3),
                "waited long enough"
            );
        }
        let full: Vec<Job> = (0..LANES).map(|_| job(4096, now)).collect();
        assert!(worth_a_step(&full, LANES + 5), "a whole group of lanes");
    }

    /// A message finishes while another stays open and sends nothing: its
    /// owner asks for its last piece, so it is hashed without company.
    #[tokio::test]
    async fn a_message_finishes_beside_an_idle_one() {
        let lanes = Md5Lanes::start().unwrap();
        let idle = lanes.message();
        let message = Bytes::from(vec![3u8; 1_000_000]);
        let mut hashing = lanes.message();
        hashing.push(message.slice(..300_000)).await.unwrap();
        hashing.push(message.slice(300_000..)).await.unwrap();
        let (digest, length) = hashing.finish().await.unwrap();
        assert_eq!(length, 1_000_000);
        assert_eq!(digest, <[u8; 16]>::from(Md5::digest(&message)));
        drop(idle);
    }

    #[test]
    fn a_step_shares_lanes_and_leaves_the_rest() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let messages: Vec<Vec<u8>> = [1000usize, 5000, 70, 130]
            .iter()
            .map(|&len| random_bytes(&mut rng, len))
            .collect();
        let mut replies = Vec::new();
        let mut pending: Vec<Job> = messages
            .iter()
            .map(|m| {
                let (reply, rx) = oneshot::channel();
                replies.push(rx);
                Job {
                    stream: Md5Stream::new(),
                    data: Bytes::from(m.clone()),
                    done: 0,
                    reply,
                    wanted: Arc::new(AtomicBool::new(false)),
                    arrived: Instant::now(),
                }
            })
            .collect();
        // The first step moves all four by the 64 whole bytes of the
        // shortest (70 bytes) in lanes.
        step(Md5Many::new(), &mut pending);
        assert!(pending.iter().all(|job| job.done == 64));
        while pending.iter().any(|job| !job.rest().is_empty()) {
            step(Md5Many::new(), &mut pending);
        }
        for (job, message) in pending.iter().zip(&messages) {
            let expected: [u8; 16] = Md5::digest(message).into();
            assert_eq!(job.stream.finalize(), expected);
        }
    }
}
