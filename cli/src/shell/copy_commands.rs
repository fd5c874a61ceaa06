//! `-put`/`-copyFromLocal`, `-moveFromLocal` and `-cp` (Hadoop's
//! `CopyCommands`): argument handling and the walk over directories; the
//! bytes move in `transfer.rs`.

use super::command_format::{CommandFormat, UNLIMITED};
use super::command_with_destination::{
    check_not_into_itself, check_remote_destination, remote_destination, remote_target,
};
use super::local::LocalPath;
use super::path_data::PathData;
use super::path_exceptions::{PathReason, ShellError, UsageError};
use super::transfer::{self, Source, WriteOptions};
use super::{FileSystem, Shell};

/// Which attributes of the source a copy keeps (`-p[topax]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Preserve {
    pub(crate) times: bool,
    pub(crate) ownership: bool,
    pub(crate) permission: bool,
    pub(crate) xattrs: bool,
}

impl Preserve {
    /// `-p` alone: times, ownership and permission.
    fn all() -> Self {
        Self {
            times: true,
            ownership: true,
            permission: true,
            xattrs: false,
        }
    }

    fn any(&self) -> bool {
        self.times || self.ownership || self.permission || self.xattrs
    }

    /// `-p[topax]` letters; ACLs (`a`) are permissions here, Cairn having no
    /// ACLs beyond the mode.
    fn from_letters(letters: &str) -> Result<Self, UsageError> {
        let mut preserve = Self::default();
        for c in letters.chars() {
            match c.to_ascii_lowercase() {
                't' => preserve.times = true,
                'o' => preserve.ownership = true,
                'p' | 'a' => preserve.permission = true,
                'x' => preserve.xattrs = true,
                _ => return Err(UsageError(format!("No attribute for {c}"))),
            }
        }
        Ok(preserve)
    }
}

/// `-put [-f] [-p] [-l] [-d] <localsrc> ... <dst>` (and `-copyFromLocal`).
pub(crate) async fn put<F: FileSystem>(
    shell: &mut Shell<F>,
    args: Vec<String>,
) -> Result<i32, UsageError> {
    put_sources(shell, args, false).await
}

/// `-moveFromLocal`: `-put`, then each local source that was copied is
/// deleted.
pub(crate) async fn move_from_local<F: FileSystem>(
    shell: &mut Shell<F>,
    args: Vec<String>,
) -> Result<i32, UsageError> {
    put_sources(shell, args, true).await
}

async fn put_sources<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
    remove_sources: bool,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, UNLIMITED, &["f", "p", "l", "d"]);
    cf.parse(&mut args)?;
    let write = WriteOptions {
        overwrite: cf.flag("f"),
        direct: cf.flag("d"),
        lazy_persist: cf.flag("l"),
    };
    // Local sources: the times and the mode can be kept, not the owner.
    let preserve = cf.flag("p").then(|| Preserve {
        ownership: false,
        ..Preserve::all()
    });
    let dst = match remote_destination(shell, &mut args).await {
        Ok(dst) => dst,
        Err(err) => {
            shell.display_error(err);
            return Ok(1);
        }
    };
    if args.len() == 1 && args[0] == "-" {
        // `-put - <dst>`: standard input, into a file named "-" when the
        // destination is a directory, as in Hadoop.
        let result = async {
            let target = remote_target(shell, &dst, "-", 0).await?;
            let mut stdin = std::mem::replace(&mut shell.stdin, Box::new(tokio::io::empty()));
            let copied =
                transfer::copy_to_remote(shell, Source::Stdin(&mut *stdin), &target, write, None)
                    .await;
            shell.stdin = stdin;
            copied
        }
        .await;
        if let Err(err) = result {
            shell.display_error(err);
        }
        return Ok(0);
    }
    let mut sources = Vec::new();
    for arg in &args {
        match LocalPath::lookup(arg) {
            Ok(src) => sources.push(src),
            Err(err) => shell.display_error(err),
        }
    }
    if let Err(err) = check_remote_destination(shell, &dst, sources.len(), write.overwrite).await {
        shell.display_error(err);
        return Ok(1);
    }
    for src in sources {
        if !src.exists() {
            shell.display_error(ShellError::not_found(&src.display));
            continue;
        }
        let copied = match remote_target(shell, &dst, &src.name(), 0).await {
            Ok(target) => put_tree(shell, &src, target, write, preserve).await,
            Err(err) => {
                shell.display_error(err);
                false
            }
        };
        if copied && remove_sources {
            let removed = if src.is_dir() {
                std::fs::remove_dir_all(&src.path)
            } else {
                std::fs::remove_file(&src.path)
            };
            if let Err(err) = removed {
                shell.display_error(ShellError::local(&src.display, err));
            }
        }
    }
    Ok(0)
}

