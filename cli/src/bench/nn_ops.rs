//! NNThroughputBenchmark-style namespace throughput: mkdirs, create (with
//! complete), open (block locations), fileStatus, rename and delete, each
//! run over `ops` paths by `threads` worker threads with `clients`
//! operations in flight, against the namenode's handlers in this process,
//! against ext4 doing the same in a temp dir, and (`--rpc`) from a separate
//! client process over gRPC.
//!
//! Paths: 1,000 per directory (`<prefix>/files/d<j>/f<i>`), so neither
//! Cairn nor ext4 measures one huge directory.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_proto::pb;
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use super::cluster::{per_s, rerun};
use super::cpu::process_cpu_time;
use super::report::{Goal, Report, Row};
use super::target::{NnTarget, call, create_file, start_namenode};
use crate::config::Settings;

/// Paths per directory.
const FAN_OUT: u64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NnOp {
    Mkdirs,
    Create,
    Open,
    FileStatus,
    Rename,
    Delete,
}

impl NnOp {
    /// In the order they must run: open needs the created files, delete
    /// the renamed ones.
    pub const ALL: [NnOp; 6] = [
        NnOp::Mkdirs,
        NnOp::Create,
        NnOp::Open,
        NnOp::FileStatus,
        NnOp::Rename,
        NnOp::Delete,
    ];

    /// The operations to run so that `only` can be timed, in order: open,
    /// fileStatus and rename need created files, delete renamed ones. All
    /// of them when `only` is empty.
    pub fn needed_for(only: &[NnOp]) -> Vec<NnOp> {
        if only.is_empty() {
            return Self::ALL.to_vec();
        }
        let wanted = |op: &NnOp| only.contains(op);
        let needs_files = [NnOp::Open, NnOp::FileStatus, NnOp::Rename, NnOp::Delete]
            .iter()
            .any(wanted);
        Self::ALL
            .into_iter()
            .filter(|op| {
                wanted(op)
                    || (*op == NnOp::Create && needs_files)
                    || (*op == NnOp::Rename && wanted(&NnOp::Delete))
            })
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            NnOp::Mkdirs => "mkdirs",
            NnOp::Create => "create",
            NnOp::Open => "open",
            NnOp::FileStatus => "fileStatus",
            NnOp::Rename => "rename",
            NnOp::Delete => "delete",
        }
    }

    /// Issue 7's absolute goals for the in-process figures.
    fn goal(self) -> Goal {
        match self {
            NnOp::Open | NnOp::FileStatus => Goal::AtLeast(200_000.0),
            NnOp::Create => Goal::AtLeast(50_000.0),
            _ => Goal::None,
        }
    }
}

/// The shape of one run: how many paths, under which prefix.
#[derive(Clone, Debug)]
pub struct Layout {
    pub prefix: String,
    pub ops: u64,
}

impl Layout {
    fn groups(&self) -> u64 {
        self.ops.div_ceil(FAN_OUT)
    }
    fn file_dir(&self, j: u64) -> String {
        format!("{}/files/d{j}", self.prefix)
    }
    fn mkdir_dir(&self, j: u64) -> String {
        format!("{}/dirs/d{j}", self.prefix)
    }
    fn file(&self, i: u64) -> String {
        format!("{}/f{i}", self.file_dir(i / FAN_OUT))
    }
    fn renamed(&self, i: u64) -> String {
        format!("{}/r{i}", self.file_dir(i / FAN_OUT))
    }
    fn dir(&self, i: u64) -> String {
        format!("{}/m{i}", self.mkdir_dir(i / FAN_OUT))
    }
}

/// Settings of one nn-ops run.
#[derive(Clone, Debug)]
pub struct NnOpsPlan {
    pub ops: u64,
    pub threads: Vec<usize>,
    pub clients: usize,
    pub ext4: bool,
    pub rpc: bool,
    /// Only these operations are timed (empty: all).
    pub only: Vec<NnOp>,
}

/// One op's time and cost, as the RPC client process reports it.
#[derive(Debug, Serialize, Deserialize)]
pub struct OpTime {
    pub op: NnOp,
    pub seconds: f64,
    /// The CPU time this process spent meanwhile: the client's over RPC,
    /// the namenode's and the driver's in process.
    pub cpu_seconds: f64,
    /// The namenode's CPU time meanwhile, when it is another process.
    pub namenode_cpu_seconds: Option<f64>,
}

