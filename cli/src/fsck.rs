//! `cairn fsck <path> [-files [-blocks [-locations | -racks |
//! -replicaDetails]]] [-openforwrite] [-delete] [-list-corruptfileblocks]`:
//! HDFS's `DFSck`. HDFS runs the check inside the namenode and streams its
//! text; Cairn walks the tree from the client (`fsck/namenode_fsck.rs`)
//! and prints the same text. The exit code is 0 when the path is healthy
//! (or does not exist) and 1 when blocks are missing or corrupt.

mod namenode_fsck;

use std::time::Instant;

use cairn_client::{ClientConfig, DatanodeReportType, DfsClient};

use crate::generic_options;
use crate::human;
#[cfg(test)]
use crate::shell::FileSystem;
use crate::shell::normalize;
use namenode_fsck::{Checker, ClusterFacts, FsckOptions, count_racks, format_summary};

const USAGE: &str = "Usage: cairn fsck <path> [-list-corruptfileblocks | [-delete | -openforwrite] [-files [-blocks [-locations | -racks | -replicaDetails]]]]
\t<path>\tstart checking from this path
\t-delete\tdelete corrupted files
\t-files\tprint out files being checked
\t-openforwrite\tprint out files opened for write
\t-list-corruptfileblocks\tprint out list of missing blocks and files they belong to
\t-files -blocks\tprint out block report
\t-files -blocks -locations\tprint out locations for every block
\t-files -blocks -racks\tprint out network topology for data-node locations
\t-files -blocks -replicaDetails\tprint out each replica details 

Please Note:
\t1. By default fsck ignores files opened for write, use -openforwrite to report such files. They are usually  tagged CORRUPT or HEALTHY depending on their block allocation status
";

/// `cairn fsck ARGS...`; returns the exit code.
pub async fn run(base: ClientConfig, args: Vec<String>) -> i32 {
    let options = match generic_options::parse(base, args) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("{err}");
            print_usage();
            return 1;
        }
    };
    generic_options::warn_ignored(&options);
    let args = options.rest;
    if args.is_empty() {
        print_usage();
        return 1;
    }
    if args
        .iter()
        .any(|a| a == "-h" || a == "-help" || a == "--help")
    {
        println!("{USAGE}");
        return 0;
    }
    let request = match parse_args(&args) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("{message}");
            print_usage();
            return 1;
        }
    };
    let config = options.config;
    let user = config.user.clone();
    let fs_uri = crate::shell::fs_uri_of(&config.namenode);
    let client = match DfsClient::connect(config).await {
        Ok(client) => client,
        Err(err) => {
            eprintln!("fsck: {err}");
            return 1;
        }
    };
    let path = resolve(&request.dir, &user);
    eprintln!(
        "Connecting to namenode via {fs_uri}/fsck?ugi={user}&path={}",
        encode_path(&path)
    );
    let outcome = if request.list_corrupt {
        list_corrupt_file_blocks(&client, &request, &path).await
    } else {
        fsck(&client, &request, &path, &user, &fs_uri).await
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            println!("{message}");
            println!("\n\nFsck on path '{path}' FAILED");
            1
        }
    }
}

fn print_usage() {
    eprintln!("{USAGE}");
    eprint!("{}", generic_options::USAGE);
}

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq)]
struct FsckRequest {
    dir: String,
    options: FsckOptions,
    list_corrupt: bool,
}

/// `DFSck.doWork`'s argument loop.
fn parse_args(args: &[String]) -> Result<FsckRequest, String> {
    let mut request = FsckRequest::default();
    let mut dir: Option<String> = None;
    for arg in args {
        match arg.as_str() {
            "-files" => request.options.show_files = true,
            "-blocks" => request.options.show_blocks = true,
            "-locations" => request.options.show_locations = true,
            "-racks" => request.options.show_racks = true,
            "-replicaDetails" => request.options.show_replica_details = true,
            "-openforwrite" => request.options.show_open_files = true,
            "-delete" => request.options.delete_corrupt = true,
            "-list-corruptfileblocks" => request.list_corrupt = true,
            // Cairn has no snapshots and one storage type.
            "-includeSnapshots" | "-storagepolicies" => {}
            "-move" => {
                return Err(
                    "fsck: -move is not supported: Cairn has no /lost+found; use -delete"
                        .to_string(),
                );
            }
            other if !other.starts_with('-') => {
                if dir.is_some() {
                    return Err(format!(
                        "fsck: can only operate on one path at a time '{other}'"
                    ));
                }
                dir = Some(other.to_string());
            }
            other => return Err(format!("fsck: Illegal option '{other}'")),
        }
    }
    request.dir = dir.unwrap_or_else(|| "/".to_string());
    Ok(request)
}

