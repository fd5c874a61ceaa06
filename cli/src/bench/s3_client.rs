//! The S3 client of the `s3-large` and `s3-small` benchmarks: plain HTTP/1.1
//! on one kept-alive connection per simulated client, each request signed
//! with AWS Signature V4 in its headers and an `UNSIGNED-PAYLOAD` body, as
//! the SDKs send over TLS. No payload hashing on the client, so the figure
//! is the gateway's, not the client's (boto3 spends most of its time hashing).
//! Also what the benchmarks share: the cluster with a gateway beside it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use cairn_client::{CreateOptions, DfsClient};
use cairn_s3::{AccessKey, Md5Lanes, S3Gateway};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

use super::cluster::{BenchCluster, get_file};
use super::cpu::process_cpu_time;
use crate::config::Settings;
use crate::human;

const ACCESS_KEY: &str = "AKIACAIRNBENCH";
const SECRET_KEY: &str = "cairn-bench-secret-key";
const REGION: &str = "us-east-1";
/// The bucket every object of a run goes to.
const BUCKET: &str = "bench";
/// SHA-256 works on 64-byte blocks (HMAC's pad length).
const SHA256_BLOCK: usize = 64;

/// A local cluster, the gateway in front of it, and a direct client of the
/// same cluster for the baseline.
pub struct S3BenchCluster {
    bench: BenchCluster,
    gateway: S3Gateway,
    /// Also the replication of every file.
    datanodes: u32,
}

impl S3BenchCluster {
    /// Starts `datanodes` datanodes (replication as many) and a gateway on
    /// an ephemeral port of 127.0.0.1, acting as the settings' user.
    pub async fn start(settings: &Settings, dir: &Path, datanodes: u32) -> anyhow::Result<Self> {
        let bench = BenchCluster::start(settings, dir, datanodes).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let key = AccessKey {
            access_key: ACCESS_KEY.to_string(),
            secret_key: SECRET_KEY.to_string(),
            user: settings.user.clone(),
        };
        let namenode = bench.cluster.namenode_addr().to_string();
        let gateway = crate::s3::start(settings, &namenode, vec![key], listener).await?;
        Ok(S3BenchCluster {
            bench,
            gateway,
            datanodes,
        })
    }

    pub fn direct(&self) -> &DfsClient {
        &self.bench.client
    }

    /// Where S3 clients reach the gateway.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.gateway.shutdown().await?;
        self.bench.shutdown().await
    }
}

