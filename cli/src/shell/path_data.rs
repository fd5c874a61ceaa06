//! HDFS's `PathData`: a path as the user wrote it (what messages and
//! listings print), the absolute path the namenode knows, and its status.
//!
//! Relative paths are under the user's home, `/user/<name>`, as in HDFS.
//! Paths may carry the scheme and authority (`cairn://nn:8020/a`); an
//! authority other than the shell's namenode is refused with Hadoop's
//! "Wrong FS" message.

use cairn_client::{FileStatus, FileType};

use super::path_exceptions::ShellError;

/// A path of the shell's file system, with its status when it exists.
#[derive(Debug, Clone)]
pub(crate) struct PathData {
    /// `PathData.toString()`: the string given on the command line, or a
    /// child of it, or a glob match converted to the same style.
    pub(crate) display: String,
    /// The absolute, normalized path in the namespace.
    pub(crate) path: String,
    /// `None` when the path does not exist.
    pub(crate) stat: Option<FileStatus>,
}

impl PathData {
    pub(crate) fn new(display: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            display: display.into(),
            path: path.into(),
            stat: None,
        }
    }

    pub(crate) fn with_stat(mut self, stat: Option<FileStatus>) -> Self {
        self.stat = stat;
        self
    }

    pub(crate) fn exists(&self) -> bool {
        self.stat.is_some()
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.file_type() == Some(FileType::Directory)
    }

    pub(crate) fn is_file(&self) -> bool {
        self.file_type() == Some(FileType::File)
    }

    pub(crate) fn is_symlink(&self) -> bool {
        self.file_type() == Some(FileType::Symlink)
    }

    fn file_type(&self) -> Option<FileType> {
        self.stat
            .as_ref()
            .and_then(|s| FileType::try_from(s.file_type).ok())
    }

    /// The length of the file, 0 for what does not exist.
    pub(crate) fn len(&self) -> u64 {
        self.stat.as_ref().map_or(0, |s| s.length)
    }

    /// `Path.getName()`: the last component ("" for the root).
    pub(crate) fn name(&self) -> &str {
        base_name(&self.path)
    }

    /// The display string of a child, as `getStringForChildPath` builds it:
    /// children of `.` print bare, others as `parent/child`.
    pub(crate) fn child_display(&self, name: &str) -> String {
        if self.display == "." {
            name.to_string()
        } else if self.display.ends_with('/') {
            format!("{}{name}", self.display)
        } else {
            format!("{}/{name}", self.display)
        }
    }

    /// A child of this directory, without a status yet.
    pub(crate) fn child(&self, name: &str) -> PathData {
        PathData::new(self.child_display(name), join(&self.path, name))
    }

    /// This path with a suffix (`._COPYING_`), without a status.
    pub(crate) fn suffix(&self, suffix: &str) -> PathData {
        PathData::new(
            format!("{}{suffix}", self.display),
            format!("{}{suffix}", self.path),
        )
    }

    /// `PathData.representsDirectory()`: the path as written ends in `/`,
    /// `.` or `..`, so it can only mean a directory.
    pub(crate) fn represents_directory(&self) -> bool {
        let name = self.display.rsplit('/').next().unwrap_or("");
        name.is_empty() || name == "." || name == ".."
    }
}

/// The last component of an absolute path ("" for the root).
pub(crate) fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

/// The parent of an absolute normalized path (the root is its own parent).
pub(crate) fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(at) => &path[..at],
    }
}

/// `dir/name` for an absolute directory path.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Removes empty and `.` components and applies `..` (Hadoop's `Path`
/// normalizes through `URI.normalize()`); the result is absolute.
pub(crate) fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// How a path was written, which decides how glob matches are printed
/// (`PathData.PathType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathStyle {
    /// `cairn://nn:8020/a`: matches print with the same scheme and authority.
    Qualified,
    /// `/a`: matches print as absolute paths.
    Absolute,
    /// `a/b`: matches print relative to the home directory.
    Relative,
}

/// A command-line path taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedPath {
    /// Absolute, normalized, glob characters still in place.
    pub(crate) absolute: String,
    pub(crate) style: PathStyle,
    /// `cairn://host:port` when the path was qualified.
    pub(crate) prefix: String,
}

