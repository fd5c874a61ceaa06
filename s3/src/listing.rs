//! ListObjectsV2 and ListObjects (v1). S3 lists keys in the byte order of
//! whole keys, which is not directory order: `a-b` < `a/b` < `a0`, while a
//! directory lists `a` (holding `b`) before `a-b`. The walk therefore sorts
//! each directory's entries by the key prefix they stand for (a directory
//! `a` as `a/`) and goes depth first, which yields keys in S3's order; it
//! starts at the deepest directory the prefix names and skips whole
//! subtrees that lie before the continuation point. With the `/` delimiter
//! a subdirectory is one common prefix and is not entered at all.

use base64::Engine;
use cairn_client::{DfsClient, ErrorKind, FileStatus, FileType};
use futures::{StreamExt, TryStreamExt};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::error::{GatewayError, s3_err};
use crate::gateway::{Gateway, owner, require_bucket, timestamp};
use crate::meta::{self, DIR_MARKER_XATTR};
use crate::path::bucket_path;

/// S3's page size, and the most a client may ask for.
const MAX_KEYS: usize = 1000;
/// Objects whose ETags are fetched at once for one page.
const ETAG_FETCH_CONCURRENCY: usize = 16;

/// One listed item, in key order.
#[derive(Debug, Clone)]
enum Item {
    Object {
        key: String,
        status: FileStatus,
    },
    /// A directory marker (`key/`), listed as an empty object.
    Marker {
        key: String,
        status: FileStatus,
    },
    CommonPrefix(String),
}

impl Item {
    fn key(&self) -> &str {
        match self {
            Item::Object { key, .. } | Item::Marker { key, .. } | Item::CommonPrefix(key) => key,
        }
    }
}

/// What to list.
struct Query<'a> {
    bucket_dir: String,
    prefix: &'a str,
    delimiter: Option<&'a str>,
    /// List only what comes after this key (exclusive).
    after: Option<String>,
    max: usize,
}

/// One page: the items and whether more follow.
struct Page {
    items: Vec<Item>,
    truncated: bool,
}

/// A directory being walked: its entries sorted by the key prefix they
/// stand for, and the next one to visit.
struct Frame {
    key_prefix: String,
    entries: Vec<(String, FileStatus)>,
    next: usize,
}

async fn frame(
    client: &DfsClient,
    bucket_dir: &str,
    key_prefix: String,
) -> S3Result<Option<Frame>> {
    let dir = format!("{bucket_dir}/{}", key_prefix.trim_end_matches('/'));
    let dir = dir.trim_end_matches('/');
    let listing = match client.list(dir).await {
        Ok(entries) => entries,
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(None);
        }
        Err(err) => return Err(GatewayError::from(err).into_s3()),
    };
    let mut entries: Vec<(String, FileStatus)> = listing
        .into_iter()
        .filter(|e| !e.name.is_empty())
        .map(|e| {
            let sort = if e.file_type == FileType::Directory as i32 {
                format!("{}/", e.name)
            } else {
                e.name.clone()
            };
            (sort, e)
        })
        .collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(Some(Frame {
        key_prefix,
        entries,
        next: 0,
    }))
}