/// One S3 client: one HTTP/1.1 connection, requests one after another.
pub struct S3Client {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl S3Client {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<S3Client> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to the S3 gateway at {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake with the S3 gateway")?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "S3 bench connection ended");
            }
        });
        Ok(S3Client { addr, sender })
    }

    /// CreateBucket; an existing bucket of ours is fine.
    pub async fn create_bucket(&mut self, bucket: &str) -> anyhow::Result<()> {
        let (status, body) = self
            .send(Method::PUT, &format!("/{bucket}"), Bytes::new())
            .await?;
        let text = String::from_utf8_lossy(&body);
        if status.is_success() || text.contains("BucketAlreadyOwnedByYou") {
            return Ok(());
        }
        bail!("CreateBucket {bucket}: {status}: {text}")
    }

    /// PutObject of `data`.
    pub async fn put(&mut self, key: &str, data: Bytes) -> anyhow::Result<()> {
        let (status, body) = self
            .send(Method::PUT, &format!("/{BUCKET}/{key}"), data)
            .await?;
        if !status.is_success() {
            bail!(
                "PutObject {key}: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }

    /// GetObject, counting the bytes as they arrive (nothing is kept).
    pub async fn get(&mut self, key: &str) -> anyhow::Result<u64> {
        let request = self.request(Method::GET, &format!("/{BUCKET}/{key}"), Bytes::new())?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let mut body = response.into_body();
        if !status.is_success() {
            let text = body.collect().await?.to_bytes();
            bail!(
                "GetObject {key}: {status}: {}",
                String::from_utf8_lossy(&text)
            );
        }
        let mut total = 0u64;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame?.data_ref() {
                total += data.len() as u64;
            }
        }
        Ok(total)
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let request = self.request(method, path, body)?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// A request signed with SigV4 in its headers. `path` must need no
    /// percent-encoding (the benchmarks' keys are plain).
    fn request(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let now = chrono::Utc::now();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let date = now.format("%Y%m%d").to_string();
        let host = self.addr.to_string();
        let authorization = authorization(&method, path, &host, &amz_date, &date);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .header("x-amz-date", amz_date)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header(hyper::header::AUTHORIZATION, authorization)
            .body(Full::new(body))?;
        Ok(request)
    }
}

/// Runs `workers` copies of `worker` at once, each taking the indexes of
/// the operations it does from `next` until `count` is reached, and times
/// them from the first start to the last end.
async fn timed_workers<F, Fut>(workers: usize, count: u64, worker: F) -> anyhow::Result<Phase>
where
    F: Fn(Jobs) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    // Each phase starts with the previous one's data on disk: otherwise its
    // writeback slows whichever phase comes second (measured: the S3 PUT
    // after the direct one ran at a quarter of the speed it has alone).
    tokio::task::spawn_blocking(nix::unistd::sync).await?;
    let next = Arc::new(AtomicU64::new(0));
    let cpu_start = process_cpu_time(None)?;
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            tokio::spawn(worker(Jobs {
                next: Arc::clone(&next),
                count,
            }))
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let wall = start.elapsed();
    Ok(Phase {
        wall,
        cpu: process_cpu_time(None)?.saturating_sub(cpu_start),
    })
}

/// The operations still to do, shared by the workers of [`timed_workers`].
struct Jobs {
    next: Arc<AtomicU64>,
    count: u64,
}

impl Jobs {
    /// The index of the next operation, `None` when all are taken.
    fn take(&self) -> Option<u64> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.count).then_some(i)
    }
}

/// One phase of an S3 benchmark: how long it took, and the CPU time the
/// process spent meanwhile. The cluster, the gateway and the clients all
/// run in this process, so on a machine whose cores they saturate the
/// throughput ratio follows the ratio of CPU per byte, which this shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phase {
    pub wall: Duration,
    pub cpu: Duration,
}

impl std::ops::AddAssign for Phase {
    fn add_assign(&mut self, other: Phase) {
        self.wall += other.wall;
        self.cpu += other.cpu;
    }
}

/// The four phases of an S3 benchmark, each summed over its rounds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub direct_put: Phase,
    pub s3_put: Phase,
    pub direct_get: Phase,
    pub s3_get: Phase,
}

/// What [`measure`] moves: `objects` copies of `data` by `clients`
/// concurrent clients, `rounds` times; the direct client writes in pieces
/// of at most `piece` bytes (as `cairn dfs -put` does).
pub struct Workload {
    pub clients: usize,
    pub objects: u64,
    pub data: Bytes,
    pub piece: usize,
    pub rounds: u64,
}

/// The four phases on `bench`, `rounds` times: the direct client puts the
/// objects and S3 PUTs them, then both read them back (checking their
/// lengths), and the round's objects are deleted. Rounds alternate which
/// of the two goes first in each pair, and every phase's wall and CPU time
/// is summed: a single phase's figure swings with how the scheduler places
/// the clients, gateway and datanode on 2 cores (one pair's GET ratio
/// ranged 0.42–1.28 under load), and which goes first matters too (the
/// page cache, writeback).
pub async fn measure(bench: &S3BenchCluster, work: &Workload) -> anyhow::Result<Timings> {
    bench.direct().mkdirs("/direct", None).await?;
    S3Client::connect(bench.gateway_addr())
        .await?
        .create_bucket(BUCKET)
        .await?;
    let mut total = Timings::default();
    for round in 0..work.rounds {
        let s3_first = round % 2 == 1;
        let progress = |what: &str, phase: Phase| {
            let bytes = work.data.len() as u64 * work.objects;
            eprintln!(
                "  round {}/{}: {what} {} in {:.2} s ({:.0} MB/s, {:.2} CPU-s)",
                round + 1,
                work.rounds,
                human::byte_desc(bytes),
                phase.wall.as_secs_f64(),
                bytes as f64 / 1e6 / phase.wall.as_secs_f64().max(1e-9),
                phase.cpu.as_secs_f64(),
            );
            phase
        };
        for s3 in [s3_first, !s3_first] {
            if s3 {
                total.s3_put += progress("S3 PUT", s3_put(bench, work).await?);
            } else {
                total.direct_put += progress("direct put", direct_put(bench, work).await?);
            }
        }
        // Both reads find every object in the datanode's page cache.
        bench.bench.warm_page_cache().await?;
        for s3 in [s3_first, !s3_first] {
            if s3 {
                total.s3_get += progress("S3 GET", s3_get(bench, work).await?);
            } else {
                total.direct_get += progress("direct get", direct_get(bench, work).await?);
            }
        }
        for i in 0..work.objects {
            bench.direct().delete(&direct_path(i), false).await?;
            bench.direct().delete(&object_path(i), false).await?;
        }
    }
    Ok(total)
}

