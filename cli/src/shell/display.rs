//! `-cat` (Hadoop's `Display.Cat`) and `-head` (`Head`): file contents to
//! stdout, streamed chunk by chunk as the reader returns them.

use std::io::Write;

use super::command_format::{CommandFormat, UNLIMITED};
use super::file_system::ReadFile;
use super::path_data::PathData;
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};

/// What `-head` shows: the first kilobyte.
const HEAD_BYTES: u64 = 1024;

/// `-cat [-ignoreCrc] <src> ...`. Checksums are always verified by the
/// client; `-ignoreCrc` is accepted for scripts.
pub(crate) async fn cat<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, UNLIMITED, &["ignoreCrc"]);
    cf.parse(&mut args)?;
    for item in shell.expand_arguments(&args).await {
        if let Err(err) = print_file(shell, &item, u64::MAX).await {
            shell.display_error(err);
        }
    }
    Ok(0)
}

/// `-head <file>`.
pub(crate) async fn head<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    CommandFormat::new(1, 1, &[]).parse(&mut args)?;
    for item in shell.expand_arguments(&args).await {
        if let Err(err) = print_file(shell, &item, HEAD_BYTES).await {
            shell.display_error(err);
        }
    }
    Ok(0)
}

/// Writes up to `limit` bytes of a file to stdout.
async fn print_file<F: FileSystem>(
    shell: &mut Shell<F>,
    item: &PathData,
    limit: u64,
) -> Result<(), ShellError> {
    if !item.exists() {
        return Err(ShellError::not_found(&item.display));
    }
    if item.is_dir() {
        return Err(ShellError::is_directory(&item.display));
    }
    let mut reader = shell.fs.open(&item.path).await?;
    copy_to_stdout(shell, &mut reader, limit).await?;
    Ok(())
}

/// Copies from `reader` to stdout until the end or `limit` bytes; returns
/// the bytes written.
pub(crate) async fn copy_to_stdout<F: FileSystem>(
    shell: &mut Shell<F>,
    reader: &mut F::Reader,
    limit: u64,
) -> Result<u64, ShellError> {
    let mut written = 0u64;
    while written < limit {
        let Some(chunk) = reader.read_chunk().await? else {
            break;
        };
        let room = usize::try_from(limit - written).unwrap_or(usize::MAX);
        let part = &chunk[..chunk.len().min(room)];
        shell.out.write_all(part).map_err(ShellError::stdout)?;
        written += part.len() as u64;
    }
    shell.out.flush().map_err(ShellError::stdout)?;
    Ok(written)
}
