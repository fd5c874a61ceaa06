//! `cairn chaos`: the users' proof that Cairn keeps its promise — as long
//! as one replica of a block survives, no acknowledged byte is lost and the
//! cluster heals itself back to full replication.
//!
//! A run starts a local cluster of child processes (or drives an existing
//! one through `--kill-cmd`/`--start-cmd`), runs writers and readers that
//! record what was acknowledged, and meanwhile follows a seeded plan of
//! faults (`chaos/schedule.rs`): SIGKILL and restart datanodes, SIGSTOP and
//! SIGCONT them, flip bytes in block files, kill and restart the namenode.
//! At the end it undoes every fault, waits for the cluster to heal
//! (`chaos/healing.rs`), reads back every acknowledged file byte for byte,
//! prints the report (`chaos/report.rs`) and exits non-zero on any loss or
//! mismatch.

mod cluster;
mod healing;
mod report;
mod schedule;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_client::{ClientConfig, DfsClient, SafeModeAction};
use clap::Args;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::Settings;
use cluster::{Cluster, CommandCluster, Corruption, LocalCluster, LocalSettings};
use healing::ReplicationWatch;
use report::{ChaosReport, Healing};
use schedule::{Action, ScheduleOptions};
use workload::{Ledger, WorkloadOptions};

#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// Seed of the fault plan and the workload: the same seed inflicts the
    /// same faults at the same moments. Default: random (printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How long faults are inflicted, e.g. "2m" or "90s".
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub duration: Duration,
    /// Mean time between two faults.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Datanodes in the cluster.
    #[arg(long, default_value_t = 5)]
    pub datanodes: usize,
    /// Replication of the files written.
    #[arg(long, default_value_t = 3)]
    pub replication: u32,
    /// Most datanodes killed or paused at once. Default: replication - 1,
    /// so one replica of every block always survives.
    #[arg(long)]
    pub max_down: Option<usize>,
    /// Also kill the namenode with SIGKILL and restart it.
    #[arg(long)]
    pub kill_namenode: bool,
    /// Concurrent writers.
    #[arg(long, default_value_t = 3)]
    pub writers: usize,
    /// Concurrent readers.
    #[arg(long, default_value_t = 2)]
    pub readers: usize,
    /// Largest file a writer writes (sizes are random up to it), e.g. "4MiB".
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    pub max_file_size: u64,
    /// Block size of the files written, e.g. "1MiB", so files span blocks.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub block_size: u64,
    /// How long to wait for the cluster to heal after the run.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub heal_timeout: Duration,
    /// Where the local cluster keeps its data and logs. Default: a new
    /// temporary directory, removed after a run that passed.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Drive an existing cluster instead of starting one: its namenode
    /// (needs --kill-cmd and --start-cmd).
    #[arg(long, value_name = "HOST:PORT", requires_all = ["kill_cmd", "start_cmd"])]
    pub namenode: Option<String>,
    /// With --namenode: a shell command that kills datanode {i}
    /// (0..datanodes), e.g. "docker kill -s KILL dn{i}".
    #[arg(long, value_name = "TEMPLATE", requires = "namenode")]
    pub kill_cmd: Option<String>,
    /// With --namenode: a shell command that starts datanode {i} again.
    #[arg(long, value_name = "TEMPLATE", requires = "namenode")]
    pub start_cmd: Option<String>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    cairn_proto::config_value::duration::parse(text)
}

fn parse_size(text: &str) -> Result<u64, String> {
    cairn_proto::config_value::size::parse(text)
}

