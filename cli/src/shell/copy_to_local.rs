//! `-get`/`-copyToLocal` (Hadoop's `CopyCommands.Get`): cluster files and
//! trees to the local file system, each file through `._COPYING_`.

use super::command_format::{CommandFormat, UNLIMITED};
use super::local::{LocalPath, preserve_local};
use super::path_data::PathData;
use super::path_exceptions::{PathReason, ShellError, UsageError};
use super::transfer;
use super::{FileSystem, Shell};

/// `-get [-f] [-p] [-ignoreCrc] <src> ... <localdst>` (and `-copyToLocal`).
pub(crate) async fn get<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, UNLIMITED, &["crc", "ignoreCrc", "p", "f"]);
    cf.parse(&mut args)?;
    if cf.flag("crc") {
        return Err(UsageError(
            "-crc is not supported: Cairn keeps checksums inside the cluster".to_string(),
        ));
    }
    let overwrite = cf.flag("f");
    let preserve = cf.flag("p");
    // `getLocalDestination`: the last argument, or "." alone.
    let dst_arg = if args.len() < 2 {
        ".".to_string()
    } else {
        args.pop().unwrap_or_else(|| ".".to_string())
    };
    let dst = match LocalPath::lookup(&dst_arg) {
        Ok(dst) => dst,
        Err(err) => {
            shell.display_error(err);
            return Ok(1);
        }
    };
    let sources = shell.expand_arguments(&args).await;
    let check = if sources.len() > 1 {
        if !dst.exists() {
            Err(ShellError::not_found(&dst.display))
        } else if !dst.is_dir() {
            Err(ShellError::is_not_directory(&dst.display))
        } else {
            Ok(())
        }
    } else if dst.exists() {
        if !dst.is_dir() && !overwrite {
            Err(ShellError::exists(&dst.display))
        } else {
            Ok(())
        }
    } else if !dst.parent_exists() {
        Err(ShellError::not_found(&dst.display))
    } else {
        Ok(())
    };
    if let Err(err) = check {
        shell.display_error(err);
        return Ok(1);
    }
    for src in sources {
        if !src.exists() {
            shell.display_error(ShellError::not_found(&src.display));
            continue;
        }
        let target = if dst.is_dir() || dst.represents_directory() {
            dst.child(src.name())
        } else {
            LocalPath::lookup(&dst.display)
        };
        match target {
            Ok(target) => get_tree(shell, src, target, overwrite, preserve).await,
            Err(err) => shell.display_error(err),
        }
    }
    Ok(0)
}

/// Copies a cluster file or tree to the local `target`.
async fn get_tree<F: FileSystem>(
    shell: &mut Shell<F>,
    src: PathData,
    target: LocalPath,
    overwrite: bool,
    preserve: bool,
) {
    let result = if src.is_symlink() {
        Err(ShellError::path(
            &src.display,
            PathReason::OperationNotSupported,
        ))
    } else if src.is_dir() {
        get_dir(shell, &src, target, overwrite, preserve).await
    } else {
        get_file(shell, &src, &target, overwrite, preserve).await
    };
    if let Err(err) = result {
        shell.display_error(err);
    }
}

async fn get_file<F: FileSystem>(
    shell: &mut Shell<F>,
    src: &PathData,
    target: &LocalPath,
    overwrite: bool,
    preserve: bool,
) -> Result<(), ShellError> {
    transfer::copy_to_local(shell, src, target, overwrite).await?;
    if preserve {
        preserve_to_local(src, target)?;
    }
    Ok(())
}

async fn get_dir<F: FileSystem>(
    shell: &mut Shell<F>,
    src: &PathData,
    mut target: LocalPath,
    overwrite: bool,
    preserve: bool,
) -> Result<(), ShellError> {
    if target.exists() {
        if !target.is_dir() {
            return Err(ShellError::is_not_directory(&target.display));
        }
    } else {
        std::fs::create_dir(&target.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ShellError::not_found(&target.display),
            _ => ShellError::local(&target.display, e),
        })?;
        target.refresh()?;
    }
    for child in shell.directory_contents(src).await? {
        match target.child(child.name()) {
            Ok(child_target) => {
                Box::pin(get_tree(shell, child, child_target, overwrite, preserve)).await;
            }
            Err(err) => shell.display_error(err),
        }
    }
    if preserve {
        preserve_to_local(src, &target)?;
    }
    Ok(())
}

fn preserve_to_local(src: &PathData, target: &LocalPath) -> Result<(), ShellError> {
    let Some(stat) = src.stat.as_ref() else {
        return Ok(());
    };
    preserve_local(
        target,
        stat.modification_time_ms,
        stat.access_time_ms,
        stat.permission,
    )
}
