//! Bucket operations: a bucket is a top-level directory.

use cairn_client::{ErrorKind, FileType, XAttrSetFlag};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::auth::PUBLIC_READ;
use crate::error::{GatewayError, s3_err};
use crate::gateway::{Gateway, owner, require_bucket, timestamp};
use crate::meta::ACL_XATTR;
use crate::path::{bucket_path, is_valid_bucket_name};

impl Gateway {
    pub(crate) async fn do_list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let client = self.client(&req)?;
        let entries = client.list("/").await.map_err(GatewayError::from)?;
        let prefix = req.input.prefix.as_deref().unwrap_or("");
        let buckets = entries
            .into_iter()
            .filter(|e| e.file_type == FileType::Directory as i32)
            .filter(|e| is_valid_bucket_name(&e.name) && e.name.starts_with(prefix))
            .map(|e| Bucket {
                bucket_region: None,
                // The AWS CLI fails on a listing without creation dates;
                // a directory's modification time is the closest we keep.
                creation_date: Some(timestamp(e.modification_time_ms)),
                name: Some(e.name),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner(&client.config().user)),
            ..Default::default()
        }))
    }

    pub(crate) async fn do_create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let client = self.client(&req)?;
        let bucket = &req.input.bucket;
        let dir = bucket_path(bucket)?;
        if let Some(status) = client
            .get_file_info(&dir)
            .await
            .map_err(GatewayError::from)?
        {
            let code = if status.owner == client.config().user {
                S3ErrorCode::BucketAlreadyOwnedByYou
            } else {
                S3ErrorCode::BucketAlreadyExists
            };
            return Err(s3_err(code, format!("The bucket {bucket} already exists")).into());
        }
        client
            .mkdirs(&dir, None)
            .await
            .map_err(GatewayError::from)?;
        if let Some(acl) = &req.input.acl {
            set_acl(&client, &dir, acl.as_str()).await?;
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(dir),
        }))
    }

    pub(crate) async fn do_delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let client = self.client(&req)?;
        require_bucket(&client, &req.input.bucket).await?;
        let dir = bucket_path(&req.input.bucket)?;
        match client.delete(&dir, false).await {
            Ok(_) => Ok(S3Response::new(DeleteBucketOutput {})),
            Err(err) if err.kind() == ErrorKind::DirectoryNotEmpty => Err(s3_err(
                S3ErrorCode::BucketNotEmpty,
                "The bucket you tried to delete is not empty",
            )
            .into()),
            Err(err) => Err(GatewayError::from(err).into_s3()),
        }
    }

    pub(crate) async fn do_head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let client = self.client(&req)?;
        require_bucket(&client, &req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    pub(crate) async fn do_get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let client = self.client(&req)?;
        require_bucket(&client, &req.input.bucket).await?;
        // No constraint: us-east-1, where every SDK looks by default.
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: None,
        }))
    }

    /// Only the canned ACLs `private` and `public-read` are kept (as the
    /// bucket directory's `user.s3.acl`); anything else is refused.
    pub(crate) async fn do_put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let client = self.client(&req)?;
        require_bucket(&client, &req.input.bucket).await?;
        let dir = bucket_path(&req.input.bucket)?;
        let Some(acl) = &req.input.acl else {
            return Err(s3_err(
                S3ErrorCode::NotImplemented,
                "Only canned ACLs (x-amz-acl: private or public-read) are supported",
            )
            .into());
        };
        set_acl(&client, &dir, acl.as_str()).await?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }
}

/// Records a canned ACL on a bucket directory.
pub(crate) async fn set_acl(
    client: &cairn_client::DfsClient,
    dir: &str,
    acl: &str,
) -> S3Result<()> {
    match acl {
        PUBLIC_READ => client
            .set_xattr(
                dir,
                ACL_XATTR,
                PUBLIC_READ.as_bytes(),
                XAttrSetFlag::XattrCreateOrReplace,
            )
            .await
            .map_err(|e| GatewayError::from(e).into_s3()),
        "private" => match client.remove_xattr(dir, ACL_XATTR).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::XAttrNotFound => Ok(()),
            Err(err) => Err(GatewayError::from(err).into_s3()),
        },
        other => Err(s3_err(
            S3ErrorCode::NotImplemented,
            format!("The canned ACL {other} is not supported (use private or public-read)"),
        )
        .into()),
    }
}
