//! From S3 names to namespace paths: a bucket is a top-level directory, a
//! key is the path below it. A key that cannot be a path (`..`, `.`, empty
//! segments, NUL) is refused with S3's error, never mapped elsewhere.

use s3s::S3ErrorCode;

use crate::error::{GatewayError, Result, s3_err};

/// The hidden directory where the gateway stages uploads: the namenode
/// leaves it out of listings of `/` (see `cairn_proto::S3_STAGING_DIR`), and
/// it is not a valid bucket name (a leading dot), so no S3 request reaches it.
pub const STAGING_ROOT: &str = "/.cairn-s3";

/// Bytes of a key S3 accepts.
const MAX_KEY_LEN: usize = 1024;

/// A validated object key: where it lives, and whether it is a directory
/// marker (a key ending in `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    pub bucket: String,
    pub key: String,
    /// `/bucket/key` without a trailing slash.
    pub path: String,
    pub is_dir_marker: bool,
}

impl ObjectPath {
    /// The directory the object's file lives in.
    pub fn parent(&self) -> &str {
        match self.path.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &self.path[..i],
        }
    }
}

/// `/bucket`, for a bucket name S3 accepts (3-63 characters of lowercase
/// letters, digits, dots and hyphens, starting and ending with a letter or
/// digit, not shaped like an IP address).
pub fn bucket_path(bucket: &str) -> Result<String> {
    if !is_valid_bucket_name(bucket) {
        return Err(s3_err(
            S3ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {bucket}"),
        ));
    }
    Ok(format!("/{bucket}"))
}

pub fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return false;
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(|&b| edge_ok(b)) || !bytes.last().is_some_and(|&b| edge_ok(b)) {
        return false;
    }
    if !bytes.iter().all(|&b| edge_ok(b) || b == b'.' || b == b'-') {
        return false;
    }
    if name.contains("..") || name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    true
}

/// The path of `key` in `bucket`, refusing keys that are not paths.
pub fn object_path(bucket: &str, key: &str) -> Result<ObjectPath> {
    let bucket_dir = bucket_path(bucket)?;
    validate_key(key)?;
    let is_dir_marker = key.ends_with('/');
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    Ok(ObjectPath {
        bucket: bucket.to_string(),
        key: key.to_string(),
        path: format!("{bucket_dir}/{trimmed}"),
        is_dir_marker,
    })
}

/// A key is a path below its bucket: no empty, `.` or `..` segment (a
/// single trailing `/` marks a directory), no NUL, at most 1024 bytes.
pub fn validate_key(key: &str) -> Result<()> {
    let invalid = |why: &str| -> GatewayError {
        s3_err(
            S3ErrorCode::InvalidArgument,
            format!("Object key {key:?} cannot be stored in Cairn: {why}"),
        )
    };
    if key.len() > MAX_KEY_LEN {
        return Err(s3_err(
            S3ErrorCode::KeyTooLongError,
            "Your key is too long (at most 1024 bytes)",
        ));
    }
    if key.is_empty() {
        return Err(invalid("the key is empty"));
    }
    if key.contains('\0') {
        return Err(invalid("it contains a NUL character"));
    }
    let body = key.strip_suffix('/').unwrap_or(key);
    for segment in body.split('/') {
        match segment {
            "" => {
                return Err(invalid(
                    "it has an empty path segment (`//` or a leading `/`)",
                ));
            }
            "." | ".." => return Err(invalid("`.` and `..` are not allowed as path segments")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_below_their_bucket() {
        let p = object_path("photos", "2024/a.jpg").unwrap();
        assert_eq!(p.path, "/photos/2024/a.jpg");
        assert_eq!(p.parent(), "/photos/2024");
        assert!(!p.is_dir_marker);
        let dir = object_path("photos", "2024/").unwrap();
        assert_eq!(dir.path, "/photos/2024");
        assert!(dir.is_dir_marker);
    }

    #[test]
    fn keys_that_are_not_paths_are_refused() {
        for key in [
            "../x", "a/../b", "./a", "a//b", "/a", "a/.", "", "a\0b", "a/b//",
        ] {
            let err = object_path("b1b", key).unwrap_err().into_s3();
            assert_eq!(err.code(), &S3ErrorCode::InvalidArgument, "{key:?}");
        }
        let long = "k".repeat(1025);
        let err = object_path("b1b", &long).unwrap_err().into_s3();
        assert_eq!(err.code(), &S3ErrorCode::KeyTooLongError);
    }

    #[test]
    fn staging_is_the_directory_the_namenode_leaves_unlisted() {
        assert_eq!(STAGING_ROOT, format!("/{}", cairn_proto::S3_STAGING_DIR));
    }

    #[test]
    fn bucket_names_follow_s3() {
        for good in ["abc", "my-bucket.1", "a1b"] {
            assert!(is_valid_bucket_name(good), "{good}");
        }
        for bad in [
            "ab",
            "Abc",
            "-abc",
            "abc-",
            "a_b",
            "a..b",
            "192.168.1.1",
            ".cairn-s3",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_bucket_name(bad), "{bad}");
        }
    }
}
