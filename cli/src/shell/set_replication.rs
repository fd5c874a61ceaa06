//! `-setrep [-R] [-w] <rep> <path> ...` (Hadoop's `SetReplication`):
//! changes the replication of files (of every file below a directory) and,
//! with `-w`, waits until every block has exactly that many live replicas.

use std::io::Write;
use std::time::Duration;

use super::command_format::{CommandFormat, UNLIMITED};
use super::path_data::PathData;
use super::path_exceptions::{PathReason, ShellError, UsageError};
use super::{FileSystem, Shell};

/// How often `-w` looks at the replicas again. Hadoop waits 10 s; a shorter
/// poll answers sooner on a small cluster at the cost of a few more calls.
const WAIT_POLL: Duration = Duration::from_secs(1);

pub(crate) async fn setrep<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(2, UNLIMITED, &["R", "w"]);
    cf.parse(&mut args)?;
    let wait = cf.flag("w");
    let text = args.remove(0);
    let replication = match text.parse::<i16>() {
        Ok(r) => r,
        Err(_) => {
            shell.display_warning("Illegal replication, a positive integer expected");
            return Err(UsageError(format!("For input string: \"{text}\"")));
        }
    };
    let replication = u32::try_from(replication)
        .ok()
        .filter(|r| *r >= 1)
        .ok_or_else(|| UsageError("replication must be >= 1".to_string()))?;
    let mut wait_list = Vec::new();
    for item in shell.expand_arguments(&args).await {
        if !item.exists() {
            shell.display_error(ShellError::not_found(&item.display));
            continue;
        }
        set_tree(shell, item, replication, &mut wait_list).await;
    }
    if wait {
        for item in wait_list {
            if let Err(err) = wait_for_replication(shell, item, replication).await {
                shell.display_error(err);
            }
        }
    }
    Ok(0)
}

/// Sets the replication of `item`, or of every file below it.
async fn set_tree<F: FileSystem>(
    shell: &mut Shell<F>,
    item: PathData,
    replication: u32,
    wait_list: &mut Vec<PathData>,
) {
    if item.is_symlink() {
        shell.display_error(ShellError::path(
            &item.display,
            PathReason::Other("Symlinks unsupported".to_string()),
        ));
        return;
    }
    if item.is_file() {
        match shell.fs.set_replication(&item.path, replication).await {
            Ok(true) => {
                let line = format!("Replication {replication} set: {}", item.display);
                match shell.println(line) {
                    Ok(()) => wait_list.push(item),
                    Err(err) => shell.display_error(err),
                }
            }
            Ok(false) => shell.display_error(ShellError::Message(format!(
                "Could not set replication for: {}",
                item.display
            ))),
            Err(err) => shell.display_error(ShellError::from(err)),
        }
        return;
    }
    match shell.directory_contents(&item).await {
        Ok(children) => {
            for child in children {
                Box::pin(set_tree(shell, child, replication, wait_list)).await;
            }
        }
        Err(err) => shell.display_error(err),
    }
}

/// `Waiting for /f ... done`, a dot per look that found a block with
/// another number of live replicas.
async fn wait_for_replication<F: FileSystem>(
    shell: &mut Shell<F>,
    mut item: PathData,
    replication: u32,
) -> Result<(), ShellError> {
    write_out(shell, &format!("Waiting for {} ...", item.display))?;
    let mut warned = false;
    loop {
        shell.refresh(&mut item).await?;
        let length = item.len();
        let located = shell.fs.get_block_locations(&item.path, 0, length).await?;
        let mismatch = located
            .blocks
            .iter()
            .map(live_replicas)
            .find(|live| *live != replication);
        match mismatch {
            None => break,
            Some(live) => {
                if !warned && live > replication {
                    write_out(
                        shell,
                        "\nWARNING: the waiting time may be long for DECREASING the number of replications.\n",
                    )?;
                    warned = true;
                }
                write_out(shell, ".")?;
                tokio::time::sleep(WAIT_POLL).await;
            }
        }
    }
    write_out(shell, " done\n")
}

/// Replicas of a block on datanodes that hold a good copy.
fn live_replicas(block: &cairn_client::LocatedBlock) -> u32 {
    let live = block
        .locations
        .iter()
        .filter(|d| !block.corrupt_datanode_uuids.contains(&d.datanode_uuid))
        .count();
    u32::try_from(live).unwrap_or(u32::MAX)
}

/// Progress text, flushed at once so that a watcher sees the dots.
fn write_out<F: FileSystem>(shell: &mut Shell<F>, text: &str) -> Result<(), ShellError> {
    shell
        .out
        .write_all(text.as_bytes())
        .and_then(|()| shell.out.flush())
        .map_err(ShellError::stdout)
}