/// Copies a local file or tree to `target`; false if anything failed
/// (each failure is displayed).
async fn put_tree<F: FileSystem>(
    shell: &mut Shell<F>,
    src: &LocalPath,
    target: PathData,
    write: WriteOptions,
    preserve: Option<Preserve>,
) -> bool {
    let result = if src.is_dir() {
        put_dir(shell, src, target, write, preserve).await
    } else if src.is_file() {
        put_file(shell, src, &target, write, preserve).await
    } else {
        Err(ShellError::path(
            &src.display,
            PathReason::OperationNotSupported,
        ))
    };
    match result {
        Ok(ok) => ok,
        Err(err) => {
            shell.display_error(err);
            false
        }
    }
}

async fn put_file<F: FileSystem>(
    shell: &mut Shell<F>,
    src: &LocalPath,
    target: &PathData,
    write: WriteOptions,
    preserve: Option<Preserve>,
) -> Result<bool, ShellError> {
    let source = transfer::open_local(src).await?;
    transfer::copy_to_remote(shell, source, target, write, Some(src.len())).await?;
    if let Some(preserve) = preserve {
        preserve_from_local(shell, src, target, preserve).await?;
    }
    Ok(true)
}

/// `recursePath` for a local directory: the remote directory (made if
/// needed), then each entry inside it.
async fn put_dir<F: FileSystem>(
    shell: &mut Shell<F>,
    src: &LocalPath,
    mut target: PathData,
    write: WriteOptions,
    preserve: Option<Preserve>,
) -> Result<bool, ShellError> {
    make_remote_dir(shell, &mut target).await?;
    let mut all_ok = true;
    for child in src.children()? {
        let child_target = remote_target(shell, &target, &child.name(), 1).await?;
        all_ok &= Box::pin(put_tree(shell, &child, child_target, write, preserve)).await;
    }
    if let Some(preserve) = preserve {
        preserve_from_local(shell, src, &target, preserve).await?;
    }
    Ok(all_ok)
}

/// The destination directory of a recursive copy: existing, or created.
async fn make_remote_dir<F: FileSystem>(
    shell: &Shell<F>,
    target: &mut PathData,
) -> Result<(), ShellError> {
    if target.exists() {
        if !target.is_dir() {
            return Err(ShellError::is_not_directory(&target.display));
        }
        return Ok(());
    }
    if !shell.fs.mkdirs(&target.path, None).await? {
        return Err(ShellError::operation("mkdir", &target.display, None));
    }
    shell.refresh(target).await
}

async fn preserve_from_local<F: FileSystem>(
    shell: &Shell<F>,
    src: &LocalPath,
    target: &PathData,
    preserve: Preserve,
) -> Result<(), ShellError> {
    let Some((mtime, atime, mode)) = src.times_and_mode() else {
        return Ok(());
    };
    if preserve.times {
        shell
            .fs
            .set_times(&target.path, Some(mtime), Some(atime))
            .await?;
    }
    if preserve.permission {
        shell.fs.set_permission(&target.path, mode).await?;
    }
    Ok(())
}

/// `-cp [-f] [-p | -p[topax]] [-d] <src> ... <dst>`: copies within the
/// cluster, directories recursively.
pub(crate) async fn cp<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let preserve = pop_preserve_option(&mut args)?;
    let mut cf = CommandFormat::new(2, UNLIMITED, &["f", "d"]);
    cf.parse(&mut args)?;
    let write = WriteOptions {
        overwrite: cf.flag("f"),
        direct: cf.flag("d"),
        lazy_persist: false,
    };
    let dst = match remote_destination(shell, &mut args).await {
        Ok(dst) => dst,
        Err(err) => {
            shell.display_error(err);
            return Ok(1);
        }
    };
    let sources = shell.expand_arguments(&args).await;
    if let Err(err) = check_remote_destination(shell, &dst, sources.len(), write.overwrite).await {
        shell.display_error(err);
        return Ok(1);
    }
    for src in sources {
        if !src.exists() {
            shell.display_error(ShellError::not_found(&src.display));
            continue;
        }
        let target = match remote_target(shell, &dst, src.name(), 0).await {
            Ok(target) => target,
            Err(err) => {
                shell.display_error(err);
                continue;
            }
        };
        if src.is_dir()
            && let Err(err) = check_not_into_itself(shell, &src, &target)
        {
            shell.display_error(err);
            continue;
        }
        cp_tree(shell, src, target, write, preserve).await;
    }
    Ok(0)
}