/// Runs `cairn chaos`; returns the exit code (0 = nothing lost).
pub async fn run(settings: Settings, args: ChaosArgs) -> Result<u8> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let max_down = args
        .max_down
        .unwrap_or(args.replication.saturating_sub(1) as usize);
    if args.datanodes == 0 || args.replication == 0 {
        bail!("--datanodes and --replication must be at least 1");
    }
    if (args.replication as usize) > args.datanodes {
        bail!(
            "--replication {} needs at least that many datanodes (--datanodes {})",
            args.replication,
            args.datanodes
        );
    }
    if max_down >= args.datanodes {
        bail!(
            "--max-down {max_down} would leave no datanode up (--datanodes {})",
            args.datanodes
        );
    }
    if args.block_size == 0
        || !args
            .block_size
            .is_multiple_of(cairn_proto::BYTES_PER_CHECKSUM as u64)
    {
        bail!(
            "--block-size must be a positive multiple of {}",
            cairn_proto::BYTES_PER_CHECKSUM
        );
    }
    let local = args.namenode.is_none();
    if args.kill_namenode && !local {
        bail!("--kill-namenode needs the local cluster (it runs the namenode itself)");
    }
    let (dir, _temp) = match (&args.dir, local) {
        (Some(dir), _) => (dir.clone(), None),
        (None, true) => {
            let temp = tempfile::Builder::new()
                .prefix("cairn-chaos-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            (temp.path().to_path_buf(), Some(temp))
        }
        (None, false) => (PathBuf::new(), None),
    };
    println!(
        "cairn chaos: seed {seed}, {} datanodes, replication {}, at most {max_down} down, {:.0} s",
        args.datanodes,
        args.replication,
        args.duration.as_secs_f64()
    );
    let mut cluster = if local {
        println!(
            "Starting a local cluster in {} (logs in {}/logs)",
            dir.display(),
            dir.display()
        );
        let settings = LocalSettings {
            replication: args.replication,
            block_size: args.block_size,
            user: settings.user.clone(),
        };
        Cluster::Local(Box::new(
            LocalCluster::start(&dir, args.datanodes, &settings).await?,
        ))
    } else {
        Cluster::Commands(CommandCluster {
            namenode: args.namenode.clone().unwrap_or_default(),
            kill_cmd: args.kill_cmd.clone().unwrap_or_default(),
            start_cmd: args.start_cmd.clone().unwrap_or_default(),
        })
    };
    let outcome = drive(&mut cluster, &args, seed, max_down, &settings.user).await;
    cluster.stop().await;
    let report = outcome?;
    print!("{report}");
    if report.passed() {
        if let Some(temp) = _temp {
            let _ = temp.close();
        }
        Ok(0)
    } else {
        if let Some(temp) = _temp {
            let kept = temp.keep();
            println!("Data and logs kept in {}", kept.display());
        }
        Ok(1)
    }
}

/// The run itself: workload and faults, then healing and verification.
async fn drive(
    cluster: &mut Cluster,
    args: &ChaosArgs,
    seed: u64,
    max_down: usize,
    user: &str,
) -> Result<ChaosReport> {
    let client = DfsClient::connect(ClientConfig::new(cluster.namenode_addr(), user))
        .await
        .context("cannot reach the namenode")?;
    wait_writable(&client, args.datanodes).await?;

    let mut report = ChaosReport {
        seed,
        datanodes: args.datanodes,
        replication: args.replication,
        max_down,
        duration: args.duration,
        ..Default::default()
    };
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let watch = Arc::new(ReplicationWatch::default());
    let workload = tokio::spawn(workload::run(
        client.clone(),
        WorkloadOptions {
            seed,
            writers: args.writers,
            readers: args.readers,
            max_file_size: args.max_file_size,
            replication: args.replication,
            block_size: args.block_size,
        },
        Arc::clone(&ledger),
        Arc::clone(&stop),
    ));
    let watcher = {
        let (watch, client, stop) = (Arc::clone(&watch), client.clone(), Arc::clone(&stop));
        tokio::spawn(async move { watch.run(client, stop).await })
    };

    let plan = schedule::plan(&ScheduleOptions {
        seed,
        duration: args.duration,
        interval: args.interval,
        datanodes: args.datanodes,
        max_down,
        pauses: matches!(cluster, Cluster::Local(_)),
        corruption: matches!(cluster, Cluster::Local(_)),
        kill_namenode: args.kill_namenode,
    });
    let mut rng = StdRng::seed_from_u64(seed ^ 0xc0_ff_ee);
    let mut corruptions: Vec<Corruption> = Vec::new();
    let started = Instant::now();
    report.started = Some(started);
    let mut fault_error = None;
    for (at, action) in plan {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started + at)).await;
        let done = inflict(
            cluster,
            action,
            &ledger,
            &mut rng,
            &mut corruptions,
            &mut report,
        )
        .await;
        if let Err(e) = done {
            fault_error = Some(e.context(format!("{action:?} failed")));
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = workload.await;
    if let Some(e) = fault_error {
        return Err(e);
    }
    println!(
        "Faults over after {:.0} s; waiting for the cluster to heal",
        started.elapsed().as_secs_f64()
    );

    report.writes_left_open =
        workload::release_failed_writes(&client, &ledger, args.heal_timeout).await;
    let acked = ledger.acked.lock().clone();
    report.heal = match healing::wait_healed(
        &client,
        args.datanodes,
        args.replication,
        &acked,
        &corruptions,
        args.heal_timeout,
    )
    .await
    {
        Ok(took) => Healing::Healed(took),
        Err(reason) => Healing::NotHealed(reason),
    };
    let _ = watcher.await;
    report.longest_degraded = watch.longest(Instant::now());
    let verified = workload::verify(&client, &acked).await;
    report.files_written = acked.len() as u64;
    report.bytes_written = ledger.bytes_written.load(Ordering::Relaxed);
    report.writes_failed = ledger.writes_failed.load(Ordering::Relaxed);
    report.reads = ledger.reads.load(Ordering::Relaxed);
    report.reads_failed = ledger.reads_failed.load(Ordering::Relaxed);
    report.reads_mismatched = ledger.reads_mismatched.lock().len() as u64;
    report.replicas_recreated = verified.replicas_recreated;
    report.corrupt_replaced = corruptions.iter().filter(|c| c.repaired()).count() as u64;
    report.files_verified = verified.files_verified;
    report.bytes_verified = verified.bytes_verified;
    report.files_lost = verified.lost;
    report.files_mismatched = verified.mismatched;
    Ok(report)
}

