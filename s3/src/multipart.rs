//! Multipart uploads. Each upload is a hidden directory
//! `/.cairn-s3/uploads/<bucket>.<upload-id>` (outside every bucket, so no
//! listing, CLI view of a bucket or mount of it shows its parts) holding
//! one file per part. Complete is a metadata-only namenode `concat` of the
//! parts onto an empty file, renamed onto the key: no byte is copied.
//! Cairn's concat, unlike HDFS's, accepts files whose last block is not
//! full, so parts of any size (S3's 5 MiB minimum, not a multiple of the
//! block size) become blocks of their own; a reader follows block
//! boundaries wherever they fall.

use cairn_client::{CreateOptions, DfsClient, ErrorKind, FileStatus, FileType, XAttrSetFlag};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};
use serde::{Deserialize, Serialize};

use crate::body;
use crate::error::{GatewayError, s3_err};
use crate::gateway::{Gateway, STAGING_UPLOADS, now_ms, owner, require_bucket, timestamp};
use crate::meta::{self, ObjectMeta, StampedEtag};
use crate::object::{commit_staged, copy_source, find_object};
use crate::path::{ObjectPath, object_path};

/// S3's smallest part, except for the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's part numbers: 1 to 10,000.
const MAX_PART_NUMBER: i32 = 10_000;
/// The upload's description, on its directory.
const UPLOAD_XATTR: &str = "user.s3.upload";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct UploadInfo {
    key: String,
    initiated_ms: u64,
    initiator: String,
    meta: ObjectMeta,
}

/// An upload in progress, found by its id.
struct Upload {
    dir: String,
    info: UploadInfo,
}

fn no_such_upload(id: &str) -> GatewayError {
    s3_err(
        S3ErrorCode::NoSuchUpload,
        format!(
            "The specified upload does not exist: {id}. The upload ID may be invalid, \
             or the upload may have been aborted or completed."
        ),
    )
}

fn upload_dir(bucket: &str, id: &str) -> S3Result<String> {
    let valid = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(no_such_upload(id).into_s3());
    }
    Ok(format!("{STAGING_UPLOADS}/{bucket}.{id}"))
}

fn part_name(number: i32) -> String {
    format!("part-{number:05}")
}

fn part_number_of(name: &str) -> Option<i32> {
    name.strip_prefix("part-")?.parse().ok()
}

pub(crate) fn check_part_number(number: i32) -> S3Result<()> {
    if !(1..=MAX_PART_NUMBER).contains(&number) {
        return Err(s3_err(
            S3ErrorCode::InvalidArgument,
            format!("Part number must be an integer between 1 and {MAX_PART_NUMBER}"),
        )
        .into());
    }
    Ok(())
}

async fn find_upload(client: &DfsClient, op: &ObjectPath, id: &str) -> S3Result<Upload> {
    let dir = upload_dir(&op.bucket, id)?;
    let value = match client.get_xattr(&dir, UPLOAD_XATTR).await {
        Ok(Some(value)) => value,
        Ok(None) => return Err(no_such_upload(id).into_s3()),
        Err(err) if err.kind() == ErrorKind::NotFound => {
            return Err(no_such_upload(id).into_s3());
        }
        Err(err) => return Err(GatewayError::from(err).into_s3()),
    };
    let info: UploadInfo = serde_json::from_slice(&value).map_err(|_| no_such_upload(id))?;
    if info.key != op.key {
        return Err(no_such_upload(id).into_s3());
    }
    Ok(Upload { dir, info })
}

/// The parts of an upload by number, with their status.
async fn list_part_files(client: &DfsClient, dir: &str) -> S3Result<Vec<(i32, FileStatus)>> {
    let mut parts: Vec<(i32, FileStatus)> = client
        .list(dir)
        .await
        .map_err(GatewayError::from)?
        .into_iter()
        .filter(|e| e.file_type == FileType::File as i32)
        .filter_map(|e| part_number_of(&e.name).map(|n| (n, e)))
        .collect();
    parts.sort_by_key(|(n, _)| *n);
    Ok(parts)
}

