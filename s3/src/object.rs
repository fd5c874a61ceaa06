//! Object operations: an object is a file below its bucket's directory; a
//! key ending in `/` is a directory marker. Writes go to a staging file
//! first and are renamed into place once complete and verified, so a
//! reader never sees half an object and a failed PUT leaves nothing.

use cairn_client::{DfsClient, ErrorKind, FileReader, FileStatus, FileType};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::body;
use crate::error::{GatewayError, s3_err};
use crate::gateway::{Gateway, no_such_bucket, require_bucket, timestamp};
use crate::meta::{self, DIR_MARKER_XATTR, ObjectMeta, StampedEtag, StoredMeta};
use crate::path::{ObjectPath, object_path};

/// The ETag of an empty object (and of a directory marker).
const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// An object as found in the namespace.
pub(crate) struct Found {
    pub status: FileStatus,
    pub stored: StoredMeta,
}

/// The response of a GET or HEAD (`$ty`): the stored headers, ETag and
/// modification time of `$found`, and the fields given.
macro_rules! object_output {
    ($ty:ident, $found:expr, { $($field:ident: $value:expr),* $(,)? }) => {{
        let found: Found = $found;
        let m = found.stored.meta;
        $ty {
            accept_ranges: Some("bytes".to_string()),
            content_type: m.content_type,
            cache_control: m.cache_control,
            content_disposition: m.content_disposition,
            content_encoding: m.content_encoding,
            content_language: m.content_language,
            expires: m.expires.as_deref().and_then(parse_http_date),
            metadata: (!m.user.is_empty()).then(|| m.user.into_iter().collect()),
            e_tag: Some(ETag::Strong(found.stored.etag)),
            last_modified: Some(timestamp(found.status.modification_time_ms)),
            $($field: $value,)*
            ..Default::default()
        }
    }};
}

/// The headers a PutObject or CopyObject (REPLACE) input gives the object.
macro_rules! object_meta {
    ($input:expr) => {
        ObjectMeta {
            content_type: $input.content_type,
            cache_control: $input.cache_control,
            content_disposition: $input.content_disposition,
            content_encoding: $input.content_encoding,
            content_language: $input.content_language,
            expires: $input.expires.as_ref().and_then(http_date),
            user: $input.metadata.unwrap_or_default().into_iter().collect(),
        }
    };
}

/// The preconditions of a GET or HEAD input.
macro_rules! conditions {
    ($input:expr) => {
        Conditions {
            if_match: $input.if_match.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
        }
    };
}

