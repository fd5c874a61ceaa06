//! Local files as `-put` reads them and `-get` writes them (Hadoop's
//! `LocalFileSystem` side of `PathData`): the path as written, and its
//! metadata when it exists.

use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::path_data::local_path;
use super::path_exceptions::ShellError;

/// A local path, with its metadata when it exists.
#[derive(Debug)]
pub(crate) struct LocalPath {
    /// As written on the command line (or a child of it).
    pub(crate) display: String,
    pub(crate) path: PathBuf,
    pub(crate) meta: Option<Metadata>,
}

impl LocalPath {
    /// Looks `arg` up (`file:` URIs accepted), following symbolic links.
    pub(crate) fn lookup(arg: &str) -> Result<LocalPath, ShellError> {
        let path = PathBuf::from(local_path(arg));
        Self::at(arg.to_string(), path)
    }

    fn at(display: String, path: PathBuf) -> Result<LocalPath, ShellError> {
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => Some(meta),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(ShellError::local(&display, err)),
        };
        Ok(LocalPath {
            display,
            path,
            meta,
        })
    }

    /// Looks the metadata up again.
    pub(crate) fn refresh(&mut self) -> Result<(), ShellError> {
        let fresh = Self::at(self.display.clone(), self.path.clone())?;
        self.meta = fresh.meta;
        Ok(())
    }

    pub(crate) fn exists(&self) -> bool {
        self.meta.is_some()
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.meta.as_ref().is_some_and(Metadata::is_dir)
    }

    pub(crate) fn is_file(&self) -> bool {
        self.meta.as_ref().is_some_and(Metadata::is_file)
    }

    pub(crate) fn len(&self) -> u64 {
        self.meta.as_ref().map_or(0, Metadata::len)
    }

    /// The last component of the path, `.` and `..` resolved.
    pub(crate) fn name(&self) -> String {
        let absolute = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
        for component in absolute.components() {
            match component {
                Component::Normal(name) => parts.push(name),
                Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        parts
            .last()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// A child of this directory, looked up.
    pub(crate) fn child(&self, name: &str) -> Result<LocalPath, ShellError> {
        let display = if self.display == "." {
            name.to_string()
        } else if self.display.ends_with('/') {
            format!("{}{name}", self.display)
        } else {
            format!("{}/{name}", self.display)
        };
        Self::at(display, self.path.join(name))
    }

    /// This path with a suffix, looked up.
    pub(crate) fn suffix(&self, suffix: &str) -> Result<LocalPath, ShellError> {
        let mut path = self.path.clone().into_os_string();
        path.push(suffix);
        Self::at(format!("{}{suffix}", self.display), PathBuf::from(path))
    }

    /// The path as written ends in `/`, `.` or `..`.
    pub(crate) fn represents_directory(&self) -> bool {
        let name = self.display.rsplit('/').next().unwrap_or("");
        name.is_empty() || name == "." || name == ".."
    }

    /// `PathData.parentExists()`.
    pub(crate) fn parent_exists(&self) -> bool {
        if self.represents_directory() {
            return self.exists();
        }
        let absolute = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        absolute.parent().is_none_or(Path::exists)
    }

    /// The entries of this directory, sorted by name.
    pub(crate) fn children(&self) -> Result<Vec<LocalPath>, ShellError> {
        let entries =
            std::fs::read_dir(&self.path).map_err(|e| ShellError::local(&self.display, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ShellError::local(&self.display, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        names.iter().map(|name| self.child(name)).collect()
    }

    /// Modification and access times in milliseconds, and the mode bits.
    pub(crate) fn times_and_mode(&self) -> Option<(u64, u64, u16)> {
        let meta = self.meta.as_ref()?;
        let ms = |seconds: i64, nanos: i64| {
            u64::try_from(
                seconds
                    .saturating_mul(1000)
                    .saturating_add(nanos / 1_000_000),
            )
            .unwrap_or(0)
        };
        let mode = u16::try_from(meta.permissions().mode() & 0o7777).unwrap_or(0o644);
        Some((
            ms(meta.mtime(), meta.mtime_nsec()),
            ms(meta.atime(), meta.atime_nsec()),
            mode,
        ))
    }
}

/// Gives a local file or directory the times and mode of a remote one
/// (`-get -p`).
pub(crate) fn preserve_local(
    target: &LocalPath,
    mtime_ms: u64,
    atime_ms: u64,
    mode: u32,
) -> Result<(), ShellError> {
    let at = |ms: u64| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let times = std::fs::FileTimes::new()
        .set_modified(at(mtime_ms))
        .set_accessed(at(atime_ms));
    let error = |e| ShellError::local(&target.display, e);
    std::fs::File::open(&target.path)
        .and_then(|file| file.set_times(times))
        .map_err(error)?;
    std::fs::set_permissions(&target.path, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_files_and_children() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), b"bb").unwrap();
        std::fs::write(dir.path().join("a"), b"a").unwrap();
        let root_arg = dir.path().display().to_string();
        let root = LocalPath::lookup(&root_arg).unwrap();
        assert!(root.is_dir());
        let children = root.children().unwrap();
        let names: Vec<String> = children.iter().map(LocalPath::name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(children[1].len(), 2);
        assert_eq!(children[0].display, format!("{root_arg}/a"));
        let missing = root.child("nope").unwrap();
        assert!(!missing.exists());
        assert!(missing.parent_exists());
        let deep = LocalPath::lookup(&format!("{root_arg}/x/y")).unwrap();
        assert!(!deep.parent_exists());
        assert_eq!(
            LocalPath::lookup(&format!("file://{root_arg}/a"))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn names_resolve_dots() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let dotted = LocalPath::lookup(&format!("{}/sub/.", dir.path().display())).unwrap();
        assert_eq!(dotted.name(), "sub");
        assert!(dotted.represents_directory());
    }

    #[test]
    fn preserves_times_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let target = LocalPath::lookup(&file.display().to_string()).unwrap();
        preserve_local(&target, 1_700_000_000_123, 1_600_000_000_000, 0o640).unwrap();
        let again = LocalPath::lookup(&file.display().to_string()).unwrap();
        let (mtime, atime, mode) = again.times_and_mode().unwrap();
        assert_eq!(mtime, 1_700_000_000_123);
        assert_eq!(atime, 1_600_000_000_000);
        assert_eq!(mode, 0o640);
    }
}
