//! `cairn bench`: Cairn measured against the limits of the machine it runs
//! on. Every benchmark measures its own baseline in the same run (the same
//! disk, the same loopback, the same cores), so the figure that matters is
//! the ratio, which a busy or slow machine changes far less than the
//! absolute numbers. The goals are issue 7's.
//!
//! One module per benchmark; [`report`] holds the table and the JSON,
//! [`cluster`] the scratch directory and the local cluster, [`target`] the
//! namenode reached in process or over gRPC, [`relay`] the network
//! baselines.

mod checksum;
mod cluster;
mod cpu;
mod dfsio;
mod editlog;
mod fuse_meta;
mod fuse_mount;
mod fuse_seq;
mod nn_memory;
mod nn_ops;
mod relay;
mod report;
mod s3_client;
mod s3_large;
mod s3_small;
mod small_files;
mod target;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::config::Settings;
use crate::human;
use cluster::scratch_dir;
use report::Report;

/// Measure Cairn against the machine's own limits, each benchmark beside a
/// baseline run in the same command. Without a benchmark, runs them all.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Every benchmark at a small size: proves they work in under a minute.
    /// Its figures are not the ones to quote.
    #[arg(long, global = true)]
    pub quick: bool,
    /// Print the results as JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Scratch directory on the disk to measure (a new directory is made
    /// in it and removed afterwards). Default: the current directory.
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Put one file, replication 3, durable, beside 3 × `dd conv=fdatasync`
    /// (or, with --tmpfs, data on tmpfs beside a plain TCP relay); three
    /// alternating rounds.
    DfsioWrite(DfsioWriteArgs),
    /// Get one file from a warm page cache, beside one loopback TCP stream.
    DfsioRead(SizeArgs),
    /// The three dfsio workloads with CRC32C checksums (the default) beside
    /// the same without checksums (NULL), three alternating pairs each.
    Checksum(SizeArgs),
    /// Namespace operations per second (NNThroughputBenchmark's create,
    /// mkdirs, open, fileStatus, rename, delete) in process, beside ext4;
    /// with --rpc, also from a separate process over gRPC.
    NnOps(NnOpsArgs),
    /// Creates per edit-log fsync with many clients (group commit).
    Editlog(EditlogArgs),
    /// Namenode memory per file and block.
    NnMemory(NnMemoryArgs),
    /// 1 KiB files: 16 writers, then 16 readers.
    SmallFiles(SmallFilesArgs),
    /// Write and read one file through a FUSE mount, beside dfs -put/-get.
    FuseSeq(SizeArgs),
    /// Create, stat and list empty files through a FUSE mount, beside the
    /// local disk.
    FuseMeta(FuseMetaArgs),
    /// Large objects PUT and GET through the S3 gateway, beside the client
    /// library on the same cluster.
    S3Large(S3LargeArgs),
    /// 4 KiB objects PUT and GET through the S3 gateway, beside the client
    /// library on the same cluster.
    S3Small(S3SmallArgs),
}

#[derive(Args, Debug)]
pub struct S3LargeArgs {
    /// Bytes per object (e.g. 64m). Default: 64m, 8m with --quick.
    #[arg(long, value_parser = human::parse_size)]
    pub size: Option<u64>,
    /// Objects, each PUT and then GET. Default: 16, 4 with --quick.
    #[arg(long)]
    pub objects: Option<u64>,
    /// Concurrent clients (one connection each).
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Rounds of the four phases, alternating whether the direct client or
    /// the gateway goes first; the ratios are of the totals. Default: 3, 1
    /// with --quick.
    #[arg(long)]
    pub rounds: Option<u64>,
}

#[derive(Args, Debug)]
pub struct S3SmallArgs {
    /// Objects of 4 KiB. Default: 5,000, 200 with --quick.
    #[arg(long)]
    pub objects: Option<u64>,
    /// Concurrent clients (one connection each).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
}

#[derive(Args, Debug)]
pub struct DfsioWriteArgs {
    #[command(flatten)]
    pub size: SizeArgs,
    /// Data directories on tmpfs (/dev/shm): the network and CPU path alone.
    #[arg(long)]
    pub tmpfs: bool,
}

#[derive(Args, Debug)]
pub struct SizeArgs {
    /// Bytes to move (e.g. 256m, 1g). Default: 1g, 32m with --quick.
    #[arg(long, value_parser = human::parse_size)]
    pub size: Option<u64>,
}