impl Gateway {
    pub(crate) async fn do_put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let client = self.client(&req)?;
        let expected_md5 = body::content_md5(&req.headers)?;
        let input = req.input;
        let op = object_path(&input.bucket, &input.key)?;
        if op.is_dir_marker {
            require_bucket(&client, &op.bucket).await?;
            client
                .mkdirs(&op.path, None)
                .await
                .map_err(GatewayError::from)?;
            client
                .set_xattr(
                    &op.path,
                    DIR_MARKER_XATTR,
                    b"",
                    cairn_client::XAttrSetFlag::XattrCreateOrReplace,
                )
                .await
                .map_err(GatewayError::from)?;
            return Ok(S3Response::new(PutObjectOutput {
                e_tag: Some(ETag::Strong(EMPTY_MD5.to_string())),
                ..Default::default()
            }));
        }
        let meta = object_meta!(input);
        let staging = self.staging_file();
        let written =
            body::write_new_file(&client, &self.md5_lanes, &staging, input.body, expected_md5)
                .await?;
        commit_staged(&client, &staging, &op, &written.md5_hex, &meta).await?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(written.md5_hex)),
            size: i64::try_from(written.length).ok(),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        let op = object_path(&input.bucket, &input.key)?;
        let (found, length, reader) = if op.is_dir_marker {
            let (found, length) = find_for_read(&client, &op, &conditions!(input)).await?;
            (found, length, None)
        } else {
            let (found, reader) = open_object(&client, &op).await?;
            check_conditions(
                &found.stored.etag,
                found.status.modification_time_ms,
                &conditions!(input),
            )?;
            let length = found.status.length;
            (found, length, Some(reader))
        };
        let part = match input.part_number {
            Some(_) if input.range.is_some() => {
                return Err(s3_err(
                    S3ErrorCode::InvalidRequest,
                    "Cannot specify both Range header and partNumber query parameter",
                )
                .into());
            }
            Some(number) => Some(select_part(&found, number, length)?),
            None => None,
        };
        let parts_count = part.as_ref().and_then(|p| p.parts_count);
        let (range, content_range) = match (&input.range, part) {
            (_, Some(part)) => (part.range, part.content_range),
            (None, None) => (0..length, None),
            (Some(range), None) => {
                let r = range.check(length).map_err(|_| {
                    s3_err(
                        S3ErrorCode::InvalidRange,
                        format!("The requested range is not satisfiable (object size {length})"),
                    )
                })?;
                let header = content_range(&r, length);
                (r, Some(header))
            }
        };
        let body = reader
            .filter(|_| !range.is_empty())
            .map(|reader| body::stream_range(reader, range.clone()));
        let output = object_output!(GetObjectOutput, found, {
            body: body,
            content_length: i64::try_from(range.end - range.start).ok(),
            content_range: content_range,
            parts_count: parts_count,
        });
        Ok(S3Response::new(output))
    }

    pub(crate) async fn do_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        let op = object_path(&input.bucket, &input.key)?;
        let (found, length) = find_for_read(&client, &op, &conditions!(input)).await?;
        let Some(number) = input.part_number else {
            return Ok(S3Response::new(object_output!(HeadObjectOutput, found, {
                content_length: i64::try_from(length).ok(),
            })));
        };
        let part = select_part(&found, number, length)?;
        // s3s 0.14 ignores a status set here; server.rs makes a HEAD
        // answered with a Content-Range a 206, as S3 does.
        Ok(S3Response::new(object_output!(HeadObjectOutput, found, {
            content_length: i64::try_from(part.range.end - part.range.start).ok(),
            content_range: part.content_range,
            parts_count: part.parts_count,
        })))
    }

    pub(crate) async fn do_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let client = self.client(&req)?;
        let op = object_path(&req.input.bucket, &req.input.key)?;
        require_bucket(&client, &op.bucket).await?;
        delete_one(&client, &op)
            .await
            .map_err(GatewayError::into_s3)?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    pub(crate) async fn do_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        require_bucket(&client, &input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in input.delete.objects {
            let result = match object_path(&input.bucket, &object.key) {
                Ok(op) => delete_one(&client, &op).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(()) if quiet => {}
                Ok(()) => deleted.push(DeletedObject {
                    key: Some(object.key),
                    ..Default::default()
                }),
                Err(err) => {
                    let err = err.into_s3();
                    errors.push(Error {
                        code: Some(err.code().as_str().to_string()),
                        key: Some(object.key),
                        message: err.message().map(str::to_string),
                        version_id: None,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errors),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        let (src_bucket, src_key) = copy_source(&input.copy_source)?;
        let src = object_path(src_bucket, src_key)?;
        let dst = object_path(&input.bucket, &input.key)?;
        if dst.is_dir_marker || src.is_dir_marker {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "Directory markers cannot be copied",
            )
            .into());
        }
        let found = find_object(&client, &src).await?;
        check_copy_conditions(&found, &input)?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if src.path == dst.path && !replace {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself \
                 without changing the object's metadata.",
            )
            .into());
        }
        let meta = if replace {
            object_meta!(input)
        } else {
            found.stored.meta.clone()
        };
        let reader = client.open(&src.path).await.map_err(GatewayError::from)?;
        let length = reader.len();
        let staging = self.staging_file();
        let written =
            body::copy_range_to_new_file(&client, &self.md5_lanes, reader, 0..length, &staging)
                .await?;
        // A multipart source keeps its ETag; a plain one's is its MD5.
        let etag = if found.stored.etag.contains('-') {
            found.stored.etag.clone()
        } else {
            written.md5_hex
        };
        let status = commit_staged(&client, &staging, &dst, &etag, &meta).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(timestamp(status.modification_time_ms)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}

/// The bucket and key of a copy source.
pub(crate) fn copy_source(source: &CopySource) -> S3Result<(&str, &str)> {
    match source {
        CopySource::Bucket { bucket, key, .. } => Ok((bucket, key)),
        _ => Err(s3_err(
            S3ErrorCode::NotImplemented,
            "Only bucket/key copy sources are supported",
        )
        .into()),
    }
}

/// Looks an object up: NoSuchKey (or NoSuchBucket) when there is none, a
/// directory marker only for a key ending in `/`. An object's status and
/// xattrs are asked for at the same time.
pub(crate) async fn find_object(client: &DfsClient, op: &ObjectPath) -> S3Result<Found> {
    let is_dir = |s: &FileStatus| s.file_type == FileType::Directory as i32;
    if op.is_dir_marker {
        return match file_status(client, op).await? {
            Some(status) if is_dir(&status) => Ok(Found {
                status,
                stored: StoredMeta {
                    etag: EMPTY_MD5.to_string(),
                    meta: ObjectMeta::default(),
                    parts: None,
                },
            }),
            _ => Err(no_such_key(client, op).await),
        };
    }
    let (status, xattrs) = tokio::join!(file_status(client, op), client.get_xattrs(&op.path));
    match status? {
        Some(status) if !is_dir(&status) => {
            let xattrs = xattrs.map_err(|e| GatewayError::from(e).into_s3())?;
            let stored = meta::from_xattrs(client, &op.path, &status, &xattrs)
                .await
                .map_err(GatewayError::into_s3)?;
            Ok(Found { status, stored })
        }
        _ => Err(no_such_key(client, op).await),
    }
}

/// Opens an object (not a directory marker) for a GET, asking for its
/// xattrs at the same time: two namenode round trips in all (status with
/// block locations, and xattrs), as a direct open, rather than four.
async fn open_object(client: &DfsClient, op: &ObjectPath) -> S3Result<(Found, FileReader)> {
    let (opened, xattrs) = tokio::join!(client.open(&op.path), client.get_xattrs(&op.path));
    let reader = match opened {
        Ok(reader) => reader,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
            ) =>
        {
            return Err(no_such_key(client, op).await);
        }
        Err(err) => return Err(GatewayError::from(err).into_s3()),
    };
    let status = reader.status().clone();
    let xattrs = xattrs.map_err(|e| GatewayError::from(e).into_s3())?;
    let stored = meta::from_xattrs(client, &op.path, &status, &xattrs)
        .await
        .map_err(GatewayError::into_s3)?;
    Ok((Found { status, stored }, reader))
}