/// Waits until the datanodes are live and safe mode is off.
async fn wait_writable(client: &DfsClient, datanodes: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let live = client
            .datanode_report(cairn_client::DatanodeReportType::Live)
            .await
            .map(|l| l.len())
            .unwrap_or(0);
        let safe = client
            .set_safe_mode(SafeModeAction::SafemodeGet)
            .await
            .map(|(on, _)| on)
            .unwrap_or(true);
        if live >= datanodes && !safe {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the cluster did not come up: {live} of {datanodes} datanodes live, safe mode {}",
                if safe { "on" } else { "off" }
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Seconds since the run started, for the progress lines.
fn report_clock(report: &ChaosReport) -> f64 {
    report.started.map_or(0.0, |s| s.elapsed().as_secs_f64())
}

/// One progress line per fault.
fn describe(action: Action) -> String {
    match action {
        Action::Kill(i) => format!("kill -9 datanode {i}"),
        Action::Restart(i) => format!("restart datanode {i}"),
        Action::Pause(i) => format!("pause (SIGSTOP) datanode {i}"),
        Action::Resume(i) => format!("resume (SIGCONT) datanode {i}"),
        Action::Corrupt(i) => format!("flip a byte in a block file of datanode {i}"),
        Action::KillNamenode => "kill -9 the namenode".to_string(),
        Action::RestartNamenode => "restart the namenode".to_string(),
    }
}

/// Carries out one action of the plan and counts it.
async fn inflict(
    cluster: &mut Cluster,
    action: Action,
    ledger: &Ledger,
    rng: &mut StdRng,
    corruptions: &mut Vec<Corruption>,
    report: &mut ChaosReport,
) -> Result<()> {
    tracing::info!(?action, "chaos");
    println!("[{:>6.1} s] {}", report_clock(report), describe(action));
    match action {
        Action::Kill(i) => {
            cluster.kill_datanode(i).await?;
            report.kills += 1;
        }
        Action::Restart(i) => {
            cluster.start_datanode(i).await?;
            report.restarts += 1;
        }
        Action::Pause(i) => {
            if let Cluster::Local(c) = cluster {
                c.pause_datanode(i)?;
                report.pauses += 1;
            }
        }
        Action::Resume(i) => {
            if let Cluster::Local(c) = cluster {
                c.resume_datanode(i)?;
            }
        }
        Action::Corrupt(i) => {
            if let Cluster::Local(c) = cluster
                && let Some(corruption) = c.corrupt(i, &ledger.acked_blocks(), rng)?
            {
                tracing::info!(
                    block = corruption.block_id,
                    datanode = i,
                    "flipped a byte of {}",
                    corruption.path.display()
                );
                corruptions.push(corruption);
                report.corruptions += 1;
            }
        }
        Action::KillNamenode => {
            if let Cluster::Local(c) = cluster {
                c.kill_namenode().await?;
                report.namenode_kills += 1;
            }
        }
        Action::RestartNamenode => {
            if let Cluster::Local(c) = cluster {
                c.start_namenode().await?;
            }
        }
    }
    Ok(())
}
