//! The errors of shell commands, printed as Hadoop prints them
//! (`PathExceptions`, `PathIOException`): the command name, then
//! ``{operation} `path' {to `target'}: reason``, e.g.
//! ``ls: `/nope': No such file or directory``.
//!
//! Errors from the cluster keep the namenode's own message
//! (`mkdir: Permission denied: user=bob, access=WRITE, ...`), as Hadoop
//! prints a `RemoteException`.

use cairn_client::DfsError;

/// Why a path failed, with Hadoop's wording (`PathExceptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathReason {
    /// `PathNotFoundException` (ENOENT).
    NotFound,
    /// `PathExistsException` (EEXIST).
    Exists,
    /// `PathIsDirectoryException` (EISDIR).
    IsDirectory,
    /// `PathIsNotDirectoryException` (ENOTDIR).
    IsNotDirectory,
    /// `PathIsNotEmptyDirectoryException`.
    IsNotEmptyDirectory,
    /// `PathOperationException` (ENOTSUP).
    OperationNotSupported,
    /// `PathIOException` without more detail (EIO): the file system said
    /// "no" without saying why.
    Io,
    /// `PathIOException(path, error)` with a command's own text.
    Other(String),
}

impl PathReason {
    fn text(&self) -> &str {
        match self {
            Self::NotFound => "No such file or directory",
            Self::Exists => "File exists",
            Self::IsDirectory => "Is a directory",
            Self::IsNotDirectory => "Is not a directory",
            Self::IsNotEmptyDirectory => "Directory is not empty",
            Self::OperationNotSupported => "Operation not supported",
            Self::Io => "Input/output error",
            Self::Other(text) => text,
        }
    }
}

/// A `PathIOException`: which path, what was being done, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError {
    pub(crate) operation: Option<&'static str>,
    pub(crate) path: String,
    pub(crate) target: Option<String>,
    pub(crate) reason: PathReason,
    /// Hadoop appends the fully qualified path when it differs
    /// (`withFullyQualifiedPath`).
    pub(crate) qualified: Option<String>,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(operation) = self.operation {
            write!(f, "{operation} ")?;
        }
        write!(f, "`{}'", self.path)?;
        if let Some(target) = &self.target {
            write!(f, " to `{target}'")?;
        }
        write!(f, ": {}", self.reason.text())?;
        if let Some(qualified) = self.qualified.as_ref().filter(|q| **q != self.path) {
            write!(f, ": `{qualified}'")?;
        }
        Ok(())
    }
}

/// Everything a shell command can fail with on one path.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShellError {
    #[error("{0}")]
    Path(PathError),
    /// The cluster refused: print its message's first line.
    #[error("{}", first_line(&.0.to_string()))]
    Dfs(#[from] DfsError),
    /// A local file could not be read or written, as Java words it:
    /// `/tmp/x (Permission denied)`.
    #[error("{path} ({})", os_reason(.source))]
    Local {
        path: String,
        source: std::io::Error,
    },
    /// An `IOException` with a command's own message.
    #[error("{0}")]
    Message(String),
    /// Standard output was closed by its reader (`| head`): like Java's
    /// `PrintStream`, the shell stops writing without complaint.
    #[error("stdout closed")]
    StdoutClosed,
}

impl From<&str> for ShellError {
    fn from(message: &str) -> Self {
        Self::Message(message.to_string())
    }
}

impl ShellError {
    pub(crate) fn path(path: impl Into<String>, reason: PathReason) -> Self {
        Self::Path(PathError {
            operation: None,
            path: path.into(),
            target: None,
            reason,
            qualified: None,
        })
    }

    pub(crate) fn not_found(path: impl Into<String>) -> Self {
        Self::path(path, PathReason::NotFound)
    }

    pub(crate) fn exists(path: impl Into<String>) -> Self {
        Self::path(path, PathReason::Exists)
    }

    pub(crate) fn is_directory(path: impl Into<String>) -> Self {
        Self::path(path, PathReason::IsDirectory)
    }

    pub(crate) fn is_not_directory(path: impl Into<String>) -> Self {
        Self::path(path, PathReason::IsNotDirectory)
    }

    pub(crate) fn io(path: impl Into<String>) -> Self {
        Self::path(path, PathReason::Io)
    }

    /// A `PathIOException` about `path` moving or copying to `target`.
    pub(crate) fn with_target(
        path: impl Into<String>,
        target: impl Into<String>,
        reason: PathReason,
    ) -> Self {
        Self::Path(PathError {
            operation: None,
            path: path.into(),
            target: Some(target.into()),
            reason,
            qualified: None,
        })
    }

    /// A `PathIOException` naming the operation that failed (`mkdir`,
    /// `rename`, `delete`).
    pub(crate) fn operation(
        operation: &'static str,
        path: impl Into<String>,
        target: Option<String>,
    ) -> Self {
        Self::Path(PathError {
            operation: Some(operation),
            path: path.into(),
            target,
            reason: PathReason::Io,
            qualified: None,
        })
    }

    /// `PathNotFoundException(path).withFullyQualifiedPath(qualified)`.
    pub(crate) fn not_found_qualified(path: impl Into<String>, qualified: String) -> Self {
        Self::Path(PathError {
            operation: None,
            path: path.into(),
            target: None,
            reason: PathReason::NotFound,
            qualified: Some(qualified),
        })
    }

    /// A failed write to standard output.
    pub(crate) fn stdout(source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::BrokenPipe {
            Self::StdoutClosed
        } else {
            Self::Local {
                path: "stdout".to_string(),
                source,
            }
        }
    }

    /// A local file error; a missing file reads as Hadoop's
    /// ``put: `x': No such file or directory``.
    pub(crate) fn local(path: impl Into<String>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::NotFound => Self::not_found(path),
            _ => Self::Local { path, source },
        }
    }
}

/// A wrong use of a command (`IllegalArgumentException`): the shell prints
/// `-cmd: message` and the usage, and exits with 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// The OS's reason without Rust's ` (os error N)` suffix, as Java prints it.
fn os_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_client::ErrorKind;
    use cairn_proto::RpcError;

    #[test]
    fn messages_match_hadoop() {
        assert_eq!(
            ShellError::not_found("/nope").to_string(),
            "`/nope': No such file or directory"
        );
        assert_eq!(ShellError::exists("/f").to_string(), "`/f': File exists");
        assert_eq!(
            ShellError::with_target(
                "/a",
                "/a/b/a",
                PathReason::Other("is a subdirectory of itself".into())
            )
            .to_string(),
            "`/a' to `/a/b/a': is a subdirectory of itself"
        );
        assert_eq!(
            ShellError::operation("mkdir", "/x", None).to_string(),
            "mkdir `/x': Input/output error"
        );
        assert_eq!(
            ShellError::not_found_qualified("/a/f", "cairn://nn:1/a/f".into()).to_string(),
            "`/a/f': No such file or directory: `cairn://nn:1/a/f'"
        );
    }

    #[test]
    fn cluster_errors_keep_the_first_line() {
        let err = ShellError::from(DfsError::Rpc(RpcError::new(
            ErrorKind::PermissionDenied,
            "Permission denied: user=bob, access=WRITE\n\tat somewhere",
        )));
        assert_eq!(err.to_string(), "Permission denied: user=bob, access=WRITE");
    }

    #[test]
    fn local_errors_read_as_java() {
        let err = ShellError::local("/tmp/x", std::io::Error::from_raw_os_error(13));
        assert_eq!(err.to_string(), "/tmp/x (Permission denied)");
        let missing = ShellError::local("x", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(missing.to_string(), "`x': No such file or directory");
    }
}
