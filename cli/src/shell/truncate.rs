//! `-truncate [-w] <length> <path> ...` (Hadoop's `Truncate`). When the cut
//! falls inside a block, the namenode first has the datanodes shorten it;
//! `-w` waits until the file is closed at its new length.

use std::io::Write;
use std::time::Duration;

use super::command_format::{CommandFormat, UNLIMITED};
use super::path_data::PathData;
use super::path_exceptions::{PathReason, ShellError, UsageError};
use super::{FileSystem, Shell};

/// Pause between looks while waiting for block recovery (Hadoop: 1 s).
const WAIT_POLL: Duration = Duration::from_secs(1);

pub(crate) async fn truncate<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(2, UNLIMITED, &["w"]);
    cf.parse(&mut args)?;
    let wait = cf.flag("w");
    let text = args.remove(0);
    let length = text
        .parse::<i64>()
        .map_err(|_| UsageError(format!("For input string: \"{text}\"")))?;
    let length =
        u64::try_from(length).map_err(|_| UsageError("length must be >= 0".to_string()))?;
    let mut wait_list = Vec::new();
    for item in shell.expand_arguments(&args).await {
        match truncate_one(shell, &item, length).await {
            Ok(Some(pending)) => wait_list.push(pending),
            Ok(None) => {}
            Err(err) => shell.display_error(err),
        }
    }
    if wait {
        for item in wait_list {
            if let Err(err) = wait_for_recovery(shell, item).await {
                shell.display_error(err);
            }
        }
    }
    Ok(0)
}

/// Truncates one file; returns it when its last block is being recovered.
async fn truncate_one<F: FileSystem>(
    shell: &mut Shell<F>,
    item: &PathData,
    length: u64,
) -> Result<Option<PathData>, ShellError> {
    if !item.exists() {
        return Err(ShellError::not_found(&item.display));
    }
    if item.is_dir() {
        return Err(ShellError::is_directory(&item.display));
    }
    if item.len() < length {
        return Err(ShellError::path(
            &item.display,
            PathReason::Other(format!(
                "Cannot truncate to a larger file size. Current size: {}, truncate size: {length}.",
                item.len()
            )),
        ));
    }
    if shell.fs.truncate(&item.path, length).await? {
        shell.println(format!("Truncated {} to length: {length}", item.display))?;
        Ok(None)
    } else {
        shell.println(format!(
            "Truncating {} to length: {length}. Wait for block recovery to complete before further updating this file.",
            item.display
        ))?;
        Ok(Some(item.clone()))
    }
}

/// `Waiting for block recovery on /f ... done`.
async fn wait_for_recovery<F: FileSystem>(
    shell: &mut Shell<F>,
    mut item: PathData,
) -> Result<(), ShellError> {
    let out_err = ShellError::stdout;
    write!(shell.out, "Waiting for {} ...", item.display).map_err(out_err)?;
    shell.out.flush().map_err(out_err)?;
    loop {
        shell.refresh(&mut item).await?;
        let open = item.stat.as_ref().is_some_and(|s| s.under_construction);
        if !open {
            break;
        }
        write!(shell.out, ".").map_err(out_err)?;
        shell.out.flush().map_err(out_err)?;
        tokio::time::sleep(WAIT_POLL).await;
    }
    writeln!(shell.out, " done").map_err(out_err)?;
    Ok(())
}