/// The status at an object's path; `None` when there is nothing there, also
/// when a parent is a file ("a/b" where "a" is an object).
async fn file_status(client: &DfsClient, op: &ObjectPath) -> S3Result<Option<FileStatus>> {
    match client.get_file_info(&op.path).await {
        Ok(status) => Ok(status),
        Err(err) if err.kind() == ErrorKind::NotADirectory => Ok(None),
        Err(err) => Err(GatewayError::from(err).into_s3()),
    }
}

/// NoSuchKey for `op`, or NoSuchBucket when its bucket is missing too.
async fn no_such_key(client: &DfsClient, op: &ObjectPath) -> s3s::S3Error {
    if let Err(err) = require_bucket(client, &op.bucket).await {
        return err;
    }
    s3_err(
        S3ErrorCode::NoSuchKey,
        format!("The specified key does not exist: {}", op.key),
    )
    .into_s3()
}

/// Stamps the staged file with its ETag and headers and renames it onto
/// the object's path, creating the key's parent directories when needed.
/// On failure the staged file is removed.
pub(crate) async fn commit_staged(
    client: &DfsClient,
    staging: &str,
    op: &ObjectPath,
    etag: &str,
    object_meta: &ObjectMeta,
) -> S3Result<FileStatus> {
    let result = commit(client, staging, op, etag, object_meta).await;
    if result.is_err()
        && let Err(err) = client.delete(staging, false).await
    {
        tracing::warn!(path = %staging, error = %err, "could not remove a staged object");
    }
    result
}

async fn commit(
    client: &DfsClient,
    staging: &str,
    op: &ObjectPath,
    etag: &str,
    object_meta: &ObjectMeta,
) -> S3Result<FileStatus> {
    let status = client
        .get_file_info(staging)
        .await
        .map_err(GatewayError::from)?
        .ok_or_else(|| s3_err(S3ErrorCode::InternalError, "the staged object vanished"))?;
    let stamped = StampedEtag::for_status(etag.to_string(), &status);
    meta::store(client, staging, &stamped, object_meta)
        .await
        .map_err(GatewayError::into_s3)?;
    match client.rename(staging, &op.path, true).await {
        Ok(()) => return Ok(status),
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                format!(
                    "{}: a directory (a key prefix with objects below it) has this name, \
                     so an object cannot",
                    op.key
                ),
            )
            .into());
        }
        Err(err) => return Err(GatewayError::from(err).into_s3()),
    }
    // The parent directories are missing: the bucket must exist, the rest
    // is created as S3 keys imply it.
    require_bucket(client, &op.bucket)
        .await
        .map_err(|_| no_such_bucket(&op.bucket).into_s3())?;
    client
        .mkdirs(op.parent(), None)
        .await
        .map_err(|e| GatewayError::from(e).into_s3())?;
    client
        .rename(staging, &op.path, true)
        .await
        .map_err(|e| GatewayError::from(e).into_s3())?;
    Ok(status)
}

