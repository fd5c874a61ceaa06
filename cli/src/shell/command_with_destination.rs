//! The part of Hadoop's `CommandWithDestination` shared by `-mv`, `-cp`,
//! `-put` and `-appendToFile`: finding the destination (the last argument,
//! which may be a glob matching one path), checking it against the number
//! of sources, and naming each source's target inside it.

use super::path_data::{PathData, parent_of};
use super::path_exceptions::{PathReason, ShellError};
use super::{FileSystem, Shell};

/// `getRemoteDestination`: the last argument (taken out of `args`), or the
/// home directory when there is only one argument.
pub(crate) async fn remote_destination<F: FileSystem>(
    shell: &Shell<F>,
    args: &mut Vec<String>,
) -> Result<PathData, ShellError> {
    if args.len() < 2 {
        return shell.path_data(".").await;
    }
    let Some(arg) = args.pop() else {
        return shell.path_data(".").await;
    };
    let mut items = shell.expand_as_glob(&arg).await?;
    match items.len() {
        0 => Err(ShellError::not_found(&arg)),
        1 => Ok(items.remove(0)),
        _ => Err(ShellError::path(
            &arg,
            PathReason::Other("Too many matches".to_string()),
        )),
    }
}

/// `processArguments`: several sources need an existing directory; one
/// source needs a destination that is a directory, absent (with its parent
/// present), or replaceable.
pub(crate) async fn check_remote_destination<F: FileSystem>(
    shell: &Shell<F>,
    dst: &PathData,
    sources: usize,
    overwrite: bool,
) -> Result<(), ShellError> {
    if sources > 1 {
        if !dst.exists() {
            return Err(ShellError::not_found(&dst.display));
        }
        if !dst.is_dir() {
            return Err(ShellError::is_not_directory(&dst.display));
        }
    } else if dst.exists() {
        if !dst.is_dir() && !overwrite {
            return Err(ShellError::exists(&dst.display));
        }
    } else if !parent_exists(shell, dst).await? {
        return Err(ShellError::not_found(&dst.display));
    }
    Ok(())
}

/// `PathData.parentExists()`.
async fn parent_exists<F: FileSystem>(
    shell: &Shell<F>,
    item: &PathData,
) -> Result<bool, ShellError> {
    let lookup = if item.represents_directory() {
        item.path.as_str()
    } else {
        parent_of(&item.path)
    };
    Ok(shell.fs.get_file_info(lookup).await?.is_some())
}

/// `getTargetPath`: inside the destination when it is (or is written as) a
/// directory, or when below the top level; else the destination itself.
pub(crate) async fn remote_target<F: FileSystem>(
    shell: &Shell<F>,
    dst: &PathData,
    name: &str,
    depth: usize,
) -> Result<PathData, ShellError> {
    if depth > 0 || dst.is_dir() || dst.represents_directory() {
        let mut child = dst.child(name);
        shell.refresh(&mut child).await?;
        Ok(child)
    } else {
        Ok(dst.clone())
    }
}

/// `processPathArgument`'s guard for a directory copied or moved within the
/// cluster: not onto itself, not into its own subtree.
pub(crate) fn check_not_into_itself<F: FileSystem>(
    shell: &Shell<F>,
    src: &PathData,
    target: &PathData,
) -> Result<(), ShellError> {
    if target.path == src.path {
        return Err(ShellError::with_target(
            &src.display,
            shell.qualified(&target.path),
            PathReason::Other("are identical".to_string()),
        ));
    }
    let inside = if src.path == "/" {
        target.path != "/"
    } else {
        target.path.starts_with(&format!("{}/", src.path))
    };
    if inside {
        return Err(ShellError::with_target(
            &src.display,
            &target.display,
            PathReason::Other("is a subdirectory of itself".to_string()),
        ));
    }
    Ok(())
}
