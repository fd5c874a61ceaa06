//! Path syntax: what HDFS's DFSUtil.isValidName accepts, plus the reserved
//! `/.reserved/.inodes/<id>[/rest]` form that addresses an inode by id.

use crate::error::{NamenodeError, Result};
use crate::namespace::inode::InodeId;

/// The top-level name no one may create (HDFS's FSDirectory.DOT_RESERVED).
pub const DOT_RESERVED: &str = ".reserved";
const DOT_INODES: &str = ".inodes";

/// A syntactically valid path, not yet resolved against the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedPath {
    /// "/a/b" as ["a", "b"]; the root is [].
    Plain(Vec<String>),
    /// "/.reserved/.inodes/<id>/rest" as (id, ["rest"]).
    ById { id: InodeId, rest: Vec<String> },
}

/// Checks and splits an absolute path. Refuses relative paths, empty
/// components, "." and ".." with INVALID_PATH naming the path.
pub fn parse(path: &str) -> Result<ParsedPath> {
    let invalid =
        |why: &str| NamenodeError::InvalidPath(format!("Invalid path name {path}: {why}"));
    if !path.starts_with('/') {
        return Err(invalid("the path must be absolute"));
    }
    if path.contains('\0') {
        return Err(invalid("the path contains a NUL character"));
    }
    // One trailing slash is tolerated ("/a/b/" is "/a/b"), as HDFS does.
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let mut components = Vec::new();
    if !trimmed.is_empty() {
        for c in trimmed[1..].split('/') {
            match c {
                "" => return Err(invalid("empty path component")),
                "." | ".." => return Err(invalid(&format!("the component {c:?} is not allowed"))),
                _ => components.push(c.to_string()),
            }
        }
    }
    if components.first().map(String::as_str) == Some(DOT_RESERVED) {
        if components.get(1).map(String::as_str) != Some(DOT_INODES) {
            return Err(invalid(
                "only /.reserved/.inodes/<inode id> may be used under /.reserved",
            ));
        }
        let id = components
            .get(2)
            .and_then(|c| c.parse::<InodeId>().ok())
            .ok_or_else(|| invalid("expected /.reserved/.inodes/<inode id>"))?;
        let rest = components.split_off(3);
        return Ok(ParsedPath::ById { id, rest });
    }
    Ok(ParsedPath::Plain(components))
}

/// Joins components back into an absolute path ("/" for none).
pub fn join(components: &[impl AsRef<str>]) -> String {
    if components.is_empty() {
        return "/".to_string();
    }
    let mut out = String::new();
    for c in components {
        out.push('/');
        out.push_str(c.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_paths() {
        assert_eq!(parse("/").unwrap(), ParsedPath::Plain(vec![]));
        assert_eq!(
            parse("/a/b/").unwrap(),
            ParsedPath::Plain(vec!["a".into(), "b".into()])
        );
        assert_eq!(join(&["a", "b"]), "/a/b");
        assert_eq!(join(&[] as &[&str]), "/");
    }

    #[test]
    fn rejects_bad_paths_naming_them() {
        for bad in ["a/b", "/a//b", "/a/./b", "/a/../b", "", "/.reserved/x"] {
            let err = parse(bad).unwrap_err();
            assert!(matches!(err, NamenodeError::InvalidPath(_)), "{bad}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn reserved_inode_paths() {
        assert_eq!(
            parse("/.reserved/.inodes/16386/x").unwrap(),
            ParsedPath::ById {
                id: 16386,
                rest: vec!["x".into()]
            }
        );
        assert!(parse("/.reserved/.inodes/abc").is_err());
    }
}
