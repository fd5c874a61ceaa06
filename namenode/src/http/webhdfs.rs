//! WebHDFS REST API v1 on the namenode's HTTP port, after Hadoop's
//! `NamenodeWebHdfsMethods`: metadata operations answer here, through the
//! client library as the request's `user.name`; CREATE, APPEND and OPEN
//! answer `307 Temporary Redirect` to a datanode's HTTP port, which streams
//! the bytes (`namenoderpcaddress=` tells it where the namenode is).
//!
//! Errors are Hadoop's JSON `RemoteException`, with the Java exception
//! names that WebHDFS clients match on.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cairn_client::{DfsClient, DfsError, FileStatus, FileType, XAttrSetFlag};
use cairn_proto::ErrorKind;
use cairn_proto::pb;
use cairn_proto::webhdfs::{Params, RemoteException};
use md5::{Digest, Md5};
use serde_json::{Value, json};

use super::api::error;
use super::html::url_path;
use super::{Ctx, HttpContext};

/// The URL prefix of every WebHDFS path.
pub const PREFIX: &str = "/webhdfs/v1";

type Outcome = Result<Response, RemoteException>;

pub(crate) async fn handle(
    State(ctx): Ctx,
    method: Method,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params(query);
    match dispatch(&ctx, &method, &uri, &params).await {
        Ok(response) => response,
        Err(err) => error(err),
    }
}

/// The file system path of a WebHDFS URL: what follows `/webhdfs/v1`,
/// percent-decoded, `/` when empty.
pub fn fs_path(uri: &Uri) -> Result<String, RemoteException> {
    let raw = uri.path().strip_prefix(PREFIX).unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| RemoteException::illegal_argument("the path is not valid UTF-8"))?;
    Ok(if decoded.is_empty() {
        "/".to_string()
    } else {
        decoded.into_owned()
    })
}

fn dfs_error(err: DfsError) -> RemoteException {
    RemoteException::from_kind(err.kind(), err.to_string())
}

fn not_found(path: &str) -> RemoteException {
    RemoteException::from_kind(ErrorKind::NotFound, format!("File does not exist: {path}"))
}