/// `popPreserveOption`: the first `-p...` switch (before `--`), anywhere
/// among the options.
fn pop_preserve_option(args: &mut Vec<String>) -> Result<Option<Preserve>, UsageError> {
    for i in 0..args.len() {
        if args[i] == "--" {
            break;
        }
        if let Some(letters) = args[i].strip_prefix("-p") {
            let preserve = if letters.is_empty() {
                Preserve::all()
            } else {
                Preserve::from_letters(letters)?
            };
            args.remove(i);
            return Ok(Some(preserve));
        }
    }
    Ok(None)
}

async fn cp_tree<F: FileSystem>(
    shell: &mut Shell<F>,
    src: PathData,
    target: PathData,
    write: WriteOptions,
    preserve: Option<Preserve>,
) {
    let result = if src.is_symlink() {
        Err(ShellError::path(
            &src.display,
            PathReason::OperationNotSupported,
        ))
    } else if src.is_dir() {
        cp_dir(shell, &src, target, write, preserve).await
    } else {
        cp_file(shell, &src, &target, write, preserve).await
    };
    if let Err(err) = result {
        shell.display_error(err);
    }
}

async fn cp_file<F: FileSystem>(
    shell: &mut Shell<F>,
    src: &PathData,
    target: &PathData,
    write: WriteOptions,
    preserve: Option<Preserve>,
) -> Result<(), ShellError> {
    let reader = shell.fs.open(&src.path).await?;
    let source = Source::Remote(reader);
    transfer::copy_to_remote(shell, source, target, write, Some(src.len())).await?;
    if let Some(preserve) = preserve {
        preserve_remote(shell, src, target, preserve).await?;
    }
    Ok(())
}

async fn cp_dir<F: FileSystem>(
    shell: &mut Shell<F>,
    src: &PathData,
    mut target: PathData,
    write: WriteOptions,
    preserve: Option<Preserve>,
) -> Result<(), ShellError> {
    make_remote_dir(shell, &mut target).await?;
    for child in shell.directory_contents(src).await? {
        let child_target = remote_target(shell, &target, child.name(), 1).await?;
        Box::pin(cp_tree(shell, child, child_target, write, preserve)).await;
    }
    if let Some(preserve) = preserve {
        preserve_remote(shell, src, &target, preserve).await?;
    }
    Ok(())
}

/// `preserveAttributes` between two cluster paths.
async fn preserve_remote<F: FileSystem>(
    shell: &Shell<F>,
    src: &PathData,
    target: &PathData,
    preserve: Preserve,
) -> Result<(), ShellError> {
    let Some(stat) = src.stat.as_ref() else {
        return Ok(());
    };
    if !preserve.any() {
        return Ok(());
    }
    if preserve.times {
        shell
            .fs
            .set_times(
                &target.path,
                Some(stat.modification_time_ms),
                Some(stat.access_time_ms),
            )
            .await?;
    }
    if preserve.ownership {
        let current = shell.fs.get_file_info(&target.path).await?;
        let owner =
            Some(stat.owner.as_str()).filter(|o| current.as_ref().is_none_or(|c| c.owner != *o));
        let group =
            Some(stat.group.as_str()).filter(|g| current.as_ref().is_none_or(|c| c.group != *g));
        if owner.is_some() || group.is_some() {
            shell.fs.set_owner(&target.path, owner, group).await?;
        }
    }
    if preserve.permission {
        let mode = u16::try_from(stat.permission & 0o7777).unwrap_or(0o644);
        shell.fs.set_permission(&target.path, mode).await?;
    }
    if preserve.xattrs {
        for (name, value) in shell.fs.get_xattrs(&src.path).await? {
            shell.fs.set_xattr(&target.path, &name, &value).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preserve_letters() {
        let mut args: Vec<String> = ["-f", "-ptop", "/a", "/b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let preserve = pop_preserve_option(&mut args).unwrap().unwrap();
        assert_eq!(args, ["-f", "/a", "/b"]);
        assert!(preserve.times && preserve.ownership && preserve.permission && !preserve.xattrs);
        let mut args = vec!["-p".to_string(), "/a".to_string()];
        assert_eq!(
            pop_preserve_option(&mut args).unwrap(),
            Some(Preserve::all())
        );
        let mut args = vec!["-px".to_string()];
        assert!(pop_preserve_option(&mut args).unwrap().unwrap().xattrs);
        let mut args = vec!["-pq".to_string()];
        assert_eq!(
            pop_preserve_option(&mut args).unwrap_err().0,
            "No attribute for q"
        );
        let mut args = vec!["--".to_string(), "-p".to_string()];
        assert_eq!(pop_preserve_option(&mut args).unwrap(), None);
    }
}