/// Resolves `arg` against the home directory `cwd`. `fs_uri` is the
/// shell's `cairn://host:port`; a qualified path naming another authority
/// is refused.
pub(crate) fn parse(arg: &str, cwd: &str, fs_uri: &str) -> Result<ParsedPath, ShellError> {
    if arg.is_empty() {
        return Err(ShellError::Message(
            "Can not create a Path from an empty string".to_string(),
        ));
    }
    let (scheme_part, rest) = split_scheme(arg);
    let (style, prefix, path) = match scheme_part {
        None => {
            let style = if rest.starts_with('/') {
                PathStyle::Absolute
            } else {
                PathStyle::Relative
            };
            (style, String::new(), rest.to_string())
        }
        Some((scheme, authority)) => {
            let expected_scheme = fs_uri.split("://").next().unwrap_or("");
            let expected_authority = fs_uri.split("://").nth(1).unwrap_or("");
            let authority_ok = authority.is_empty() || authority == expected_authority;
            if !scheme.eq_ignore_ascii_case(expected_scheme) || !authority_ok {
                return Err(ShellError::Message(format!(
                    "Wrong FS: {arg}, expected: {fs_uri}"
                )));
            }
            let style = PathStyle::Qualified;
            let prefix = format!("{scheme}://{authority}");
            let path = if rest.is_empty() {
                "/".to_string()
            } else {
                rest.to_string()
            };
            (style, prefix, path)
        }
    };
    let joined = if path.starts_with('/') {
        path
    } else if path.is_empty() {
        cwd.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    Ok(ParsedPath {
        absolute: normalize(&joined),
        style,
        prefix,
    })
}

/// `scheme://authority` and the rest, as `PathData.stringToUri` splits: a
/// scheme needs a colon directly followed by a slash.
fn split_scheme(arg: &str) -> (Option<(&str, &str)>, &str) {
    let (Some(colon), Some(slash)) = (arg.find(':'), arg.find('/')) else {
        return (None, arg);
    };
    if colon == 0 || slash != colon + 1 {
        return (None, arg);
    }
    let scheme = &arg[..colon];
    let after = &arg[colon + 1..];
    match after.strip_prefix("//") {
        Some(rest) if !rest.is_empty() => {
            let end = rest.find('/').unwrap_or(rest.len());
            (Some((scheme, &rest[..end])), &rest[end..])
        }
        _ => (Some((scheme, "")), after),
    }
}

/// How a glob match (an absolute path) is printed for a pattern of `style`.
pub(crate) fn display_match(absolute: &str, parsed: &ParsedPath, cwd: &str) -> String {
    match parsed.style {
        PathStyle::Qualified => format!("{}{absolute}", parsed.prefix),
        PathStyle::Absolute => absolute.to_string(),
        PathStyle::Relative => relativize(cwd, absolute),
    }
}

/// `PathData.relativize`: `path` relative to `cwd`, with `..` where needed
/// and `.` for the directory itself.
pub(crate) fn relativize(cwd: &str, path: &str) -> String {
    if cwd == path {
        return ".".to_string();
    }
    let cwd_parts: Vec<&str> = cwd.split('/').filter(|p| !p.is_empty()).collect();
    let path_parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let common = cwd_parts
        .iter()
        .zip(&path_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<&str> = vec![".."; cwd_parts.len() - common];
    parts.extend(&path_parts[common..]);
    parts.join("/")
}

/// A local path as given (`file:///x`, `/x` or `x`), for `-put` and `-get`.
pub(crate) fn local_path(arg: &str) -> &str {
    match split_scheme(arg) {
        (Some((scheme, _)), rest) if scheme.eq_ignore_ascii_case("file") => {
            if rest.is_empty() {
                "/"
            } else {
                rest
            }
        }
        _ => arg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "cairn://nn:8020";

    #[test]
    fn normalizes_like_hadoop_path() {
        assert_eq!(normalize("/a//b/"), "/a/b");
        assert_eq!(normalize("/a/./b/../c"), "/a/c");
        assert_eq!(normalize("/.."), "/");
        assert_eq!(normalize("/"), "/");
    }

    #[test]
    fn relative_paths_are_under_home() {
        let parsed = parse("logs/x", "/user/alice", URI).unwrap();
        assert_eq!(parsed.absolute, "/user/alice/logs/x");
        assert_eq!(parsed.style, PathStyle::Relative);
        assert_eq!(
            parse(".", "/user/alice", URI).unwrap().absolute,
            "/user/alice"
        );
        assert_eq!(parse("..", "/user/alice", URI).unwrap().absolute, "/user");
    }

    #[test]
    fn qualified_paths_must_name_this_cluster() {
        let parsed = parse("cairn://nn:8020/a/b", "/user/alice", URI).unwrap();
        assert_eq!(parsed.absolute, "/a/b");
        assert_eq!(parsed.style, PathStyle::Qualified);
        assert_eq!(
            display_match("/a/b", &parsed, "/user/alice"),
            "cairn://nn:8020/a/b"
        );
        assert_eq!(parse("cairn:///a", "/u", URI).unwrap().absolute, "/a");
        assert_eq!(parse("cairn://nn:8020", "/u", URI).unwrap().absolute, "/");
        let wrong = parse("cairn://other:1/a", "/u", URI).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "Wrong FS: cairn://other:1/a, expected: cairn://nn:8020"
        );
        assert!(parse("hdfs://nn:8020/a", "/u", URI).is_err());
        // A colon not followed by a slash is part of the name.
        assert_eq!(parse("a:b", "/u", URI).unwrap().absolute, "/u/a:b");
    }

    #[test]
    fn relativize_as_hadoop() {
        assert_eq!(relativize("/user/alice", "/user/alice"), ".");
        assert_eq!(relativize("/user/alice", "/user/alice/x/y"), "x/y");
        assert_eq!(relativize("/user/alice", "/user/bob"), "../bob");
        assert_eq!(relativize("/user/alice", "/tmp"), "../../tmp");
    }

    #[test]
    fn children_keep_the_written_form() {
        let dot = PathData::new(".", "/user/alice");
        assert_eq!(dot.child_display("a"), "a");
        let rel = PathData::new("d", "/user/alice/d");
        assert_eq!(rel.child("a").display, "d/a");
        assert_eq!(rel.child("a").path, "/user/alice/d/a");
        let root = PathData::new("/", "/");
        assert_eq!(root.child("a").display, "/a");
        assert_eq!(root.child("a").path, "/a");
        assert!(PathData::new("/d/", "/d").represents_directory());
        assert!(PathData::new("..", "/").represents_directory());
        assert!(!PathData::new("/d", "/d").represents_directory());
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(base_name("/a/b"), "b");
        assert_eq!(base_name("/"), "");
    }

    #[test]
    fn local_paths_drop_the_file_scheme() {
        assert_eq!(local_path("file:///tmp/x"), "/tmp/x");
        assert_eq!(local_path("file:/tmp/x"), "/tmp/x");
        assert_eq!(local_path("rel/x"), "rel/x");
        assert_eq!(local_path("-"), "-");
    }
}