impl Gateway {
    pub(crate) async fn do_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        let op = object_path(&input.bucket, &input.key)?;
        if op.is_dir_marker {
            return Err(s3_err(
                S3ErrorCode::InvalidRequest,
                "A directory marker cannot be uploaded in parts",
            )
            .into());
        }
        require_bucket(&client, &op.bucket).await?;
        let id = format!("{:032x}", rand::random::<u128>());
        let dir = upload_dir(&op.bucket, &id)?;
        let info = UploadInfo {
            key: op.key.clone(),
            initiated_ms: now_ms(),
            initiator: client.config().user.clone(),
            meta: ObjectMeta {
                content_type: input.content_type,
                cache_control: input.cache_control,
                content_disposition: input.content_disposition,
                content_encoding: input.content_encoding,
                content_language: input.content_language,
                expires: None,
                user: input.metadata.unwrap_or_default().into_iter().collect(),
            },
        };
        let json = serde_json::to_vec(&info)
            .map_err(|e| s3_err(S3ErrorCode::InternalError, e.to_string()))?;
        client
            .mkdirs(&dir, None)
            .await
            .map_err(GatewayError::from)?;
        client
            .set_xattr(&dir, UPLOAD_XATTR, &json, XAttrSetFlag::XattrCreate)
            .await
            .map_err(GatewayError::from)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(op.bucket),
            key: Some(op.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let client = self.client(&req)?;
        let expected_md5 = body::content_md5(&req.headers)?;
        let input = req.input;
        check_part_number(input.part_number)?;
        let op = object_path(&input.bucket, &input.key)?;
        let upload = find_upload(&client, &op, &input.upload_id).await?;
        let staging = format!("{}/.tmp-{:032x}", upload.dir, rand::random::<u128>());
        let written =
            body::write_new_file(&client, &self.md5_lanes, &staging, input.body, expected_md5)
                .await?;
        store_part(
            &client,
            &staging,
            &upload,
            input.part_number,
            &written.md5_hex,
        )
        .await?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(written.md5_hex)),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        check_part_number(input.part_number)?;
        let op = object_path(&input.bucket, &input.key)?;
        let upload = find_upload(&client, &op, &input.upload_id).await?;
        let (src_bucket, src_key) = copy_source(&input.copy_source)?;
        let src = object_path(src_bucket, src_key)?;
        find_object(&client, &src).await?;
        let reader = client.open(&src.path).await.map_err(GatewayError::from)?;
        let length = reader.len();
        let range = match &input.copy_source_range {
            None => 0..length,
            Some(text) => copy_range(text, length)?,
        };
        let staging = format!("{}/.tmp-{:032x}", upload.dir, rand::random::<u128>());
        let written =
            body::copy_range_to_new_file(&client, &self.md5_lanes, reader, range, &staging).await?;
        let status = store_part(
            &client,
            &staging,
            &upload,
            input.part_number,
            &written.md5_hex,
        )
        .await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(written.md5_hex)),
                last_modified: Some(timestamp(status.modification_time_ms)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        let op = object_path(&input.bucket, &input.key)?;
        let upload = find_upload(&client, &op, &input.upload_id).await?;
        let requested = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_err(
                S3ErrorCode::MalformedXML,
                "You must specify at least one part",
            )
            .into());
        }
        let stored = list_part_files(&client, &upload.dir).await?;
        let mut previous = 0;
        let mut chosen: Vec<(String, u64, String)> = Vec::with_capacity(requested.len());
        for (i, part) in requested.iter().enumerate() {
            let number = part.part_number.unwrap_or(0);
            if number <= previous {
                return Err(s3_err(
                    S3ErrorCode::InvalidPartOrder,
                    "The list of parts was not in ascending order. \
                     Parts must be ordered by part number.",
                )
                .into());
            }
            previous = number;
            let invalid_part = || {
                s3_err(
                    S3ErrorCode::InvalidPart,
                    format!(
                        "One or more of the specified parts could not be found or its \
                         entity tag does not match: part {number}"
                    ),
                )
                .into_s3()
            };
            let Some((_, status)) = stored.iter().find(|(n, _)| *n == number) else {
                return Err(invalid_part());
            };
            let path = format!("{}/{}", upload.dir, part_name(number));
            let etag = meta::load(&client, &path, status)
                .await
                .map_err(GatewayError::into_s3)?
                .etag;
            if let Some(given) = &part.e_tag
                && given.value() != etag
            {
                return Err(invalid_part());
            }
            let last = i + 1 == requested.len();
            if !last && status.length < MIN_PART_SIZE {
                return Err(s3_err(
                    S3ErrorCode::EntityTooSmall,
                    format!(
                        "Your proposed upload is smaller than the minimum allowed object \
                         size: part {number} has {} bytes, every part but the last needs \
                         at least {MIN_PART_SIZE}",
                        status.length
                    ),
                )
                .into());
            }
            chosen.push((path, status.length, etag));
        }
        let target = format!("{}/object", upload.dir);
        let writer = client
            .create(
                &target,
                CreateOptions {
                    overwrite: true,
                    ..CreateOptions::default()
                },
            )
            .await
            .map_err(GatewayError::from)?;
        writer.close().await.map_err(GatewayError::from)?;
        // Concat refuses empty sources; an empty part adds nothing anyway.
        let sources: Vec<String> = chosen
            .iter()
            .filter(|(_, len, _)| *len > 0)
            .map(|(path, _, _)| path.clone())
            .collect();
        if !sources.is_empty() {
            client
                .concat(&target, &sources)
                .await
                .map_err(GatewayError::from)?;
        }
        // Kept for a GET or HEAD of one part (`partNumber`).
        let sizes: Vec<u64> = chosen.iter().map(|(_, len, _)| *len).collect();
        client
            .set_xattr(
                &target,
                meta::PARTS_XATTR,
                meta::encode_parts(&sizes).as_bytes(),
                XAttrSetFlag::XattrCreateOrReplace,
            )
            .await
            .map_err(GatewayError::from)?;
        let etags: Vec<String> = chosen.into_iter().map(|(_, _, etag)| etag).collect();
        let etag = meta::multipart_etag(&etags);
        commit_staged(&client, &target, &op, &etag, &upload.info.meta).await?;
        if let Err(err) = client.delete(&upload.dir, true).await {
            tracing::warn!(dir = %upload.dir, error = %err, "could not remove a completed upload");
        }
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(op.bucket.clone()),
            key: Some(op.key.clone()),
            e_tag: Some(ETag::Strong(etag)),
            location: Some(format!("/{}/{}", op.bucket, op.key)),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let client = self.client(&req)?;
        let op = object_path(&req.input.bucket, &req.input.key)?;
        let upload = find_upload(&client, &op, &req.input.upload_id).await?;
        client
            .delete(&upload.dir, true)
            .await
            .map_err(GatewayError::from)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn do_list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        let op = object_path(&input.bucket, &input.key)?;
        let upload = find_upload(&client, &op, &input.upload_id).await?;
        let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let marker = input.part_number_marker.unwrap_or(0);
        let stored: Vec<(i32, FileStatus)> = list_part_files(&client, &upload.dir)
            .await?
            .into_iter()
            .filter(|(n, _)| *n > marker)
            .collect();
        let truncated = stored.len() > max;
        let mut parts = Vec::new();
        for (number, status) in stored.into_iter().take(max) {
            let path = format!("{}/{}", upload.dir, part_name(number));
            let etag = meta::load(&client, &path, &status)
                .await
                .map_err(GatewayError::into_s3)?
                .etag;
            parts.push(Part {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(timestamp(status.modification_time_ms)),
                part_number: Some(number),
                size: i64::try_from(status.length).ok(),
                ..Default::default()
            });
        }
        let next = parts.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(op.bucket),
            key: Some(op.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next,
            is_truncated: Some(truncated),
            owner: Some(owner(&upload.info.initiator)),
            parts: Some(parts),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let client = self.client(&req)?;
        let input = req.input;
        require_bucket(&client, &input.bucket).await?;
        let name_prefix = format!("{}.", input.bucket);
        let entries = client
            .list(STAGING_UPLOADS)
            .await
            .map_err(GatewayError::from)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut uploads = Vec::new();
        for entry in entries {
            let Some(id) = entry.name.strip_prefix(&name_prefix) else {
                continue;
            };
            let dir = format!("{STAGING_UPLOADS}/{}", entry.name);
            let Ok(Some(value)) = client.get_xattr(&dir, UPLOAD_XATTR).await else {
                continue;
            };
            let Ok(info) = serde_json::from_slice::<UploadInfo>(&value) else {
                continue;
            };
            if !info.key.starts_with(&prefix) {
                continue;
            }
            if input
                .key_marker
                .as_ref()
                .is_some_and(|m| info.key.as_str() <= m.as_str())
            {
                continue;
            }
            uploads.push((info, id.to_string()));
        }
        uploads.sort_by(|a, b| {
            (a.0.key.as_bytes(), a.0.initiated_ms).cmp(&(b.0.key.as_bytes(), b.0.initiated_ms))
        });
        let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
        let truncated = uploads.len() > max;
        uploads.truncate(max);
        let next_key_marker = uploads.last().map(|(info, _)| info.key.clone());
        let next_upload_id_marker = uploads.last().map(|(_, id)| id.clone());
        let list = uploads
            .into_iter()
            .map(|(info, id)| MultipartUpload {
                initiated: Some(timestamp(info.initiated_ms)),
                initiator: Some(Initiator {
                    display_name: Some(info.initiator.clone()),
                    id: Some(info.initiator.clone()),
                }),
                owner: Some(owner(&info.initiator)),
                key: Some(info.key),
                upload_id: Some(id),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: truncated.then_some(next_key_marker).flatten(),
            next_upload_id_marker: truncated.then_some(next_upload_id_marker).flatten(),
            uploads: Some(list),
            ..Default::default()
        }))
    }
}