/// Deletes one object (absent is fine, as in S3), then the directories
/// above it that only existed for it.
async fn delete_one(client: &DfsClient, op: &ObjectPath) -> crate::error::Result<()> {
    let status = match client.get_file_link_info(&op.path).await {
        Ok(status) => status,
        Err(err) if err.kind() == ErrorKind::NotADirectory => None,
        Err(err) => return Err(err.into()),
    };
    let Some(status) = status else {
        return Ok(());
    };
    let is_dir = status.file_type == FileType::Directory as i32;
    if is_dir != op.is_dir_marker {
        return Ok(());
    }
    if is_dir {
        if status.children_num > 0 {
            // The marker goes; the directory stays for the keys below it.
            match client.remove_xattr(&op.path, DIR_MARKER_XATTR).await {
                Ok(()) => {}
                Err(err) if err.kind() == ErrorKind::XAttrNotFound => {}
                Err(err) => return Err(err.into()),
            }
            return Ok(());
        }
        client.delete(&op.path, false).await?;
    } else {
        client.delete(&op.path, false).await?;
    }
    remove_empty_parents(client, op).await;
    Ok(())
}

/// S3 has no directories: once its last key is gone a prefix disappears.
/// Removes the empty, unmarked directories between the object and its
/// bucket (best effort: a concurrent PUT below wins).
async fn remove_empty_parents(client: &DfsClient, op: &ObjectPath) {
    let bucket_dir = format!("/{}", op.bucket);
    let mut dir = op.parent().to_string();
    while dir != bucket_dir && dir.len() > bucket_dir.len() {
        let Ok(Some(status)) = client.get_file_info(&dir).await else {
            return;
        };
        if status.children_num > 0 {
            return;
        }
        if !matches!(client.get_xattr(&dir, DIR_MARKER_XATTR).await, Ok(None)) {
            return;
        }
        if client.delete(&dir, false).await.is_err() {
            return;
        }
        match dir.rfind('/') {
            Some(i) => dir.truncate(i),
            None => return,
        }
    }
}

/// The preconditions of a GET or HEAD.
#[derive(Default)]
struct Conditions<'a> {
    if_match: Option<&'a ETagCondition>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
    if_unmodified_since: Option<&'a Timestamp>,
}

/// The object a GET or HEAD reads, once its preconditions hold, and its
/// length (0 for a directory marker).
/// One part of an object, as a GET or HEAD with `partNumber` serves it.
struct SelectedPart {
    range: std::ops::Range<u64>,
    /// `bytes first-last/length`, unless the part is empty.
    content_range: Option<String>,
    /// `x-amz-mp-parts-count`: only for an object completed from a
    /// multipart upload, as S3 does.
    parts_count: Option<i32>,
}

/// A `Content-Range` header for the non-empty byte `range` of an object of
/// `length` bytes.
fn content_range(range: &std::ops::Range<u64>, length: u64) -> String {
    format!("bytes {}-{}/{length}", range.start, range.end - 1)
}

/// Part `number` of `found` (of `length` bytes): S3's InvalidArgument for
/// a number outside 1..=10000, InvalidPartNumber (416) past the last part.
fn select_part(found: &Found, number: i32, length: u64) -> S3Result<SelectedPart> {
    crate::multipart::check_part_number(number)?;
    let number = number.unsigned_abs();
    let Some((range, count)) = found.stored.part_range(number, length) else {
        let mut err = s3s::S3Error::with_message(
            S3ErrorCode::Custom("InvalidPartNumber".into()),
            "The requested partnumber is not satisfiable".to_string(),
        );
        err.set_status_code(hyper::http::StatusCode::RANGE_NOT_SATISFIABLE);
        return Err(err);
    };
    Ok(SelectedPart {
        content_range: (!range.is_empty()).then(|| content_range(&range, length)),
        range,
        parts_count: found
            .stored
            .parts
            .is_some()
            .then(|| i32::try_from(count).unwrap_or(i32::MAX)),
    })
}

