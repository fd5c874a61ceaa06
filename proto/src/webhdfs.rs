//! What the namenode's and the datanodes' WebHDFS endpoints share: the
//! query parameters ([`Params`]) and the error body, a `RemoteException`
//! naming the Java exception that Hadoop would have thrown, which is what
//! WebHDFS clients (HdfsCLI, fsspec, Hadoop's own `WebHdfsFileSystem`)
//! match on.

use serde::Serialize;

use crate::ErrorKind;

/// One WebHDFS error: the HTTP status and the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteException {
    /// As Hadoop's `ExceptionHandler` maps exceptions to statuses.
    pub http_status: u16,
    /// The simple name, e.g. `FileNotFoundException`.
    pub exception: &'static str,
    /// The fully qualified name, e.g. `java.io.FileNotFoundException`.
    pub java_class_name: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "RemoteException")]
    remote_exception: Inner<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inner<'a> {
    exception: &'a str,
    java_class_name: &'a str,
    message: &'a str,
}

impl RemoteException {
    /// The exception Hadoop throws for `kind`.
    pub fn from_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        let (exception, java_class_name) = java_exception(kind);
        let http_status = match exception {
            "FileNotFoundException" => 404,
            "AccessControlException" => 403,
            "IllegalArgumentException" | "InvalidPathException" => 400,
            "StandbyException" | "RetriableException" => 503,
            _ => 403, // every other IOException, as Hadoop
        };
        Self {
            http_status,
            exception,
            java_class_name,
            message: message.into(),
        }
    }

    /// A request WebHDFS cannot take (a missing or bad parameter, an
    /// unknown operation).
    pub fn illegal_argument(message: impl Into<String>) -> Self {
        Self::from_kind(ErrorKind::InvalidArgument, message)
    }

    /// `{"RemoteException":{"exception":...,"javaClassName":...,"message":...}}`.
    pub fn to_json(&self) -> String {
        let body = Body {
            remote_exception: Inner {
                exception: self.exception,
                java_class_name: self.java_class_name,
                message: &self.message,
            },
        };
        serde_json::to_string(&body).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Hadoop's exception for each kind of Cairn error.
fn java_exception(kind: ErrorKind) -> (&'static str, &'static str) {
    match kind {
        ErrorKind::NotFound | ErrorKind::ReplicaNotFound | ErrorKind::XAttrNotFound => {
            ("FileNotFoundException", "java.io.FileNotFoundException")
        }
        ErrorKind::AlreadyExists => (
            "FileAlreadyExistsException",
            "org.apache.hadoop.fs.FileAlreadyExistsException",
        ),
        ErrorKind::PermissionDenied => (
            "AccessControlException",
            "org.apache.hadoop.security.AccessControlException",
        ),
        ErrorKind::NotADirectory => (
            "ParentNotDirectoryException",
            "org.apache.hadoop.fs.ParentNotDirectoryException",
        ),
        ErrorKind::IsADirectory => ("IOException", "java.io.IOException"),
        ErrorKind::DirectoryNotEmpty => (
            "PathIsNotEmptyDirectoryException",
            "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
        ),
        ErrorKind::SafeMode => (
            "SafeModeException",
            "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
        ),
        ErrorKind::LeaseConflict => (
            "AlreadyBeingCreatedException",
            "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
        ),
        ErrorKind::LeaseExpired => (
            "LeaseExpiredException",
            "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException",
        ),
        ErrorKind::InvalidArgument => (
            "IllegalArgumentException",
            "java.lang.IllegalArgumentException",
        ),
        ErrorKind::InvalidPath => (
            "InvalidPathException",
            "org.apache.hadoop.fs.InvalidPathException",
        ),
        ErrorKind::NotReplicatedYet | ErrorKind::Unavailable | ErrorKind::TimedOut => (
            "RetriableException",
            "org.apache.hadoop.ipc.RetriableException",
        ),
        ErrorKind::ChecksumMismatch => (
            "ChecksumException",
            "org.apache.hadoop.fs.ChecksumException",
        ),
        ErrorKind::NoSpace => (
            "DiskOutOfSpaceException",
            "org.apache.hadoop.util.DiskChecker$DiskOutOfSpaceException",
        ),
        ErrorKind::NotEnoughReplicas
        | ErrorKind::StaleGenerationStamp
        | ErrorKind::ClusterIdMismatch
        | ErrorKind::UnregisteredDatanode
        | ErrorKind::Io
        | ErrorKind::Internal => ("IOException", "java.io.IOException"),
    }
}

/// The query parameters of one WebHDFS request, in order (some, like
/// `xattr.name`, may repeat). Names are matched without regard to case,
/// as Hadoop does.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The operation, upper-cased (`op=liststatus` works too).
    pub fn op(&self) -> Result<String, RemoteException> {
        self.get("op")
            .map(str::to_ascii_uppercase)
            .ok_or_else(|| RemoteException::illegal_argument("the parameter op is missing"))
    }

    /// A number parameter, `None` when absent; a bad value is an
    /// IllegalArgumentException naming it.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, RemoteException> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                RemoteException::illegal_argument(format!(
                    "Invalid value for webhdfs parameter \"{name}\": {text}"
                ))
            }),
        }
    }

    /// A boolean parameter (`true`/`false`), `default` when absent.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, RemoteException> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(RemoteException::illegal_argument(format!(
                "Invalid value for webhdfs parameter \"{name}\": {other}"
            ))),
        }
    }

    /// An octal permission (`permission=755`), `None` when absent.
    pub fn permission(&self) -> Result<Option<u16>, RemoteException> {
        match self.get("permission") {
            None | Some("") => Ok(None),
            Some(text) => u16::from_str_radix(text, 8)
                .ok()
                .filter(|mode| *mode <= 0o1777)
                .map(Some)
                .ok_or_else(|| {
                    RemoteException::illegal_argument(format!(
                        "Invalid value for webhdfs parameter \"permission\": {text}"
                    ))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_a_404_file_not_found_exception() {
        let err = RemoteException::from_kind(ErrorKind::NotFound, "File does not exist: /x");
        assert_eq!(err.http_status, 404);
        let json: serde_json::Value = serde_json::from_str(&err.to_json()).unwrap();
        assert_eq!(
            json["RemoteException"]["exception"],
            "FileNotFoundException"
        );
        assert_eq!(
            json["RemoteException"]["javaClassName"],
            "java.io.FileNotFoundException"
        );
        assert_eq!(
            json["RemoteException"]["message"],
            "File does not exist: /x"
        );
    }

    #[test]
    fn params_are_case_blind_and_typed() {
        let params = Params(vec![
            ("op".into(), "liststatus".into()),
            ("Overwrite".into(), "true".into()),
            ("permission".into(), "750".into()),
            ("length".into(), "x".into()),
            ("xattr.name".into(), "user.a".into()),
            ("xattr.name".into(), "user.b".into()),
        ]);
        assert_eq!(params.op().unwrap(), "LISTSTATUS");
        assert!(params.flag("overwrite", false).unwrap());
        assert_eq!(params.permission().unwrap(), Some(0o750));
        assert_eq!(params.number::<u64>("offset").unwrap(), None);
        assert_eq!(params.number::<u64>("length").unwrap_err().http_status, 400);
        assert_eq!(params.all("xattr.name"), ["user.a", "user.b"]);
    }

    #[test]
    fn permission_and_argument_errors_have_hadoops_statuses() {
        assert_eq!(
            RemoteException::from_kind(ErrorKind::PermissionDenied, "no").http_status,
            403
        );
        assert_eq!(RemoteException::illegal_argument("bad").http_status, 400);
        assert_eq!(
            RemoteException::from_kind(ErrorKind::DirectoryNotEmpty, "d").exception,
            "PathIsNotEmptyDirectoryException"
        );
    }
}