/// Stamps a staged part with its ETag and renames it onto its number,
/// replacing an earlier upload of the same part.
async fn store_part(
    client: &DfsClient,
    staging: &str,
    upload: &Upload,
    number: i32,
    md5_hex: &str,
) -> S3Result<FileStatus> {
    let result = async {
        let status = client
            .get_file_info(staging)
            .await?
            .ok_or_else(|| s3_err(S3ErrorCode::InternalError, "the staged part vanished"))?;
        let stamped = StampedEtag::for_status(md5_hex.to_string(), &status);
        meta::store(client, staging, &stamped, &ObjectMeta::default()).await?;
        let path = format!("{}/{}", upload.dir, part_name(number));
        client.rename(staging, &path, true).await?;
        Ok::<_, GatewayError>(status)
    }
    .await;
    if result.is_err() {
        let _ = client.delete(staging, false).await;
    }
    result.map_err(GatewayError::into_s3)
}

/// `x-amz-copy-source-range: bytes=first-last` within an object of `length`.
fn copy_range(text: &str, length: u64) -> S3Result<std::ops::Range<u64>> {
    let invalid = || {
        s3_err(
            S3ErrorCode::InvalidRange,
            format!("The x-amz-copy-source-range {text:?} is not satisfiable"),
        )
        .into_s3()
    };
    let (first, last) = text
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(invalid)?;
    let first: u64 = first.parse().map_err(|_| invalid())?;
    let last: u64 = last.parse().map_err(|_| invalid())?;
    if first > last || last >= length {
        return Err(invalid());
    }
    Ok(first..last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_cannot_escape() {
        assert!(upload_dir("b1b", "../../etc").is_err());
        assert!(upload_dir("b1b", &"g".repeat(32)).is_err());
        let dir = upload_dir("b1b", &"a".repeat(32)).unwrap();
        assert_eq!(dir, format!("{STAGING_UPLOADS}/b1b.{}", "a".repeat(32)));
    }

    #[test]
    fn part_names_round_trip() {
        assert_eq!(part_name(7), "part-00007");
        assert_eq!(part_number_of("part-00007"), Some(7));
        assert_eq!(part_number_of(".tmp-abc"), None);
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(copy_range("bytes=0-9", 10).unwrap(), 0..10);
        assert!(copy_range("bytes=0-10", 10).is_err());
        assert!(copy_range("0-1", 10).is_err());
    }
}