async fn direct_put(bench: &S3BenchCluster, work: &Workload) -> anyhow::Result<Phase> {
    let replication = bench.datanodes;
    let piece = work.piece;
    timed_workers(work.clients, work.objects, |jobs| {
        let (client, data) = (bench.direct().clone(), work.data.clone());
        async move {
            while let Some(i) = jobs.take() {
                let options = CreateOptions {
                    replication: Some(replication),
                    ..Default::default()
                };
                let mut writer = client.create(&direct_path(i), options).await?;
                for piece in pieces(&data, piece) {
                    writer.write_bytes(piece).await?;
                }
                writer.close().await?;
            }
            Ok(())
        }
    })
    .await
}

async fn s3_put(bench: &S3BenchCluster, work: &Workload) -> anyhow::Result<Phase> {
    timed_workers(work.clients, work.objects, |jobs| {
        let (gateway, data) = (bench.gateway_addr(), work.data.clone());
        async move {
            let mut s3 = S3Client::connect(gateway).await?;
            while let Some(i) = jobs.take() {
                s3.put(&key(i), data.clone()).await?;
            }
            Ok(())
        }
    })
    .await
}

async fn direct_get(bench: &S3BenchCluster, work: &Workload) -> anyhow::Result<Phase> {
    let size = work.data.len() as u64;
    timed_workers(work.clients, work.objects, |jobs| {
        let client = bench.direct().clone();
        async move {
            while let Some(i) = jobs.take() {
                get_file(&client, &direct_path(i), size).await?;
            }
            Ok(())
        }
    })
    .await
}

async fn s3_get(bench: &S3BenchCluster, work: &Workload) -> anyhow::Result<Phase> {
    let size = work.data.len() as u64;
    timed_workers(work.clients, work.objects, |jobs| {
        let gateway = bench.gateway_addr();
        async move {
            let mut s3 = S3Client::connect(gateway).await?;
            while let Some(i) = jobs.take() {
                let got = s3.get(&key(i)).await?;
                if got != size {
                    bail!("GetObject {} returned {got} bytes of {size}", key(i));
                }
            }
            Ok(())
        }
    })
    .await
}

/// The pieces the gateway hashes a PUT's body in (its `BODY_PIECE`).
const GATEWAY_PIECE: usize = 4 << 20;

/// What any gateway must add to the direct client's work, each part
/// measured alone on the same bytes by the same number of clients,
/// `rounds` times.
#[derive(Debug, Clone, Copy, Default)]
pub struct GatewayFloor {
    /// One loopback HTTP hop of the PUT bodies: this bench's S3 client
    /// PUTting to a server that only reads them.
    pub put_hop: Phase,
    /// One loopback HTTP hop of the GET bodies: a server that answers each
    /// GET with the object from memory.
    pub get_hop: Phase,
    /// The bodies' MD5s (the gateway's [`Md5Lanes`], fed the gateway's
    /// 4 MiB pieces).
    pub md5: Phase,
}

/// Measures the [`GatewayFloor`]: on cores the run saturates, a PUT
/// through any gateway costs at least the direct put's CPU plus the PUT
/// hop and MD5, and a GET the direct get's plus the GET hop.
pub async fn gateway_floor(work: &Workload) -> anyhow::Result<GatewayFloor> {
    let mut floor = GatewayFloor::default();
    for _ in 0..work.rounds {
        let (put_hop, get_hop) = http_hop_alone(work).await?;
        floor.put_hop += put_hop;
        floor.get_hop += get_hop;
        floor.md5 += md5_alone(work).await?;
    }
    Ok(floor)
}

