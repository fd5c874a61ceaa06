//! `-mv <src> ... <dst>` (Hadoop's `MoveCommands.Rename`): renames within
//! the cluster; several sources need an existing directory as destination.

use super::command_format::{CommandFormat, UNLIMITED};
use super::command_with_destination::{
    check_not_into_itself, check_remote_destination, remote_destination, remote_target,
};
use super::path_data::PathData;
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};

pub(crate) async fn mv<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    CommandFormat::new(2, UNLIMITED, &[]).parse(&mut args)?;
    let dst = match remote_destination(shell, &mut args).await {
        Ok(dst) => dst,
        Err(err) => {
            shell.display_error(err);
            return Ok(1);
        }
    };
    let sources = shell.expand_arguments(&args).await;
    if let Err(err) = check_remote_destination(shell, &dst, sources.len(), false).await {
        shell.display_error(err);
        return Ok(1);
    }
    for src in sources {
        if let Err(err) = move_one(shell, &src, &dst).await {
            shell.display_error(err);
        }
    }
    Ok(0)
}

async fn move_one<F: FileSystem>(
    shell: &Shell<F>,
    src: &PathData,
    dst: &PathData,
) -> Result<(), ShellError> {
    if !src.exists() {
        return Err(ShellError::not_found(&src.display));
    }
    let target = remote_target(shell, dst, src.name(), 0).await?;
    if src.is_dir() {
        check_not_into_itself(shell, src, &target)?;
    }
    if target.exists() {
        return Err(ShellError::exists(&target.display));
    }
    shell.fs.rename(&src.path, &target.path, false).await?;
    Ok(())
}