#[derive(Args, Debug)]
pub struct NnOpsArgs {
    /// Operations of each kind. Default: 1,000,000, 2,000 with --quick.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Worker threads, comma-separated: one set of figures per count.
    #[arg(long, value_delimiter = ',', default_value = "2,16")]
    pub threads: Vec<usize>,
    /// Operations in flight (HDFS's clients), spread over the threads.
    #[arg(long, default_value_t = 256)]
    pub clients: usize,
    /// Also from a separate client process over gRPC, beside the
    /// in-process figure.
    #[arg(long)]
    pub rpc: bool,
    /// Only these operations, comma-separated (e.g. `--op open` to profile
    /// one); the ones they need (create before open) still run, untimed.
    /// Default: all.
    #[arg(long = "op", value_name = "OP", value_enum, value_delimiter = ',')]
    pub only: Vec<nn_ops::NnOp>,
    /// (Internal) be that client process, against the namenode at ADDR.
    #[arg(long, value_name = "ADDR", hide = true)]
    pub rpc_client: Option<String>,
    /// (Internal) with --rpc-client: the namenode's process, whose CPU per
    /// call is measured beside the client's.
    #[arg(long, value_name = "PID", hide = true, requires = "rpc_client")]
    pub namenode_pid: Option<u32>,
}

#[derive(Args, Debug)]
pub struct EditlogArgs {
    /// Creates to run. Default: 100,000, 5,000 with --quick.
    #[arg(long)]
    pub ops: Option<u64>,
    #[arg(long, default_value_t = 16)]
    pub threads: usize,
    /// Creates in flight.
    #[arg(long, default_value_t = 256)]
    pub clients: usize,
}

#[derive(Args, Debug)]
pub struct NnMemoryArgs {
    /// Files of one block each. Default: 1,000,000, 10,000 with --quick.
    #[arg(long)]
    pub files: Option<u64>,
    /// (Internal) be the measuring process.
    #[arg(long, hide = true)]
    pub in_child: bool,
}

#[derive(Args, Debug)]
pub struct SmallFilesArgs {
    /// Files of 1 KiB. Default: 100,000, 300 with --quick.
    #[arg(long)]
    pub files: Option<u64>,
}

#[derive(Args, Debug)]
pub struct FuseMetaArgs {
    /// Empty files. Default: 10,000, 500 with --quick.
    #[arg(long)]
    pub files: Option<u64>,
}

/// Default sizes: the issue's, or small ones for --quick.
struct Sizes {
    dfsio: u64,
    nn_ops: u64,
    editlog: u64,
    nn_memory: u64,
    small_files: u64,
    fuse_meta: u64,
    s3_large_size: u64,
    s3_large_objects: u64,
    s3_small: u64,
    /// Alternating rounds of the runs whose single figures swing on 2
    /// cores (dfsio-write and its baseline; checksum's CRC32C and NULL).
    rounds: u64,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                dfsio: 32 << 20,
                nn_ops: 2_000,
                editlog: 5_000,
                nn_memory: 10_000,
                small_files: 300,
                fuse_meta: 500,
                s3_large_size: 8 << 20,
                s3_large_objects: 4,
                s3_small: 200,
                rounds: 1,
            }
        } else {
            Sizes {
                dfsio: 1 << 30,
                nn_ops: 1_000_000,
                editlog: 100_000,
                nn_memory: 1_000_000,
                small_files: 100_000,
                fuse_meta: 10_000,
                s3_large_size: 64 << 20,
                s3_large_objects: 16,
                s3_small: 5_000,
                rounds: 3,
            }
        }
    }
}