pub async fn run(
    settings: &Settings,
    scratch: &Path,
    plan: &NnOpsPlan,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (namenode, target) = start_namenode(settings, scratch).await?;
    let user = settings.file.namenode.superuser.clone();
    target.wait_out_of_safe_mode(&user).await?;
    for &threads in &plan.threads {
        let layout = Layout {
            prefix: format!("/nnbench-t{threads}"),
            ops: plan.ops,
        };
        eprintln!(
            "nn-ops: {} ops each, {threads} threads, in process",
            plan.ops
        );
        let in_process =
            run_all(&target, &user, &layout, threads, plan.clients, &plan.only).await?;
        let ext4 = if plan.ext4 {
            let root = scratch.join(format!("ext4-t{threads}"));
            Some(ext4::run_all(&root, plan.ops, threads)?)
        } else {
            None
        };
        let rpc = if plan.rpc {
            eprintln!(
                "nn-ops: {} ops each, {threads} threads, over gRPC",
                plan.ops
            );
            Some(rpc_client_process(namenode.local_addr(), plan, threads, &user).await?)
        } else {
            None
        };
        for (i, op) in NnOp::ALL.into_iter().enumerate() {
            let Some(in_process) = in_process.iter().find(|t| t.op == op) else {
                continue;
            };
            let cairn = plan.ops as f64 / in_process.seconds.max(1e-9);
            let measure = format!("{} {threads} thr", op.name());
            if let Some(ext4) = &ext4 {
                let base = per_s(plan.ops, ext4.get(i).copied().unwrap_or_default());
                report.push(
                    Row::new("nn-ops", measure.clone(), cairn, "ops/s")
                        .baseline("ext4", base)
                        .goal(op.goal()),
                );
            }
            if let Some(rpc) = &rpc {
                let over_rpc = rpc
                    .iter()
                    .find(|t| t.op == op)
                    .context("the RPC client left an operation out")?;
                report.push(
                    Row::new(
                        "nn-ops --rpc",
                        measure.clone(),
                        plan.ops as f64 / over_rpc.seconds.max(1e-9),
                        "ops/s",
                    )
                    .baseline("in-process", cairn)
                    .goal(Goal::RatioAtLeast(0.3)),
                );
                push_cpu_rows(report, &measure, plan.ops, in_process, over_rpc);
            }
        }
    }
    namenode.shutdown().await?;
    Ok(())
}

/// What each side spent per operation, in process and over RPC: on a
/// shared machine these move less with the neighbours' load than the
/// throughput does, and they say where the RPC figure's time goes.
fn push_cpu_rows(report: &mut Report, measure: &str, ops: u64, in_process: &OpTime, rpc: &OpTime) {
    let per_op = |cpu_seconds: f64| cpu_seconds * 1e6 / ops.max(1) as f64;
    report.push(Row::new(
        "nn-ops",
        format!("{measure} CPU per op"),
        per_op(in_process.cpu_seconds),
        "µs",
    ));
    if let Some(namenode) = rpc.namenode_cpu_seconds {
        report.push(Row::new(
            "nn-ops --rpc",
            format!("{measure} CPU per call, namenode"),
            per_op(namenode),
            "µs",
        ));
    }
    report.push(Row::new(
        "nn-ops --rpc",
        format!("{measure} CPU per call, client"),
        per_op(rpc.cpu_seconds),
        "µs",
    ));
}

/// Runs the ops `only` needs, in order, against `target`; returns the
/// times of those in `only` (of all, when it is empty).
pub async fn run_all(
    target: &NnTarget,
    user: &str,
    layout: &Layout,
    threads: usize,
    clients: usize,
    only: &[NnOp],
) -> anyhow::Result<Vec<OpTime>> {
    prepare(target, user, layout).await?;
    let mut times = Vec::new();
    for op in NnOp::needed_for(only) {
        let timed = only.is_empty() || only.contains(&op);
        eprintln!(
            "nn-ops: {}{}",
            op.name(),
            if timed {
                ""
            } else {
                " (untimed, needed later)"
            }
        );
        let spent = drive(target.clone(), user, layout, op, threads, clients).await?;
        if timed {
            times.push(OpTime {
                op,
                seconds: spent.wall.as_secs_f64(),
                cpu_seconds: spent.cpu.as_secs_f64(),
                namenode_cpu_seconds: spent.namenode_cpu.map(|cpu| cpu.as_secs_f64()),
            });
        }
    }
    Ok(times)
}

