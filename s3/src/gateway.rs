//! [`Gateway`]: the `s3s::S3` implementation. Each operation runs as the
//! Cairn user of the request's access key, through a [`DfsClient`] for that
//! user that shares the gateway's connections. The operations themselves
//! live by concern in `bucket.rs`, `object.rs`, `listing.rs` and
//! `multipart.rs`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_client::{DfsClient, FileStatus};
use parking_lot::Mutex;
use s3s::dto::*;
use s3s::{S3, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::auth::KeyStore;
use crate::error::{GatewayError, s3_err};
use crate::md5_lanes::Md5Lanes;
use crate::path::STAGING_ROOT;

/// Where single PUTs are written before they are renamed into place.
pub const STAGING_TMP: &str = "/.cairn-s3/tmp";
/// Where multipart uploads keep their parts.
pub const STAGING_UPLOADS: &str = "/.cairn-s3/uploads";

pub struct Gateway {
    /// The gateway's own user: creates the staging directories and reads
    /// bucket ACLs for anonymous requests.
    pub(crate) admin: DfsClient,
    keys: KeyStore,
    /// The user anonymous reads of public buckets run as.
    anonymous_user: String,
    clients: Mutex<HashMap<String, DfsClient>>,
    /// Hashes every upload's body, several at once.
    pub(crate) md5_lanes: Md5Lanes,
}

impl Gateway {
    pub fn new(
        admin: DfsClient,
        keys: KeyStore,
        anonymous_user: String,
        md5_lanes: Md5Lanes,
    ) -> Self {
        Self {
            admin,
            keys,
            anonymous_user,
            clients: Mutex::new(HashMap::new()),
            md5_lanes,
        }
    }

    /// Creates the hidden staging directories, open to every user with
    /// the sticky bit as /tmp is. Needs a user who may write `/` (the
    /// superuser) the first time.
    pub async fn prepare_staging(&self) -> crate::error::Result<()> {
        let mut created = false;
        for dir in [STAGING_TMP, STAGING_UPLOADS] {
            let ready = self
                .admin
                .get_file_info(dir)
                .await?
                .is_some_and(|s| s.permission & 0o1777 == 0o1777);
            if !ready {
                self.admin.mkdirs(dir, Some(0o1777)).await?;
                self.admin.set_permission(dir, 0o1777).await?;
                created = true;
            }
        }
        if created {
            self.admin.set_permission(STAGING_ROOT, 0o755).await?;
        }
        Ok(())
    }

    /// The client acting for the request's user.
    pub(crate) fn client<T>(&self, req: &S3Request<T>) -> S3Result<DfsClient> {
        let user = match &req.credentials {
            Some(creds) => self
                .keys
                .user_of(&creds.access_key)
                .ok_or_else(|| s3s::s3_error!(InvalidAccessKeyId))?,
            None => self.anonymous_user.as_str(),
        };
        let mut clients = self.clients.lock();
        if let Some(client) = clients.get(user) {
            return Ok(client.clone());
        }
        let client = self
            .admin
            .with_user(user)
            .map_err(|e| GatewayError::from(e).into_s3())?;
        clients.insert(user.to_string(), client.clone());
        Ok(client)
    }

    /// A fresh name in the staging area for a file being written.
    pub(crate) fn staging_file(&self) -> String {
        format!("{STAGING_TMP}/put-{:032x}", rand::random::<u128>())
    }
}

/// An owner entry for listings: S3's owner is the file's owner.
pub(crate) fn owner(name: &str) -> Owner {
    Owner {
        display_name: Some(name.to_string()),
        id: Some(name.to_string()),
    }
}

/// A file's modification time as S3's timestamp.
pub(crate) fn timestamp(ms: u64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `NoSuchBucket` unless `/bucket` is a directory.
pub(crate) async fn require_bucket(client: &DfsClient, bucket: &str) -> S3Result<FileStatus> {
    let dir = crate::path::bucket_path(bucket)?;
    match client.get_file_info(&dir).await {
        Ok(Some(status)) if status.file_type == cairn_client::FileType::Directory as i32 => {
            Ok(status)
        }
        Ok(_) => Err(no_such_bucket(bucket).into_s3()),
        Err(err) => Err(GatewayError::from(err).into_s3()),
    }
}

pub(crate) fn no_such_bucket(bucket: &str) -> GatewayError {
    s3_err(
        S3ErrorCode::NoSuchBucket,
        format!("The specified bucket does not exist: {bucket}"),
    )
}

#[async_trait::async_trait]
impl S3 for Gateway {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.do_list_buckets(req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.do_create_bucket(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.do_delete_bucket(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.do_head_bucket(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.do_get_bucket_location(req).await
    }

    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        self.do_put_bucket_acl(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.do_put_object(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.do_get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.do_head_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.do_delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.do_delete_objects(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.do_copy_object(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.do_list_objects_v2(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.do_list_objects(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.do_create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.do_upload_part(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.do_upload_part_copy(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.do_complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.do_abort_multipart_upload(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.do_list_parts(req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.do_list_multipart_uploads(req).await
    }
}
