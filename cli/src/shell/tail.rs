//! `-tail [-f] [-s <sleep interval>] <file>` (Hadoop's `Tail`): the last
//! kilobyte, and with `-f` whatever is appended afterwards, looked for every
//! 5 seconds (or every `-s` milliseconds).

use std::time::Duration;

use super::command_format::CommandFormat;
use super::display::copy_to_stdout;
use super::file_system::ReadFile;
use super::path_data::PathData;
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};

/// How much of the end is shown first.
const TAIL_BYTES: u64 = 1024;
/// Hadoop's default pause between looks under `-f`.
const DEFAULT_FOLLOW_DELAY: Duration = Duration::from_millis(5000);

pub(crate) async fn tail<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, 1, &["f"]).with_value("s");
    cf.parse(&mut args)?;
    let follow = cf.flag("f");
    let mut delay = DEFAULT_FOLLOW_DELAY;
    if follow && let Some(text) = cf.value("s").filter(|s| !s.is_empty()) {
        let millis = text
            .parse::<i64>()
            .map_err(|_| UsageError(format!("For input string: \"{text}\"")))?;
        // A zero or negative interval keeps the default, as in Hadoop.
        if let Some(millis) = u64::try_from(millis).ok().filter(|m| *m > 0) {
            delay = Duration::from_millis(millis);
        }
    }
    // Hadoop's tail takes the path as given, without globbing.
    let item = match shell.path_data(&args[0]).await {
        Ok(item) => item,
        Err(err) => {
            shell.display_error(err);
            return Ok(0);
        }
    };
    if let Err(err) = tail_file(shell, item, follow, delay).await {
        shell.display_error(err);
    }
    Ok(0)
}

async fn tail_file<F: FileSystem>(
    shell: &mut Shell<F>,
    mut item: PathData,
    follow: bool,
    delay: Duration,
) -> Result<(), ShellError> {
    if !item.exists() {
        return Err(ShellError::not_found(&item.display));
    }
    if item.is_dir() {
        return Err(ShellError::is_directory(&item.display));
    }
    let mut offset = dump_from(shell, &mut item, None).await?;
    if !follow {
        return Ok(());
    }
    // `-f` runs until interrupted, as `tail -f` does.
    loop {
        tokio::time::sleep(delay).await;
        offset = dump_from(shell, &mut item, Some(offset)).await?;
    }
}

/// Prints from `offset` (the last kilobyte when `None`) to the end; returns
/// where the next look starts.
async fn dump_from<F: FileSystem>(
    shell: &mut Shell<F>,
    item: &mut PathData,
    offset: Option<u64>,
) -> Result<u64, ShellError> {
    shell.refresh(item).await?;
    if !item.exists() {
        return Err(ShellError::not_found(&item.display));
    }
    let size = item.len();
    let start = match offset {
        Some(offset) if offset > size => return Ok(size),
        Some(offset) => offset,
        None => size.saturating_sub(TAIL_BYTES),
    };
    let mut reader = shell.fs.open(&item.path).await?;
    reader.seek(start);
    let written = copy_to_stdout(shell, &mut reader, u64::MAX).await?;
    Ok(start + written)
}