/// The parent directories, untimed.
pub async fn prepare(target: &NnTarget, user: &str, layout: &Layout) -> anyhow::Result<()> {
    for j in 0..layout.groups() {
        for path in [layout.file_dir(j), layout.mkdir_dir(j)] {
            call!(
                target,
                mkdirs,
                user,
                pb::MkdirsRequest {
                    path,
                    permission: 0o755,
                    create_parent: true,
                }
            )?;
        }
    }
    Ok(())
}

/// What one run of an operation took.
pub struct Spent {
    pub wall: Duration,
    /// This process's CPU time.
    pub cpu: Duration,
    /// The namenode's, when it is another process and known.
    pub namenode_cpu: Option<Duration>,
}

/// Runs `op` over every path on a runtime of `threads` worker threads
/// with `clients` operations in flight; returns the time and CPU spent.
pub async fn drive(
    target: NnTarget,
    user: &str,
    layout: &Layout,
    op: NnOp,
    threads: usize,
    clients: usize,
) -> anyhow::Result<Spent> {
    let user = user.to_string();
    let layout = layout.clone();
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let target = target.on_this_runtime(&user).await?;
            let next = Arc::new(AtomicU64::new(0));
            let namenode_cpu = || {
                target
                    .namenode_process()
                    .map(|pid| process_cpu_time(Some(pid)))
            };
            let (cpu, namenode) = (process_cpu_time(None)?, namenode_cpu().transpose()?);
            let start = Instant::now();
            let mut tasks = Vec::new();
            for client in 0..clients.max(1) {
                let (target, layout, user, next) = (
                    target.clone(),
                    layout.clone(),
                    user.clone(),
                    Arc::clone(&next),
                );
                tasks.push(tokio::spawn(async move {
                    let client_name = format!("nnbench-{}-{client}", std::process::id());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= layout.ops {
                            return Ok::<(), anyhow::Error>(());
                        }
                        one(&target, &user, &layout, op, i, &client_name)
                            .await
                            .with_context(|| format!("{} #{i}", op.name()))?;
                    }
                }));
            }
            for task in tasks {
                task.await??;
            }
            let wall = start.elapsed();
            let cpu = process_cpu_time(None)?.saturating_sub(cpu);
            let namenode_cpu = match (namenode_cpu().transpose()?, namenode) {
                (Some(after), Some(before)) => Some(after.saturating_sub(before)),
                _ => None,
            };
            Ok(Spent {
                wall,
                cpu,
                namenode_cpu,
            })
        })
    })
    .await?
}

/// One operation on path number `i`.
async fn one(
    target: &NnTarget,
    user: &str,
    layout: &Layout,
    op: NnOp,
    i: u64,
    client_name: &str,
) -> anyhow::Result<()> {
    match op {
        NnOp::Mkdirs => {
            call!(
                target,
                mkdirs,
                user,
                pb::MkdirsRequest {
                    path: layout.dir(i),
                    permission: 0o755,
                    create_parent: false,
                }
            )?;
        }
        NnOp::Create => {
            let path = layout.file(i);
            let file_id = create_file(target, user, &path, client_name).await?;
            // NNThroughputBenchmark's create: create, then complete until
            // the namenode agrees (at once for a file without blocks).
            loop {
                let done = call!(
                    target,
                    complete,
                    user,
                    pb::CompleteRequest {
                        path: path.clone(),
                        client_name: client_name.to_string(),
                        last: None,
                        file_id,
                    }
                )?;
                if done.completed {
                    break;
                }
            }
        }
        NnOp::Open => {
            call!(
                target,
                get_block_locations,
                user,
                pb::GetBlockLocationsRequest {
                    path: layout.file(i),
                    offset: 0,
                    length: u64::MAX,
                }
            )?;
        }
        NnOp::FileStatus => {
            let found = call!(
                target,
                get_file_info,
                user,
                pb::GetFileInfoRequest {
                    path: layout.file(i),
                    follow_symlink: true,
                }
            )?;
            if found.status.is_none() {
                bail!("{} does not exist", layout.file(i));
            }
        }
        NnOp::Rename => {
            call!(
                target,
                rename,
                user,
                pb::RenameRequest {
                    src: layout.file(i),
                    dst: layout.renamed(i),
                    overwrite: false,
                }
            )?;
        }
        NnOp::Delete => {
            let deleted = call!(
                target,
                delete,
                user,
                pb::DeleteRequest {
                    path: layout.renamed(i),
                    recursive: false,
                }
            )?;
            if !deleted.deleted {
                bail!("{} was not deleted", layout.renamed(i));
            }
        }
    }
    Ok(())
}