/// The absolute path fsck reports on (relative paths are under the home).
fn resolve(dir: &str, user: &str) -> String {
    let path = dir.split_once("://").map_or(dir, |(_, rest)| {
        rest.find('/').map_or("/", |at| &rest[at..])
    });
    if path.starts_with('/') {
        normalize(path)
    } else {
        normalize(&format!("/user/{user}/{path}"))
    }
}

/// `URLEncoder.encode` of a path, as the HTTP query HDFS prints shows it.
fn encode_path(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// What fsck needs to know about the cluster before the walk.
async fn cluster_facts(client: &DfsClient) -> Result<ClusterFacts, String> {
    let live = client
        .datanode_report(DatanodeReportType::Live)
        .await
        .map_err(|e| e.to_string())?;
    let defaults = client.server_defaults().await.map_err(|e| e.to_string())?;
    Ok(ClusterFacts {
        datanodes: live.len(),
        racks: count_racks(&live),
        default_replication: defaults.replication,
        block_pool: defaults.cluster_id,
    })
}

/// The local address the namenode sees this client come from.
async fn local_address(fs_uri: &str) -> String {
    let authority = fs_uri.split("://").nth(1).unwrap_or(fs_uri);
    let probe = async {
        let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.ok()?;
        socket.connect(authority).await.ok()?;
        socket.local_addr().ok()
    };
    probe
        .await
        .map_or_else(|| "127.0.0.1".to_string(), |addr| addr.ip().to_string())
}

async fn fsck(
    client: &DfsClient,
    request: &FsckRequest,
    path: &str,
    user: &str,
    fs_uri: &str,
) -> Result<i32, String> {
    let started = Instant::now();
    println!(
        "FSCK started by {user} (auth:SIMPLE) from /{} for path {path} at {}",
        local_address(fs_uri).await,
        human::java_date_local(human::now_ms())
    );
    let Some(status) = client
        .get_file_info(path)
        .await
        .map_err(|e| e.to_string())?
    else {
        println!("\n\nPath '{path}' does not exist");
        return Ok(0);
    };
    let facts = cluster_facts(client).await?;
    let mut checker = Checker::new(client, request.options, facts);
    let walked = checker.check(path, &status).await;
    print!("{}", checker.out);
    walked?;
    print!("{}", format_summary(&checker.result, &checker.facts));
    println!(
        "FSCK ended at {} in {} milliseconds",
        human::java_date_local(human::now_ms()),
        started.elapsed().as_millis()
    );
    let healthy = checker.result.is_healthy();
    println!(
        "\n\nThe filesystem under path '{path}' is {}",
        if healthy { "HEALTHY" } else { "CORRUPT" }
    );
    Ok(if healthy { 0 } else { 1 })
}

/// `-list-corruptfileblocks`: each missing or corrupt block with its file.
async fn list_corrupt_file_blocks(
    client: &DfsClient,
    request: &FsckRequest,
    path: &str,
) -> Result<i32, String> {
    let Some(status) = client
        .get_file_info(path)
        .await
        .map_err(|e| e.to_string())?
    else {
        println!(
            "The filesystem under path '{}' has 0 CORRUPT files",
            request.dir
        );
        return Ok(0);
    };
    let facts = cluster_facts(client).await?;
    let mut checker = Checker::new(client, FsckOptions::default(), facts);
    checker.check(path, &status).await?;
    let corrupt = checker.result.corrupt_file_blocks;
    if !corrupt.is_empty() {
        println!(
            "The list of corrupt files under path '{}' are:",
            request.dir
        );
        for (block, file) in &corrupt {
            println!("{block}\t{file}");
        }
    }
    println!(
        "The filesystem under path '{}' has {} CORRUPT files",
        request.dir,
        corrupt.len()
    );
    Ok(if corrupt.is_empty() { 0 } else { 1 })
}

/// The text `fsck` prints for a finished walk, for tests of fixed trees.
#[cfg(test)]
fn report_text<F: FileSystem>(checker: &Checker<'_, F>, path: &str) -> String {
    let healthy = checker.result.is_healthy();
    format!(
        "{}{}\n\nThe filesystem under path '{path}' is {}\n",
        checker.out,
        format_summary(&checker.result, &checker.facts),
        if healthy { "HEALTHY" } else { "CORRUPT" }
    )
}

#[cfg(test)]
mod tests;