fn json_ok(value: Value) -> Outcome {
    Ok((
        [(http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response())
}

fn boolean(value: bool) -> Outcome {
    json_ok(json!({ "boolean": value }))
}

fn empty_ok() -> Outcome {
    Ok(StatusCode::OK.into_response())
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, RemoteException> {
    params.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        RemoteException::illegal_argument(format!("the parameter {name} is missing"))
    })
}

async fn dispatch(ctx: &HttpContext, method: &Method, uri: &Uri, params: &Params) -> Outcome {
    let op = params.op()?;
    let path = fs_path(uri)?;
    let user = params
        .get("user.name")
        .filter(|u| !u.is_empty())
        .map_or_else(|| "dr.who".to_string(), str::to_string);
    let allowed = match op.as_str() {
        "GETFILESTATUS" | "LISTSTATUS" | "LISTSTATUS_BATCH" | "GETCONTENTSUMMARY"
        | "GETFILECHECKSUM" | "GETHOMEDIRECTORY" | "GETXATTRS" | "LISTXATTRS" | "OPEN" => {
            Method::GET
        }
        "MKDIRS" | "CREATE" | "RENAME" | "SETPERMISSION" | "SETOWNER" | "SETREPLICATION"
        | "SETTIMES" | "SETXATTR" | "REMOVEXATTR" => Method::PUT,
        "APPEND" | "TRUNCATE" | "CONCAT" => Method::POST,
        "DELETE" => Method::DELETE,
        _ => {
            return Err(RemoteException::illegal_argument(format!(
                "Invalid value for webhdfs parameter \"op\": No enum constant {op}"
            )));
        }
    };
    if *method != allowed {
        return Err(RemoteException::illegal_argument(format!(
            "Invalid value for webhdfs parameter \"op\": {op} is a {allowed} operation, not {method}"
        )));
    }
    if matches!(op.as_str(), "CREATE" | "APPEND" | "OPEN") {
        return redirect(ctx, &path, uri, &user);
    }
    let client = ctx.client(&user).await.map_err(dfs_error)?;
    match op.as_str() {
        "GETFILESTATUS" => {
            let status = client
                .get_file_link_info(&path)
                .await
                .map_err(dfs_error)?
                .ok_or_else(|| not_found(&path))?;
            json_ok(json!({ "FileStatus": file_status(&status, "") }))
        }
        "LISTSTATUS" => {
            let entries = listing(&client, &path).await?;
            json_ok(json!({ "FileStatuses": { "FileStatus": entries } }))
        }
        "LISTSTATUS_BATCH" => {
            let start_after = params.get("startAfter").unwrap_or("");
            let (page, remaining) = client
                .list_page(&path, start_after)
                .await
                .map_err(dfs_error)?;
            let entries: Vec<Value> = page
                .iter()
                .map(|s| file_status(s, suffix(&path, s)))
                .collect();
            json_ok(json!({ "DirectoryListing": {
                "partialListing": { "FileStatuses": { "FileStatus": entries } },
                "remainingEntries": remaining,
            }}))
        }
        "GETCONTENTSUMMARY" => {
            let s = client.content_summary(&path).await.map_err(dfs_error)?;
            json_ok(json!({ "ContentSummary": {
                "directoryCount": s.directory_count,
                "fileCount": s.file_count,
                "length": s.length,
                "quota": s.quota,
                "spaceConsumed": s.space_consumed,
                "spaceQuota": s.space_quota,
                "typeQuota": {},
            }}))
        }
        "GETFILECHECKSUM" => {
            json_ok(json!({ "FileChecksum": file_checksum(&client, &path).await? }))
        }
        "GETHOMEDIRECTORY" => json_ok(json!({ "Path": format!("/user/{user}") })),
        "MKDIRS" => {
            let created = client
                .mkdirs(&path, params.permission()?)
                .await
                .map_err(dfs_error)?;
            boolean(created)
        }
        "RENAME" => {
            let destination = required(params, "destination")?;
            match client.rename(&path, destination, false).await {
                Ok(()) => boolean(true),
                // Hadoop's rename(src, dst) answers false rather than
                // throwing when the source is missing or the target exists.
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::AlreadyExists) => {
                    boolean(false)
                }
                Err(e) => Err(dfs_error(e)),
            }
        }
        "DELETE" => {
            let recursive = params.flag("recursive", false)?;
            boolean(client.delete(&path, recursive).await.map_err(dfs_error)?)
        }
        "SETPERMISSION" => {
            let mode = params.permission()?.unwrap_or(0o755);
            client
                .set_permission(&path, mode)
                .await
                .map_err(dfs_error)?;
            empty_ok()
        }
        "SETOWNER" => {
            let owner = params.get("owner").filter(|v| !v.is_empty());
            let group = params.get("group").filter(|v| !v.is_empty());
            if owner.is_none() && group.is_none() {
                return Err(RemoteException::illegal_argument(
                    "Both owner and group are empty.",
                ));
            }
            client
                .set_owner(&path, owner, group)
                .await
                .map_err(dfs_error)?;
            empty_ok()
        }
        "SETREPLICATION" => {
            let replication = params.number::<u32>("replication")?.unwrap_or(3);
            boolean(
                client
                    .set_replication(&path, replication)
                    .await
                    .map_err(dfs_error)?,
            )
        }
        "SETTIMES" => {
            let time = |name: &str| -> Result<Option<u64>, RemoteException> {
                Ok(params
                    .number::<i64>(name)?
                    .and_then(|t| u64::try_from(t).ok()))
            };
            client
                .set_times(&path, time("modificationtime")?, time("accesstime")?)
                .await
                .map_err(dfs_error)?;
            empty_ok()
        }
        "TRUNCATE" => {
            let length = params.number::<u64>("newlength")?.ok_or_else(|| {
                RemoteException::illegal_argument("the parameter newlength is missing")
            })?;
            boolean(client.truncate(&path, length).await.map_err(dfs_error)?)
        }
        "CONCAT" => {
            let sources: Vec<String> = required(params, "sources")?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            client.concat(&path, &sources).await.map_err(dfs_error)?;
            empty_ok()
        }
        "GETXATTRS" => get_xattrs(&client, &path, params).await,
        "LISTXATTRS" => {
            let names = client.list_xattrs(&path).await.map_err(dfs_error)?;
            // Hadoop sends the names as a JSON array inside a string.
            json_ok(json!({ "XAttrNames": Value::from(names).to_string() }))
        }
        "SETXATTR" => {
            let name = required(params, "xattr.name")?;
            let value = decode_xattr_value(params.get("xattr.value").unwrap_or(""))?;
            let flag = match params.get("flag").map(str::to_ascii_uppercase).as_deref() {
                Some("CREATE") => XAttrSetFlag::XattrCreate,
                Some("REPLACE") => XAttrSetFlag::XattrReplace,
                _ => XAttrSetFlag::XattrCreateOrReplace,
            };
            client
                .set_xattr(&path, name, &value, flag)
                .await
                .map_err(dfs_error)?;
            empty_ok()
        }
        "REMOVEXATTR" => {
            let name = required(params, "xattr.name")?;
            client.remove_xattr(&path, name).await.map_err(dfs_error)?;
            empty_ok()
        }
        _ => Err(RemoteException::illegal_argument(format!(
            "Invalid value for webhdfs parameter \"op\": {op}"
        ))),
    }
}

/// HDFS's `FileStatus` JSON; `suffix` is the name relative to the listed
/// directory (empty for GETFILESTATUS).
pub fn file_status(s: &FileStatus, suffix: &str) -> Value {
    let kind = match s.file_type() {
        FileType::Directory => "DIRECTORY",
        FileType::Symlink => "SYMLINK",
        FileType::File | FileType::Unspecified => "FILE",
    };
    let mut value = json!({
        "accessTime": s.access_time_ms,
        "blockSize": s.block_size,
        "childrenNum": s.children_num,
        "fileId": s.inode_id,
        "group": s.group,
        "length": s.length,
        "modificationTime": s.modification_time_ms,
        "owner": s.owner,
        "pathSuffix": suffix,
        "permission": format!("{:o}", s.permission & 0o7777),
        "replication": s.replication,
        "storagePolicy": 0,
        "type": kind,
    });
    if s.file_type() == FileType::Symlink
        && let Some(map) = value.as_object_mut()
    {
        map.insert("symlink".into(), Value::from(s.symlink_target.clone()));
    }
    value
}

/// A listing of a file is the file itself, with an empty suffix.
fn suffix<'a>(path: &str, s: &'a FileStatus) -> &'a str {
    if s.file_type() != FileType::Directory && path.ends_with(&format!("/{}", s.name)) {
        ""
    } else {
        &s.name
    }
}

