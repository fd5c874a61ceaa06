//! Object metadata kept in the file's extended attributes:
//!
//! * `user.s3.etag`: the ETag and the length and modification time of the
//!   file it was computed for (`"<etag>" <length> <mtime-ms>`), so that a
//!   file changed by another path (an append, a truncate) is seen as stale;
//! * `user.s3.meta`: the standard headers (Content-Type, Cache-Control, ...)
//!   and the `x-amz-meta-*` pairs, as one JSON object, so that a PUT costs
//!   one extra namenode call, not one per header;
//! * `user.s3.parts`: for an object completed from a multipart upload, the
//!   sizes of its parts in order (decimal, space-separated), so that a GET
//!   or HEAD with `partNumber` can serve one part's bytes. It is trusted
//!   only while the ETag stamp still describes the file.
//!
//! A file written by the CLI or the mount has neither: its ETag is the MD5
//! of its bytes, computed on first need and cached in `user.s3.etag`.

use std::collections::BTreeMap;

use crate::md5_lanes::Md5Stream;
use cairn_client::{DfsClient, FileStatus, XAttrSetFlag};
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub const ETAG_XATTR: &str = "user.s3.etag";
pub const META_XATTR: &str = "user.s3.meta";
/// On a bucket's directory: `public-read` lets anonymous requests read it.
pub const ACL_XATTR: &str = "user.s3.acl";
/// On an object completed from a multipart upload: its part sizes.
pub const PARTS_XATTR: &str = "user.s3.parts";
/// On a directory: it was created as an S3 directory marker (`key/`).
pub const DIR_MARKER_XATTR: &str = "user.s3.dir-marker";

/// The headers S3 stores with an object and returns on GET and HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ObjectMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// The `Expires` header as an HTTP date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `x-amz-meta-*`, without the prefix.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, String>,
}

impl ObjectMeta {
    pub fn is_empty(&self) -> bool {
        *self == ObjectMeta::default()
    }

    fn from_xattr(value: &[u8]) -> ObjectMeta {
        serde_json::from_slice(value).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "ignoring unreadable {META_XATTR}");
            ObjectMeta::default()
        })
    }
}

/// An ETag as S3 prints it, without quotes: a hex MD5, or
/// `<md5-of-part-md5s>-<parts>` for a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampedEtag {
    pub etag: String,
    pub length: u64,
    pub mtime_ms: u64,
}

impl StampedEtag {
    pub fn for_status(etag: String, status: &FileStatus) -> Self {
        Self {
            etag,
            length: status.length,
            mtime_ms: status.modification_time_ms,
        }
    }

    fn encode(&self) -> String {
        format!("\"{}\" {} {}", self.etag, self.length, self.mtime_ms)
    }

    fn decode(value: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(value).ok()?;
        let mut parts = text.rsplitn(3, ' ');
        let mtime_ms = parts.next()?.parse().ok()?;
        let length = parts.next()?.parse().ok()?;
        let etag = parts.next()?.strip_prefix('"')?.strip_suffix('"')?;
        Some(Self {
            etag: etag.to_string(),
            length,
            mtime_ms,
        })
    }

    /// Still describes the file as it is now.
    fn matches(&self, status: &FileStatus) -> bool {
        self.length == status.length && self.mtime_ms == status.modification_time_ms
    }
}

/// Everything the gateway keeps about an object.
#[derive(Debug, Clone)]
pub struct StoredMeta {
    pub etag: String,
    pub meta: ObjectMeta,
    /// The part sizes of an object completed from a multipart upload
    /// (`None` for any other object, or when the file changed since).
    pub parts: Option<Vec<u64>>,
}

impl StoredMeta {
    /// The bytes of part `number` (1-based) of an object of `length`
    /// bytes, and how many parts it has; `None` when it has fewer. An
    /// object not completed from a multipart upload is one part.
    pub fn part_range(&self, number: u32, length: u64) -> Option<(std::ops::Range<u64>, usize)> {
        let Some(parts) = &self.parts else {
            return (number == 1).then_some((0..length, 1));
        };
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        let size = *parts.get(index)?;
        let start: u64 = parts.iter().take(index).sum();
        Some((start..start + size, parts.len()))
    }
}

/// The value of [`PARTS_XATTR`] for these part sizes.
pub fn encode_parts(sizes: &[u64]) -> String {
    let text: Vec<String> = sizes.iter().map(u64::to_string).collect();
    text.join(" ")
}