/// Runs `cairn bench nn-ops --rpc-client` as a separate process against
/// the namenode at `addr`; returns its times.
async fn rpc_client_process(
    addr: std::net::SocketAddr,
    plan: &NnOpsPlan,
    threads: usize,
    user: &str,
) -> anyhow::Result<Vec<OpTime>> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "nn-ops".into(),
        "--rpc-client".into(),
        addr.to_string().into(),
        "--namenode-pid".into(),
        std::process::id().to_string().into(),
        "--ops".into(),
        plan.ops.to_string().into(),
        "--threads".into(),
        threads.to_string().into(),
        "--clients".into(),
        plan.clients.to_string().into(),
    ];
    if !plan.only.is_empty() {
        let names: Vec<_> = plan
            .only
            .iter()
            .filter_map(|op| op.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        args.push("--op".into());
        args.push(names.join(",").into());
    }
    rerun("RPC client", user, &args).await
}

/// The `--rpc-client` side: every op over gRPC, times as JSON on stdout.
pub async fn rpc_client(
    addr: &str,
    namenode_pid: Option<u32>,
    user: &str,
    ops: u64,
    threads: usize,
    clients: usize,
    only: &[NnOp],
) -> anyhow::Result<()> {
    let target = NnTarget::connect(addr, user, namenode_pid).await?;
    let layout = Layout {
        prefix: format!("/nnbench-rpc-t{threads}"),
        ops,
    };
    let times = run_all(&target, user, &layout, threads, clients, only).await?;
    println!("{}", serde_json::to_string(&times)?);
    Ok(())
}

/// The same operations on ext4 (or whatever the scratch directory is on),
/// by plain threads, without fsync (Cairn's namespace ops are durable;
/// ext4's metadata journal commits in the background).
mod ext4 {
    use super::*;
    use std::fs;

    pub fn run_all(root: &Path, ops: u64, threads: usize) -> anyhow::Result<Vec<Duration>> {
        let layout = |i: u64| root.join(format!("d{}", i / FAN_OUT));
        for j in 0..ops.div_ceil(FAN_OUT) {
            fs::create_dir_all(layout(j * FAN_OUT).join("dirs"))?;
        }
        let file = |i: u64| layout(i).join(format!("f{i}"));
        let renamed = |i: u64| layout(i).join(format!("r{i}"));
        let dir = |i: u64| layout(i).join("dirs").join(format!("m{i}"));
        let mut times = Vec::new();
        for op in NnOp::ALL {
            times.push(drive(ops, threads, |i| -> std::io::Result<()> {
                match op {
                    NnOp::Mkdirs => fs::create_dir(dir(i)),
                    NnOp::Create => fs::File::create_new(file(i)).map(drop),
                    NnOp::Open => fs::File::open(file(i)).map(drop),
                    NnOp::FileStatus => fs::metadata(file(i)).map(drop),
                    NnOp::Rename => fs::rename(file(i), renamed(i)),
                    NnOp::Delete => fs::remove_file(renamed(i)),
                }
            })?);
        }
        fs::remove_dir_all(root)?;
        Ok(times)
    }

    fn drive(
        ops: u64,
        threads: usize,
        op: impl Fn(u64) -> std::io::Result<()> + Sync,
    ) -> anyhow::Result<Duration> {
        let next = AtomicU64::new(0);
        let start = Instant::now();
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads.max(1))
                .map(|_| {
                    s.spawn(|| -> std::io::Result<()> {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= ops {
                                return Ok(());
                            }
                            op(i)?;
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join()
                    .map_err(|_| anyhow::anyhow!("an ext4 baseline thread panicked"))??;
            }
            Ok::<(), anyhow::Error>(())
        })?;
        Ok(start.elapsed())
    }
}