/// The S3 PUTs of [`s3_put`] and GETs of [`s3_get`] against an HTTP/1.1
/// server that reads each PUT body (as hyper hands it over) and answers
/// each GET with the object from memory: the hop and nothing else.
async fn http_hop_alone(work: &Workload) -> anyhow::Result<(Phase, Phase)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let object = work.data.clone();
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            // As the gateway's connections: no Nagle delay.
            if stream.set_nodelay(true).is_err() {
                continue;
            }
            let object = object.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let object = object.clone();
                    async move {
                        let answer = if req.method() == Method::GET {
                            object
                        } else {
                            let mut body = req.into_body();
                            while let Some(frame) = body.frame().await {
                                frame?;
                            }
                            Bytes::new()
                        };
                        Ok::<_, hyper::Error>(hyper::Response::new(Full::new(answer)))
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "HTTP hop connection ended");
                }
            });
        }
    });
    let size = work.data.len() as u64;
    let phases = async {
        let put = timed_workers(work.clients, work.objects, |jobs| {
            let data = work.data.clone();
            async move {
                let mut s3 = S3Client::connect(addr).await?;
                while let Some(i) = jobs.take() {
                    s3.put(&key(i), data.clone()).await?;
                }
                Ok(())
            }
        })
        .await?;
        let get = timed_workers(work.clients, work.objects, |jobs| async move {
            let mut s3 = S3Client::connect(addr).await?;
            while let Some(i) = jobs.take() {
                let got = s3.get(&key(i)).await?;
                if got != size {
                    bail!("the HTTP hop returned {got} bytes of {size}");
                }
            }
            Ok(())
        })
        .await?;
        Ok((put, get))
    }
    .await;
    server.abort();
    phases
}

/// The objects' MD5s through the gateway's hasher, each client hashing one
/// object at a time in 4 MiB pieces as the gateway receives them.
async fn md5_alone(work: &Workload) -> anyhow::Result<Phase> {
    let lanes = Md5Lanes::start()?;
    timed_workers(work.clients, work.objects, |jobs| {
        let (lanes, data) = (lanes.clone(), work.data.clone());
        async move {
            while jobs.take().is_some() {
                let mut md5 = lanes.message();
                for piece in pieces(&data, GATEWAY_PIECE) {
                    md5.push(piece).await?;
                }
                md5.finish().await?;
            }
            Ok(())
        }
    })
    .await
}

/// `data` in slices of `piece` bytes (the last one shorter), without copying.
fn pieces(data: &Bytes, piece: usize) -> impl Iterator<Item = Bytes> + '_ {
    let piece = piece.max(1);
    (0..data.len())
        .step_by(piece)
        .map(move |start| data.slice(start..(start + piece).min(data.len())))
}

/// Where the direct client puts object `i` (the baseline's files).
fn direct_path(i: u64) -> String {
    format!("/direct/obj-{i}")
}

/// The key of object `i` in [`BUCKET`].
fn key(i: u64) -> String {
    format!("obj-{i}")
}

/// The file behind [`key`] `i` (the bucket is a top-level directory).
fn object_path(i: u64) -> String {
    format!("/{BUCKET}/{}", key(i))
}

/// The `Authorization` header of SigV4 for a request without a query
/// string, signing `host`, `x-amz-content-sha256` and `x-amz-date`.
fn authorization(method: &Method, path: &str, host: &str, amz_date: &str, date: &str) -> String {
    let signed_headers = "host;x-amz-content-sha256;x-amz-date";
    let canonical_request = format!(
        "{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\
         x-amz-date:{amz_date}\n\n{signed_headers}\nUNSIGNED-PAYLOAD"
    );
    let scope = format!("{date}/{REGION}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac_sha256(format!("AWS4{SECRET_KEY}").as_bytes(), date.as_bytes());
    for part in [REGION, "s3", "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}"
    )
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; SHA256_BLOCK];
    if key.len() > SHA256_BLOCK {
        let digest = Sha256::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
