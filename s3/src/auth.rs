//! Who a request runs as. Access keys map to Cairn users (SigV4 in headers
//! and presigned URLs is checked by `s3s` against the secret returned
//! here); every request then runs as that user, so the namenode's
//! permission checks apply to S3 exactly as to `cairn dfs`. Anonymous
//! requests may only read a bucket made public-read.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_client::DfsClient;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{S3ErrorCode, S3Result, s3_error};

use crate::meta::ACL_XATTR;
use crate::server::OperationSlot;

/// One access key of the gateway.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key: String,
    pub secret_key: String,
    /// The Cairn user requests signed with this key act as.
    pub user: String,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key", &self.access_key)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The canned ACL value that opens a bucket to anonymous reads.
pub const PUBLIC_READ: &str = "public-read";

/// Access keys by id.
#[derive(Debug, Default, Clone)]
pub struct KeyStore {
    keys: Arc<HashMap<String, AccessKey>>,
}

impl KeyStore {
    pub fn new(keys: impl IntoIterator<Item = AccessKey>) -> Self {
        Self {
            keys: Arc::new(
                keys.into_iter()
                    .map(|k| (k.access_key.clone(), k))
                    .collect(),
            ),
        }
    }

    /// The Cairn user of an access key.
    pub fn user_of(&self, access_key: &str) -> Option<&str> {
        self.keys.get(access_key).map(|k| k.user.as_str())
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyStore {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.keys.get(access_key) {
            Some(key) => Ok(SecretKey::from(key.secret_key.as_str())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

/// Lets signed requests through (the namenode decides what their user may
/// do) and anonymous ones only to read a public-read bucket.
pub struct PublicReadAccess {
    /// Reads the buckets' ACL as the gateway's own user.
    pub admin: DfsClient,
}

/// Operations an anonymous reader may perform on a public-read bucket.
const ANONYMOUS_READS: &[&str] = &[
    "GetObject",
    "HeadObject",
    "ListObjects",
    "ListObjectsV2",
    "HeadBucket",
    "GetBucketLocation",
];

#[async_trait::async_trait]
impl S3Access for PublicReadAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let operation = cx.s3_op().name().to_string();
        if let Some(slot) = cx.extensions_mut().get::<OperationSlot>() {
            *slot.0.lock() = Some(operation);
        }
        if cx.credentials().is_some() {
            return Ok(());
        }
        let denied = || {
            s3_error!(
                AccessDenied,
                "Anonymous access is forbidden for this operation"
            )
        };
        let bucket = match cx.s3_path() {
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => bucket.to_string(),
            S3Path::Root => return Err(denied()),
        };
        if !ANONYMOUS_READS.contains(&cx.s3_op().name()) {
            return Err(denied());
        }
        let Ok(dir) = crate::path::bucket_path(&bucket) else {
            return Err(denied());
        };
        match self.admin.get_xattr(&dir, ACL_XATTR).await {
            Ok(Some(acl)) if acl == PUBLIC_READ.as_bytes() => Ok(()),
            Ok(_) => Err(denied()),
            Err(err) if err.kind() == cairn_client::ErrorKind::NotFound => {
                Err(s3s::S3Error::with_message(
                    S3ErrorCode::NoSuchBucket,
                    format!("The specified bucket does not exist: {bucket}"),
                ))
            }
            Err(err) => Err(crate::error::GatewayError::from(err).into_s3()),
        }
    }
}
