//! `-rm` and `-rmdir` (Hadoop's `Delete`). Cairn has no trash, so every
//! delete is immediate, as HDFS's with `fs.trash.interval` at 0;
//! `-skipTrash` is accepted for scripts.

use super::command_format::{CommandFormat, UNLIMITED};
use super::path_data::PathData;
use super::path_exceptions::{PathReason, ShellError, UsageError};
use super::{FileSystem, Shell};

/// `-rm [-f] [-r|-R] [-skipTrash] <src> ...`: prints `Deleted <path>`.
pub(crate) async fn rm<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, UNLIMITED, &["f", "r", "R", "skipTrash"]);
    cf.parse(&mut args)?;
    let ignore_missing = cf.flag("f");
    let recursive = cf.flag("r") || cf.flag("R");
    for arg in &args {
        let items = match shell.expand_argument(arg).await {
            Ok(items) => items,
            // `-f` on a glob that matches nothing is not an error.
            Err(ShellError::Path(err)) if ignore_missing && err.reason == PathReason::NotFound => {
                continue;
            }
            Err(err) => {
                shell.display_error(err);
                continue;
            }
        };
        for item in items {
            if !item.exists() {
                if !ignore_missing {
                    shell.display_error(ShellError::not_found(&item.display));
                }
                continue;
            }
            match rm_one(shell, &item, recursive).await {
                Ok(()) => {
                    if let Err(err) = shell.println(format!("Deleted {}", item.display)) {
                        shell.display_error(err);
                    }
                }
                Err(err) => shell.display_error(err),
            }
        }
    }
    Ok(0)
}

async fn rm_one<F: FileSystem>(
    shell: &Shell<F>,
    item: &PathData,
    recursive: bool,
) -> Result<(), ShellError> {
    if item.is_dir() && !recursive {
        return Err(ShellError::is_directory(&item.display));
    }
    if !shell.fs.delete(&item.path, recursive).await? {
        return Err(ShellError::io(&item.display));
    }
    Ok(())
}

/// `-rmdir [--ignore-fail-on-non-empty] <dir> ...`: empty directories only.
pub(crate) async fn rmdir<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, UNLIMITED, &["-ignore-fail-on-non-empty"]);
    cf.parse(&mut args)?;
    let ignore_non_empty = cf.flag("-ignore-fail-on-non-empty");
    for item in shell.expand_arguments(&args).await {
        if let Err(err) = rmdir_one(shell, &item, ignore_non_empty).await {
            shell.display_error(err);
        }
    }
    Ok(0)
}

async fn rmdir_one<F: FileSystem>(
    shell: &Shell<F>,
    item: &PathData,
    ignore_non_empty: bool,
) -> Result<(), ShellError> {
    if !item.exists() {
        return Err(ShellError::not_found(&item.display));
    }
    if !item.is_dir() {
        return Err(ShellError::is_not_directory(&item.display));
    }
    if shell.fs.list(&item.path).await?.is_empty() {
        if !shell.fs.delete(&item.path, false).await? {
            return Err(ShellError::io(&item.display));
        }
    } else if !ignore_non_empty {
        return Err(ShellError::path(
            &item.display,
            PathReason::IsNotEmptyDirectory,
        ));
    }
    Ok(())
}