/// The part sizes in a [`PARTS_XATTR`] value, if they add up to `length`.
fn decode_parts(value: &[u8], length: u64) -> Option<Vec<u64>> {
    let sizes = std::str::from_utf8(value)
        .ok()?
        .split(' ')
        .map(|s| s.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    let total = sizes.iter().try_fold(0u64, |sum, s| sum.checked_add(*s))?;
    (total == length && !sizes.is_empty()).then_some(sizes)
}

/// Writes the ETag stamp and (when there is any) the headers of a new file.
pub async fn store(
    client: &DfsClient,
    path: &str,
    etag: &StampedEtag,
    meta: &ObjectMeta,
) -> Result<()> {
    let flag = XAttrSetFlag::XattrCreateOrReplace;
    client
        .set_xattr(path, ETAG_XATTR, etag.encode().as_bytes(), flag)
        .await?;
    if !meta.is_empty() {
        let json = serde_json::to_vec(meta)
            .map_err(|e| crate::error::s3_err(s3s::S3ErrorCode::InternalError, e.to_string()))?;
        client.set_xattr(path, META_XATTR, &json, flag).await?;
    }
    Ok(())
}

/// The ETag and headers of the file at `path` (whose status the caller
/// has): the cached ETag when it still matches the file, else the MD5 of
/// its bytes, cached for next time when the caller may write the file.
pub async fn load(client: &DfsClient, path: &str, status: &FileStatus) -> Result<StoredMeta> {
    let xattrs = client.get_xattrs(path).await?;
    from_xattrs(client, path, status, &xattrs).await
}

/// As [`load`], from the file's xattrs fetched by the caller (a GET asks
/// for them at the same time as it opens the file: one namenode round
/// trip less per object).
pub async fn from_xattrs(
    client: &DfsClient,
    path: &str,
    status: &FileStatus,
    xattrs: &[(String, Vec<u8>)],
) -> Result<StoredMeta> {
    let mut etag = None;
    let mut meta = ObjectMeta::default();
    let mut parts = None;
    for (name, value) in xattrs {
        match name.as_str() {
            ETAG_XATTR => etag = StampedEtag::decode(value).filter(|e| e.matches(status)),
            META_XATTR => meta = ObjectMeta::from_xattr(value),
            PARTS_XATTR => parts = decode_parts(value, status.length),
            _ => {}
        }
    }
    let etag = match etag {
        Some(stamped) => stamped.etag,
        None => {
            // Changed since it was completed: no longer made of those parts.
            parts = None;
            let etag = compute_etag(client, path).await?;
            let stamped = StampedEtag::for_status(etag.clone(), status);
            // Only the file's writers may cache it; for others it is
            // computed again next time.
            if let Err(err) = client
                .set_xattr(
                    path,
                    ETAG_XATTR,
                    stamped.encode().as_bytes(),
                    XAttrSetFlag::XattrCreateOrReplace,
                )
                .await
            {
                tracing::debug!(%path, error = %err, "ETag not cached");
            }
            etag
        }
    };
    Ok(StoredMeta { etag, meta, parts })
}

/// The MD5 of a whole file, in hex: the ETag of a file that was not put
/// through S3.
async fn compute_etag(client: &DfsClient, path: &str) -> Result<String> {
    let mut reader = client.open(path).await?;
    let mut md5 = Md5Stream::new();
    while let Some(chunk) = reader.read_chunk().await? {
        md5.update(&chunk);
    }
    Ok(hex::encode(md5.finalize()))
}

/// The ETag of a multipart object: the MD5 of the parts' binary MD5s, and
/// the number of parts.
pub fn multipart_etag(part_etags: &[String]) -> String {
    let mut md5 = Md5Stream::new();
    for etag in part_etags {
        match hex::decode(etag) {
            Ok(bytes) => md5.update(&bytes),
            Err(_) => md5.update(etag.as_bytes()),
        }
    }
    format!("{}-{}", hex::encode(md5.finalize()), part_etags.len())
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};

    use super::*;

    #[test]
    fn stamp_round_trips_and_detects_change() {
        let status = FileStatus {
            length: 5,
            modification_time_ms: 77,
            ..FileStatus::default()
        };
        let stamped = StampedEtag::for_status("abc-2".into(), &status);
        let decoded = StampedEtag::decode(stamped.encode().as_bytes()).unwrap();
        assert_eq!(decoded, stamped);
        assert!(decoded.matches(&status));
        let appended = FileStatus {
            length: 6,
            ..status
        };
        assert!(!decoded.matches(&appended));
        assert!(StampedEtag::decode(b"garbage").is_none());
    }

    #[test]
    fn part_ranges_follow_the_recorded_sizes() {
        let stored = |parts| StoredMeta {
            etag: String::new(),
            meta: ObjectMeta::default(),
            parts,
        };
        let sizes = decode_parts(encode_parts(&[5, 5, 2]).as_bytes(), 12);
        let multipart = stored(sizes);
        assert_eq!(multipart.part_range(1, 12), Some((0..5, 3)));
        assert_eq!(multipart.part_range(3, 12), Some((10..12, 3)));
        assert_eq!(multipart.part_range(4, 12), None);
        assert_eq!(multipart.part_range(0, 12), None);
        let single = stored(None);
        assert_eq!(single.part_range(1, 7), Some((0..7, 1)));
        assert_eq!(single.part_range(2, 7), None);
        // Sizes that do not add up to the file's length are not trusted.
        assert_eq!(decode_parts(b"5 5", 12), None);
        assert_eq!(decode_parts(b"", 0), None);
    }

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        // Two parts "a" and "b": MD5(MD5("a") || MD5("b")).
        let a = hex::encode(Md5::digest(b"a"));
        let b = hex::encode(Md5::digest(b"b"));
        let mut both = Md5::digest(b"a").to_vec();
        both.extend_from_slice(&Md5::digest(b"b"));
        let expected = format!("{}-2", hex::encode(Md5::digest(&both)));
        assert_eq!(multipart_etag(&[a, b]), expected);
    }

    #[test]
    fn meta_json_skips_empty_fields() {
        let meta = ObjectMeta {
            content_type: Some("text/plain".into()),
            ..ObjectMeta::default()
        };
        let json = serde_json::to_string(&meta).unwrap();
        assert_eq!(json, r#"{"content-type":"text/plain"}"#);
        assert_eq!(ObjectMeta::from_xattr(json.as_bytes()), meta);
    }
}