async fn walk(client: &DfsClient, q: &Query<'_>) -> S3Result<Page> {
    let mut items: Vec<Item> = Vec::new();
    if q.max == 0 {
        return Ok(Page {
            items,
            truncated: false,
        });
    }
    let after = q.after.as_deref();
    let start_dir = match q.prefix.rfind('/') {
        Some(i) => q.prefix[..=i].to_string(),
        None => String::new(),
    };
    if !start_dir.is_empty() {
        // A file lists itself: the walk starts only at a directory.
        let dir = format!("{}/{}", q.bucket_dir, start_dir.trim_end_matches('/'));
        let is_dir = match client.get_file_info(&dir).await {
            Ok(status) => status.is_some_and(|s| s.file_type == FileType::Directory as i32),
            Err(err) if err.kind() == ErrorKind::NotADirectory => false,
            Err(err) => return Err(GatewayError::from(err).into_s3()),
        };
        if !is_dir {
            return Ok(Page {
                items,
                truncated: false,
            });
        }
    }
    let mut stack: Vec<Frame> = frame(client, &q.bucket_dir, start_dir)
        .await?
        .into_iter()
        .collect();
    let mut last_prefix: Option<String> = None;
    // One more than a page, to know whether the listing is truncated.
    while items.len() <= q.max {
        let Some(top) = stack.last_mut() else { break };
        let Some((sort_key, status)) = top.entries.get(top.next).cloned() else {
            stack.pop();
            continue;
        };
        top.next += 1;
        let key = format!("{}{sort_key}", top.key_prefix);
        if status.file_type == FileType::Directory as i32 {
            // Everything below starts with `key` ("…/name/").
            if !(key.starts_with(q.prefix) || q.prefix.starts_with(key.as_str())) {
                continue;
            }
            if let Some(a) = after
                && key.as_str() < a
                && !a.starts_with(key.as_str())
            {
                continue;
            }
            if q.delimiter == Some("/")
                && key.len() > q.prefix.len()
                && key.starts_with(q.prefix)
                && !after.is_some_and(|a| a.starts_with(key.as_str()) && a != key)
            {
                if after != Some(key.as_str()) {
                    push_prefix(&mut items, &mut last_prefix, key);
                }
                continue;
            }
            if key.starts_with(q.prefix)
                && after.is_none_or(|a| key.as_str() > a)
                && is_marker(client, &q.bucket_dir, &key).await?
            {
                let item = Item::Marker {
                    key: key.clone(),
                    status: status.clone(),
                };
                emit(&mut items, &mut last_prefix, q, after, item);
            }
            if let Some(child) = frame(client, &q.bucket_dir, key).await? {
                stack.push(child);
            }
        } else {
            if !key.starts_with(q.prefix) || after.is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            emit(
                &mut items,
                &mut last_prefix,
                q,
                after,
                Item::Object { key, status },
            );
        }
    }
    let truncated = items.len() > q.max;
    items.truncate(q.max);
    Ok(Page { items, truncated })
}

/// Adds an object, or the common prefix it falls under with a delimiter.
fn emit(
    items: &mut Vec<Item>,
    last_prefix: &mut Option<String>,
    q: &Query<'_>,
    after: Option<&str>,
    item: Item,
) {
    if let Some(delimiter) = q.delimiter.filter(|d| !d.is_empty()) {
        let key = item.key();
        let rest = &key[q.prefix.len()..];
        if let Some(i) = rest.find(delimiter) {
            let common = key[..q.prefix.len() + i + delimiter.len()].to_string();
            if after != Some(common.as_str()) {
                push_prefix(items, last_prefix, common);
            }
            return;
        }
    }
    items.push(item);
}

fn push_prefix(items: &mut Vec<Item>, last_prefix: &mut Option<String>, common: String) {
    if last_prefix.as_deref() == Some(common.as_str()) {
        return;
    }
    *last_prefix = Some(common.clone());
    items.push(Item::CommonPrefix(common));
}

async fn is_marker(client: &DfsClient, bucket_dir: &str, key: &str) -> S3Result<bool> {
    let path = format!("{bucket_dir}/{}", key.trim_end_matches('/'));
    match client.get_xattr(&path, DIR_MARKER_XATTR).await {
        Ok(found) => Ok(found.is_some()),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
        Err(err) => Err(GatewayError::from(err).into_s3()),
    }
}