async fn find_for_read(
    client: &DfsClient,
    op: &ObjectPath,
    conditions: &Conditions<'_>,
) -> S3Result<(Found, u64)> {
    let found = find_object(client, op).await?;
    check_conditions(
        &found.stored.etag,
        found.status.modification_time_ms,
        conditions,
    )?;
    let length = if op.is_dir_marker {
        0
    } else {
        found.status.length
    };
    Ok((found, length))
}

fn precondition_failed() -> s3s::S3Error {
    s3_err(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
    .into_s3()
}

/// GET and HEAD preconditions, in RFC 9110's order: If-Match, else
/// If-Unmodified-Since (412); If-None-Match, else If-Modified-Since (304).
fn check_conditions(etag: &str, mtime_ms: u64, conditions: &Conditions<'_>) -> S3Result<()> {
    let Conditions {
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
    } = *conditions;
    let modified_s = (mtime_ms / 1000) as i64;
    let failed = precondition_failed;
    if let Some(cond) = if_match {
        if !etag_matches(cond, etag) {
            return Err(failed());
        }
    } else if let Some(since) = if_unmodified_since
        && modified_s > epoch_seconds(since)
    {
        return Err(failed());
    }
    let not_modified = || s3_err(S3ErrorCode::NotModified, "Not Modified").into_s3();
    if let Some(cond) = if_none_match {
        if etag_matches(cond, etag) {
            return Err(not_modified());
        }
    } else if let Some(since) = if_modified_since
        && modified_s <= epoch_seconds(since)
    {
        return Err(not_modified());
    }
    Ok(())
}

/// CopyObject's `x-amz-copy-source-if-*`: every failure is 412.
fn check_copy_conditions(found: &Found, input: &CopyObjectInput) -> S3Result<()> {
    let etag = &found.stored.etag;
    let modified_s = (found.status.modification_time_ms / 1000) as i64;
    let failed = precondition_failed;
    if let Some(cond) = &input.copy_source_if_match
        && !etag_matches(cond, etag)
    {
        return Err(failed());
    }
    if let Some(cond) = &input.copy_source_if_none_match
        && etag_matches(cond, etag)
    {
        return Err(failed());
    }
    if let Some(since) = &input.copy_source_if_unmodified_since
        && modified_s > epoch_seconds(since)
    {
        return Err(failed());
    }
    if let Some(since) = &input.copy_source_if_modified_since
        && modified_s <= epoch_seconds(since)
    {
        return Err(failed());
    }
    Ok(())
}

fn etag_matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag,
    }
}

fn epoch_seconds(ts: &Timestamp) -> i64 {
    time::OffsetDateTime::from(ts.clone()).unix_timestamp()
}

fn http_date(ts: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    ts.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

fn parse_http_date(text: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions_follow_rfc_9110() {
        let strong = |s: &str| ETagCondition::ETag(ETag::Strong(s.to_string()));
        let at = |s: i64| Timestamp::from(time::OffsetDateTime::from_unix_timestamp(s).unwrap());
        let check = |c: Conditions<'_>| check_conditions("e1", 1_000_000, &c);
        let (e1, e2, any) = (strong("e1"), strong("e2"), ETagCondition::Any);
        let (t1, t999, t1000) = (at(1), at(999), at(1000));
        assert!(
            check(Conditions {
                if_match: Some(&e1),
                ..Default::default()
            })
            .is_ok()
        );
        let err = check(Conditions {
            if_match: Some(&e2),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.code(), &S3ErrorCode::PreconditionFailed);
        let err = check(Conditions {
            if_none_match: Some(&any),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.code(), &S3ErrorCode::NotModified);
        let since = |t| Conditions {
            if_modified_since: Some(t),
            ..Default::default()
        };
        assert_eq!(
            check(since(&t1000)).unwrap_err().code(),
            &S3ErrorCode::NotModified
        );
        assert!(check(since(&t999)).is_ok());
        let unmodified = Conditions {
            if_unmodified_since: Some(&t999),
            ..Default::default()
        };
        assert_eq!(
            check(unmodified).unwrap_err().code(),
            &S3ErrorCode::PreconditionFailed
        );
        // If-Match wins over If-Unmodified-Since.
        let both = Conditions {
            if_match: Some(&e1),
            if_unmodified_since: Some(&t1),
            ..Default::default()
        };
        assert!(check(both).is_ok());
    }
}