pub async fn run(settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    let sizes = Sizes::new(args.quick);
    // The re-run processes some benchmarks start.
    match &args.command {
        Some(BenchCommand::NnOps(a)) if a.rpc_client.is_some() => {
            let addr = a.rpc_client.as_deref().unwrap_or_default();
            let threads = a.threads.iter().copied().max().unwrap_or(1);
            return nn_ops::rpc_client(
                addr,
                a.namenode_pid,
                &settings.user,
                a.ops.unwrap_or(sizes.nn_ops),
                threads,
                a.clients,
                &a.only,
            )
            .await;
        }
        Some(BenchCommand::NnMemory(a)) if a.in_child => {
            let scratch = scratch_dir(args.dir.as_deref(), "nn-memory-")?;
            return nn_memory::in_child(
                &settings,
                scratch.path(),
                a.files.unwrap_or(sizes.nn_memory),
            )
            .await;
        }
        _ => {}
    }

    if cfg!(debug_assertions) {
        eprintln!("bench: {}", report::DEBUG_BUILD_WARNING);
    }
    let scratch = scratch_dir(args.dir.as_deref(), "cairn-bench-")?;
    let mut report = Report::new();
    match args.command {
        None => run_all(&settings, scratch.path(), &sizes, &mut report).await?,
        Some(command) => run_one(&settings, scratch.path(), &sizes, command, &mut report).await?,
    }
    report.finish();
    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

/// Every benchmark, in the order.
async fn run_all(
    settings: &Settings,
    scratch: &std::path::Path,
    sizes: &Sizes,
    report: &mut Report,
) -> anyhow::Result<()> {
    let nn_ops = NnOpsArgs {
        ops: None,
        threads: vec![2, 16],
        clients: 256,
        rpc: true,
        only: Vec::new(),
        rpc_client: None,
        namenode_pid: None,
    };
    let commands = vec![
        BenchCommand::DfsioWrite(DfsioWriteArgs {
            size: SizeArgs { size: None },
            tmpfs: false,
        }),
        BenchCommand::DfsioWrite(DfsioWriteArgs {
            size: SizeArgs { size: None },
            tmpfs: true,
        }),
        BenchCommand::DfsioRead(SizeArgs { size: None }),
        BenchCommand::Checksum(SizeArgs { size: None }),
        BenchCommand::NnOps(nn_ops),
        BenchCommand::Editlog(EditlogArgs {
            ops: None,
            threads: 16,
            clients: 256,
        }),
        BenchCommand::NnMemory(NnMemoryArgs {
            files: None,
            in_child: false,
        }),
        BenchCommand::SmallFiles(SmallFilesArgs { files: None }),
        BenchCommand::FuseSeq(SizeArgs { size: None }),
        BenchCommand::FuseMeta(FuseMetaArgs { files: None }),
        BenchCommand::S3Large(S3LargeArgs {
            size: None,
            objects: None,
            clients: 4,
            rounds: None,
        }),
        BenchCommand::S3Small(S3SmallArgs {
            objects: None,
            clients: 16,
        }),
    ];
    for command in commands {
        run_one(settings, scratch, sizes, command, report).await?;
    }
    Ok(())
}

async fn run_one(
    settings: &Settings,
    scratch: &std::path::Path,
    sizes: &Sizes,
    command: BenchCommand,
    report: &mut Report,
) -> anyhow::Result<()> {
    // Each benchmark in a directory of its own, removed after it.
    let dir = scratch_dir(Some(scratch), "run-")?;
    let dir = dir.path();
    let result = match command {
        BenchCommand::DfsioWrite(a) => {
            dfsio::write(
                settings,
                dir,
                a.size.size.unwrap_or(sizes.dfsio),
                a.tmpfs,
                sizes.rounds,
                report,
            )
            .await
        }
        BenchCommand::DfsioRead(a) => {
            dfsio::read(settings, dir, a.size.unwrap_or(sizes.dfsio), report).await
        }
        BenchCommand::Checksum(a) => {
            let size = a.size.unwrap_or(sizes.dfsio);
            checksum::run(settings, dir, size, sizes.rounds, report).await
        }
        BenchCommand::NnOps(a) => {
            let plan = nn_ops::NnOpsPlan {
                ops: a.ops.unwrap_or(sizes.nn_ops),
                threads: a.threads,
                clients: a.clients,
                ext4: true,
                rpc: a.rpc,
                only: a.only,
            };
            nn_ops::run(settings, dir, &plan, report).await
        }
        BenchCommand::Editlog(a) => {
            editlog::run(
                settings,
                dir,
                a.ops.unwrap_or(sizes.editlog),
                a.threads,
                a.clients,
                report,
            )
            .await
        }
        BenchCommand::NnMemory(a) => {
            let user = &settings.file.namenode.superuser;
            nn_memory::run(dir, user, a.files.unwrap_or(sizes.nn_memory), report).await
        }
        BenchCommand::SmallFiles(a) => {
            small_files::run(settings, dir, a.files.unwrap_or(sizes.small_files), report).await
        }
        BenchCommand::FuseSeq(a) => {
            fuse_seq::run(settings, dir, a.size.unwrap_or(sizes.dfsio), report).await
        }
        BenchCommand::FuseMeta(a) => {
            fuse_meta::run(settings, dir, a.files.unwrap_or(sizes.fuse_meta), report).await
        }
        BenchCommand::S3Large(a) => {
            let plan = s3_large::S3LargePlan {
                size: a.size.unwrap_or(sizes.s3_large_size),
                objects: a.objects.unwrap_or(sizes.s3_large_objects),
                clients: a.clients,
                rounds: a.rounds.unwrap_or(sizes.rounds).max(1),
            };
            s3_large::run(settings, dir, &plan, report).await
        }
        BenchCommand::S3Small(a) => {
            let objects = a.objects.unwrap_or(sizes.s3_small);
            s3_small::run(settings, dir, objects, a.clients, report).await
        }
    };
    result.context("benchmark failed")
}