/// The page as S3's objects and common prefixes, with ETags.
async fn render(
    client: &DfsClient,
    bucket_dir: &str,
    items: Vec<Item>,
    with_owner: bool,
) -> S3Result<(Vec<Object>, Vec<CommonPrefix>)> {
    let mut prefixes = Vec::new();
    let mut objects = Vec::new();
    for item in items {
        match item {
            Item::CommonPrefix(p) => prefixes.push(CommonPrefix { prefix: Some(p) }),
            Item::Object { key, status } => objects.push((key, status, false)),
            Item::Marker { key, status } => objects.push((key, status, true)),
        }
    }
    let objects = futures::stream::iter(objects)
        .map(|(key, status, marker)| async move {
            let etag = if marker {
                "d41d8cd98f00b204e9800998ecf8427e".to_string()
            } else {
                let path = format!("{bucket_dir}/{key}");
                meta::load(client, &path, &status).await?.etag
            };
            Ok::<_, GatewayError>(Object {
                e_tag: Some(ETag::Strong(etag)),
                key: Some(key),
                last_modified: Some(timestamp(status.modification_time_ms)),
                owner: with_owner.then(|| owner(&status.owner)),
                size: Some(if marker {
                    0
                } else {
                    i64::try_from(status.length).unwrap_or(i64::MAX)
                }),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                ..Default::default()
            })
        })
        .buffered(ETAG_FETCH_CONCURRENCY)
        .try_collect()
        .await
        .map_err(GatewayError::into_s3)?;
    Ok((objects, prefixes))
}

fn page_size(max_keys: Option<i32>) -> usize {
    max_keys.map_or(MAX_KEYS, |m| usize::try_from(m).unwrap_or(0).min(MAX_KEYS))
}

fn encode_token(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            s3_err(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
            .into_s3()
        })
}

impl Gateway {
    pub(crate) async fn do_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let client = self.client(&req)?;
        let input = req.input;
        require_bucket(&client, &input.bucket).await?;
        let after = match (&input.continuation_token, &input.start_after) {
            (Some(token), _) => Some(decode_token(token)?),
            (None, Some(start)) if !start.is_empty() => Some(start.clone()),
            _ => None,
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let query = Query {
            bucket_dir: bucket_path(&input.bucket)?,
            prefix: &prefix,
            delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()),
            after,
            max: page_size(input.max_keys),
        };
        let page = walk(&client, &query).await?;
        let next = page
            .truncated
            .then(|| page.items.last().map(|i| encode_token(i.key())))
            .flatten();
        let count = page.items.len();
        let with_owner = input.fetch_owner.unwrap_or(false);
        let (contents, prefixes) =
            render(&client, &query.bucket_dir, page.items, with_owner).await?;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(prefix.clone()),
            max_keys: input.max_keys.or(Some(MAX_KEYS as i32)),
            key_count: Some(i32::try_from(count).unwrap_or(i32::MAX)),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token: next,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            delimiter: input.delimiter,
            start_after: input.start_after,
            ..Default::default()
        }))
    }

    pub(crate) async fn do_list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        require_bucket(&client, &input.bucket).await?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let query = Query {
            bucket_dir: bucket_path(&input.bucket)?,
            prefix: &prefix,
            delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()),
            after: input.marker.clone().filter(|m| !m.is_empty()),
            max: page_size(input.max_keys),
        };
        let page = walk(&client, &query).await?;
        // S3 returns NextMarker only with a delimiter; clients use the last
        // key otherwise.
        let next_marker = (page.truncated && query.delimiter.is_some())
            .then(|| page.items.last().map(|i| i.key().to_string()))
            .flatten();
        let (contents, prefixes) = render(&client, &query.bucket_dir, page.items, true).await?;
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(prefix.clone()),
            marker: input.marker,
            max_keys: input.max_keys.or(Some(MAX_KEYS as i32)),
            is_truncated: Some(page.truncated),
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            delimiter: input.delimiter,
            next_marker,
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for key in ["a/b", "ünï/cödé", ""] {
            assert_eq!(decode_token(&encode_token(key)).unwrap(), key);
        }
        assert!(decode_token("!!").is_err());
    }

    #[test]
    fn page_size_is_capped() {
        assert_eq!(page_size(None), 1000);
        assert_eq!(page_size(Some(5000)), 1000);
        assert_eq!(page_size(Some(-1)), 0);
        assert_eq!(page_size(Some(7)), 7);
    }
}