async fn listing(client: &DfsClient, path: &str) -> Result<Vec<Value>, RemoteException> {
    let status = client
        .get_file_info(path)
        .await
        .map_err(dfs_error)?
        .ok_or_else(|| not_found(path))?;
    if status.file_type() != FileType::Directory {
        return Ok(vec![file_status(&status, "")]);
    }
    let entries = client.list(path).await.map_err(dfs_error)?;
    Ok(entries.iter().map(|s| file_status(s, &s.name)).collect())
}

/// CREATE, APPEND and OPEN: a datanode streams the bytes. Hadoop picks a
/// datanode holding the first block for OPEN; any live one otherwise.
fn redirect(ctx: &HttpContext, path: &str, uri: &Uri, user: &str) -> Outcome {
    let nodes: Vec<pb::DatanodeInfo> = {
        let ns = ctx.fs.state.read();
        ns.datanode_report(pb::DatanodeReportType::Live)
    };
    let candidates: Vec<&pb::DatanodeInfo> = nodes
        .iter()
        .filter(|d| d.http_port != 0 && !d.stale)
        .collect();
    if candidates.is_empty() {
        return Err(RemoteException::from_kind(
            ErrorKind::Io,
            "Failed to find datanode, suggest to check cluster health: \
             no live datanode serves HTTP",
        ));
    }
    let pick = candidates
        .get(rand::random_range(0..candidates.len()))
        .copied()
        .ok_or_else(|| RemoteException::from_kind(ErrorKind::Internal, "no datanode"))?;
    let rpc = if ctx.rpc_addr.ip().is_unspecified() {
        format!("{}:{}", pick.host, ctx.rpc_addr.port())
    } else {
        ctx.rpc_addr.to_string()
    };
    let mut query = uri.query().unwrap_or("").to_string();
    if !query.contains("user.name=") {
        query.push_str(&format!("&user.name={}", url_path(user)));
    }
    let location = format!(
        "http://{}:{}{PREFIX}{}?{}&namenoderpcaddress={}",
        pick.host,
        pick.http_port,
        url_path(path),
        query.trim_start_matches('&'),
        rpc
    );
    let header = HeaderValue::from_str(&location)
        .map_err(|_| RemoteException::illegal_argument("the redirect URL is not valid"))?;
    let mut response = (
        StatusCode::TEMPORARY_REDIRECT,
        [(http::header::CONTENT_TYPE, "application/json")],
        json!({ "Location": location }).to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(http::header::LOCATION, header);
    Ok(response)
}

async fn get_xattrs(client: &DfsClient, path: &str, params: &Params) -> Outcome {
    let encoding = params
        .get("encoding")
        .map_or_else(|| "text".to_string(), str::to_ascii_lowercase);
    let wanted = params.all("xattr.name");
    let all = client.get_xattrs(path).await.map_err(dfs_error)?;
    let mut out = Vec::new();
    for name in &wanted {
        if !all.iter().any(|(n, _)| n == name) {
            return Err(RemoteException::from_kind(
                ErrorKind::Io,
                format!("At least one of the attributes provided was not found: {name}"),
            ));
        }
    }
    for (name, value) in &all {
        if !wanted.is_empty() && !wanted.contains(&name.as_str()) {
            continue;
        }
        let encoded = match encoding.as_str() {
            "hex" => format!("0x{}", hex_string(value)),
            "base64" => format!("0s{}", base64(value)),
            _ => format!("\"{}\"", String::from_utf8_lossy(value)),
        };
        out.push(json!({ "name": name, "value": encoded }));
    }
    json_ok(json!({ "XAttrs": out }))
}

/// Hadoop's xattr value syntax: `0x...` hex, `0s...` base64, `"..."` or
/// plain text.
fn decode_xattr_value(text: &str) -> Result<Vec<u8>, RemoteException> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| {
                        RemoteException::illegal_argument(format!("bad hex xattr value {text}"))
                    })
            })
            .collect();
    }
    if let Some(quoted) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Ok(quoted.as_bytes().to_vec());
    }
    Ok(text.as_bytes().to_vec())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = ((n >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'=')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Bytes read at a time while checksumming: whole chunks, so every CRC is
/// of a chunk aligned to its block's start.
const CHECKSUM_READ: usize = 1 << 20;

/// Hadoop's `MD5MD5CRC32FileChecksum`: the MD5 of each block's chunk CRCs,
/// then the MD5 of those. Hadoop asks each datanode for its block's part;
/// Cairn reads the file through the client (which verifies every chunk
/// against the datanodes' own CRCs on the way) and computes the same thing.
async fn file_checksum(client: &DfsClient, path: &str) -> Result<Value, RemoteException> {
    let status = client
        .get_file_info(path)
        .await
        .map_err(dfs_error)?
        .ok_or_else(|| not_found(path))?;
    if status.file_type() != FileType::File {
        return Err(RemoteException::from_kind(
            ErrorKind::NotFound,
            format!("Path is not a file: {path}"),
        ));
    }
    let located = client
        .get_block_locations(path, 0, u64::MAX)
        .await
        .map_err(dfs_error)?;
    let reader = client.open(path).await.map_err(dfs_error)?;
    let bytes_per_crc = cairn_proto::BYTES_PER_CHECKSUM as u64;
    let mut file_md5 = Md5::new();
    let mut buf = vec![0u8; CHECKSUM_READ];
    let mut crcs = Vec::new();
    for lb in &located.blocks {
        let Some(block) = &lb.block else { continue };
        let mut block_md5 = Md5::new();
        let mut done = 0u64;
        while done < block.num_bytes {
            let n = usize::try_from((block.num_bytes - done).min(CHECKSUM_READ as u64))
                .unwrap_or(CHECKSUM_READ);
            let Some(slice) = buf.get_mut(..n) else { break };
            reader
                .read_fully_at(lb.offset + done, slice)
                .await
                .map_err(dfs_error)?;
            crcs.clear();
            cairn_proto::ChecksumType::Crc32.chunk_checksums(slice, done, &mut crcs);
            block_md5.update(&crcs);
            done += n as u64;
        }
        file_md5.update(block_md5.finalize());
    }
    let crc_per_block = if located.blocks.len() > 1 {
        status.block_size / bytes_per_crc
    } else {
        0
    };
    let mut bytes = Vec::with_capacity(28);
    bytes.extend_from_slice(&u32::try_from(bytes_per_crc).unwrap_or(512).to_be_bytes());
    bytes.extend_from_slice(&crc_per_block.to_be_bytes());
    bytes.extend_from_slice(&file_md5.finalize());
    Ok(json!({
        "algorithm": format!("MD5-of-{crc_per_block}MD5-of-{bytes_per_crc}CRC32"),
        "bytes": hex_string(&bytes),
        "length": bytes.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_the_url_decoded() {
        let uri: Uri = "/webhdfs/v1/a%20b/c?op=OPEN".parse().unwrap();
        assert_eq!(fs_path(&uri).unwrap(), "/a b/c");
        let root: Uri = "/webhdfs/v1?op=LISTSTATUS".parse().unwrap();
        assert_eq!(fs_path(&root).unwrap(), "/");
    }

    #[test]
    fn file_status_has_hadoops_fields() {
        let s = FileStatus {
            name: "f".into(),
            file_type: FileType::File as i32,
            length: 5,
            permission: 0o644,
            owner: "alice".into(),
            replication: 3,
            ..Default::default()
        };
        let v = file_status(&s, "f");
        assert_eq!(v["type"], "FILE");
        assert_eq!(v["permission"], "644");
        assert_eq!(v["pathSuffix"], "f");
        assert_eq!(v["length"], 5);
    }

    #[test]
    fn xattr_values_decode_and_encode() {
        assert_eq!(decode_xattr_value("0x6869").unwrap(), b"hi");
        assert_eq!(decode_xattr_value("\"hi\"").unwrap(), b"hi");
        assert_eq!(decode_xattr_value("hi").unwrap(), b"hi");
        assert!(decode_xattr_value("0xzz").is_err());
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(hex_string(b"hi"), "6869");
    }
}
