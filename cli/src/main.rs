//! `cairn`: the one binary of Cairn.
//!
//! Daemons (`server`, `namenode`, `datanode`) and the HDFS-style tools
//! (`dfs`, `fsck`, `dfsadmin`) are subcommands. The tools keep Hadoop's own
//! single-dash syntax (`cairn dfs -ls -R /`), so they take their arguments
//! raw and parse them the way FsShell does; the rest is clap.

mod bench;
mod chaos;
mod config;
mod daemon;
mod dfsadmin;
mod embedded;
mod fsck;
mod generic_options;
mod human;
mod mount;
mod s3;
mod server;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cairn: a distributed file system in the mould of HDFS.
#[derive(Parser, Debug)]
#[command(name = "cairn", version, about, long_about = None)]
struct Cli {
    /// Act as this user (HDFS simple authentication). Default: $CAIRN_USER,
    /// else the user running the command.
    #[arg(long, global = true, value_name = "USER")]
    user: Option<String>,

    /// TOML configuration file (every key: cairn.example.toml in the
    /// repository). Default:
    /// $CAIRN_CONFIG when set.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log level or filter (error, warn, info, debug, trace, or a
    /// tracing filter such as `cairn_namenode=debug`). Default: $RUST_LOG,
    /// else `info` for daemons and `warn` for tools.
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,

    /// Write the log to FILE (appending) instead of standard error.
    #[arg(long, global = true, value_name = "FILE")]
    log_file: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a whole cluster in one process: a namenode and three datanodes,
    /// data under ./cairn-data. The quickest way to start.
    Server(server::ServerArgs),
    /// Run a namenode (one per cluster).
    Namenode(daemon::NamenodeArgs),
    /// Run a datanode (one per machine, with one or more data directories).
    Datanode(daemon::DatanodeArgs),
    /// The file system shell, as `hdfs dfs` (try `cairn dfs -help`).
    #[command(disable_help_flag = true)]
    Dfs {
        /// Generic options, a command and its arguments, as `hdfs dfs` takes them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Check the health of files and blocks, as `hdfs fsck`.
    #[command(disable_help_flag = true)]
    Fsck {
        /// A path and options (-files -blocks -locations), as `hdfs fsck`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Administer the cluster (-report, -safemode), as `hdfs dfsadmin`.
    #[command(disable_help_flag = true)]
    Dfsadmin {
        /// A command and its arguments, as `hdfs dfsadmin` takes them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Serve the namespace through the S3 API (buckets are top-level
    /// directories), for the AWS CLI, boto3 and other S3 tools.
    S3(s3::S3Args),
    /// Kill, pause and corrupt datanodes while writing and reading, then
    /// check that no acknowledged byte was lost.
    Chaos(chaos::ChaosArgs),
    /// Mount the cluster on an empty directory as an ordinary file system
    /// (FUSE), in the foreground until Ctrl-C or `fusermount3 -u`.
    Mount(mount::MountArgs),
    /// Check the configuration file, or print every key with its default.
    Config(ConfigArgs),
    /// Measure throughput against a baseline run on the same machine.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args, Debug)]
struct ConfigArgs {
    /// Print the default configuration, every key commented (the same as
    /// cairn.example.toml), instead of checking the file.
    #[arg(long)]
    print_default: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(hadoop_style_args(std::env::args()));
    let daemon = matches!(
        cli.command,
        Command::Server(_)
            | Command::Namenode(_)
            | Command::Datanode(_)
            | Command::Mount(_)
            | Command::S3(_)
    );
    if let Err(err) = init_logging(cli.log_level.as_deref(), cli.log_file.as_deref(), daemon) {
        eprintln!("cairn: {err:#}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cairn: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("cairn: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Command::Config(args) = &cli.command {
        if args.print_default {
            print!("{}", config::print_default());
            return Ok(0);
        }
        config::Settings::load(cli.config.as_deref(), cli.user.as_deref())?;
        match config::config_source(cli.config.as_deref()) {
            Some(path) => println!("{}: OK", path.display()),
            None => {
                println!("no configuration file (--config or $CAIRN_CONFIG): the defaults apply")
            }
        }
        return Ok(0);
    }
    let settings = config::Settings::load(cli.config.as_deref(), cli.user.as_deref())?;
    let status = match cli.command {
        Command::Server(args) => server::run(settings, args).await.map(|()| 0)?,
        Command::Namenode(args) => daemon::run_namenode(settings, args).await.map(|()| 0)?,
        Command::Datanode(args) => daemon::run_datanode(settings, args).await.map(|()| 0)?,
        Command::Dfs { args } => shell::run(settings.client_config(), args).await,
        Command::Fsck { args } => fsck::run(settings.client_config(), args).await,
        Command::Dfsadmin { args } => dfsadmin::run(settings.client_config(), args).await,
        Command::S3(args) => s3::run(settings, args).await.map(|()| 0)?,
        Command::Chaos(args) => i32::from(chaos::run(settings, args).await?),
        Command::Mount(args) => mount::run(settings, args).await.map(|()| 0)?,
        Command::Bench(args) => bench::run(settings, args).await.map(|()| 0)?,
        Command::Config(_) => 0,
    };
    Ok(u8::try_from(status).unwrap_or(1))
}

/// Hadoop spells some daemon flags with one dash (`hdfs namenode -format`);
/// accept that spelling for the daemons' own flags.
fn hadoop_style_args(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut in_namenode = false;
    args.map(|a| {
        let rewritten = match a.as_str() {
            "-format" | "-force" | "-clusterid" if in_namenode => format!("-{a}"),
            _ => a,
        };
        in_namenode |= rewritten == "namenode";
        rewritten
    })
    .collect()
}

/// One line per event: time, level, component (the module's target) and
/// the message with its fields; to standard error, or appended to
/// `--log-file`.
fn init_logging(
    level: Option<&str>,
    file: Option<&std::path::Path>,
    daemon: bool,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(level) => EnvFilter::try_new(level)
            .with_context(|| format!("--log-level `{level}' is not a level or a filter"))?,
        None => EnvFilter::try_from_default_env()
            // s3s logs every refused S3 request (a 404, a bad signature) as
            // an error; the gateway counts them in its metrics instead.
            .unwrap_or_else(|_| EnvFilter::new(if daemon { "info,s3s::ops=off" } else { "warn" })),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    match file {
        Some(path) => {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            builder
                .with_writer(std::sync::Mutex::new(log))
                .with_ansi(false)
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hadoop_single_dash_format_is_accepted() {
        let args = [
            "cairn",
            "--config",
            "c.toml",
            "namenode",
            "-format",
            "-clusterid",
            "CID-1",
        ]
        .map(String::from);
        let cli = Cli::parse_from(hadoop_style_args(args.into_iter()));
        match cli.command {
            Command::Namenode(args) => {
                assert!(args.format);
                assert_eq!(args.clusterid.as_deref(), Some("CID-1"));
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn dfs_takes_its_arguments_raw() {
        let args = ["cairn", "--user", "bob", "dfs", "-ls", "-R", "-h", "/"].map(String::from);
        let cli = Cli::parse_from(hadoop_style_args(args.into_iter()));
        assert_eq!(cli.user.as_deref(), Some("bob"));
        match cli.command {
            Command::Dfs { args } => assert_eq!(args, ["-ls", "-R", "-h", "/"]),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
