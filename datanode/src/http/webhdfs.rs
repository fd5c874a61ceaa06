//! The data half of WebHDFS (Hadoop's `DatanodeWebHdfsMethods`): the
//! namenode redirects CREATE, APPEND and OPEN here, with
//! `namenoderpcaddress=` naming the namenode. The bytes stream through the
//! client library into the write pipeline, or out of the block reader, as
//! the request's `user.name`.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cairn_client::{CreateOptions, DfsClient, DfsError, FileWriter};
use cairn_proto::webhdfs::{Params, RemoteException};
use futures::StreamExt;

use super::{Ctx, HttpContext};

const PREFIX: &str = "/webhdfs/v1";

pub(crate) async fn handle(
    State(ctx): Ctx,
    method: Method,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
    body: Body,
) -> Response {
    let params = Params(query);
    match dispatch(&ctx, &method, &uri, &params, body).await {
        Ok(response) => response,
        Err(err) => (
            StatusCode::from_u16(err.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(http::header::CONTENT_TYPE, "application/json")],
            err.to_json(),
        )
            .into_response(),
    }
}

fn dfs_error(err: DfsError) -> RemoteException {
    RemoteException::from_kind(err.kind(), err.to_string())
}

async fn dispatch(
    ctx: &HttpContext,
    method: &Method,
    uri: &Uri,
    params: &Params,
    body: Body,
) -> Result<Response, RemoteException> {
    let op = params.op()?;
    let raw = uri.path().strip_prefix(PREFIX).unwrap_or("");
    let path = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| RemoteException::illegal_argument("the path is not valid UTF-8"))?
        .into_owned();
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let namenode = params
        .get("namenoderpcaddress")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            RemoteException::illegal_argument("the parameter namenoderpcaddress is missing")
        })?;
    let user = params
        .get("user.name")
        .filter(|u| !u.is_empty())
        .unwrap_or("dr.who");
    let client = ctx.clients.get(namenode, user).await.map_err(dfs_error)?;
    match (op.as_str(), method) {
        ("CREATE", &Method::PUT) => {
            let options = CreateOptions {
                overwrite: params.flag("overwrite", false)?,
                create_parent: true,
                permission: params.permission()?,
                replication: params.number("replication")?,
                block_size: params.number("blocksize")?,
            };
            let writer = client.create(&path, options).await.map_err(dfs_error)?;
            copy_body(writer, body).await?;
            let mut response = StatusCode::CREATED.into_response();
            if let Ok(location) = format!("cairn://{namenode}{path}").parse() {
                response
                    .headers_mut()
                    .insert(http::header::LOCATION, location);
            }
            Ok(response)
        }
        ("APPEND", &Method::POST) => {
            let writer = client.append(&path).await.map_err(dfs_error)?;
            copy_body(writer, body).await?;
            Ok(StatusCode::OK.into_response())
        }
        ("OPEN", &Method::GET) => open(&client, &path, params).await,
        _ => Err(RemoteException::illegal_argument(format!(
            "Invalid value for webhdfs parameter \"op\": {op} is not served by a datanode with {method}"
        ))),
    }
}

/// Streams the request body into `writer` and closes it: the file is
/// complete when the answer is sent. A body that breaks off fails the
/// request; the file is then left for lease recovery to close, as a
/// crashed HDFS writer's would be.
async fn copy_body(mut writer: FileWriter, body: Body) -> Result<(), RemoteException> {
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            RemoteException::from_kind(
                cairn_client::ErrorKind::Io,
                format!("the request body broke off: {e}"),
            )
        })?;
        writer.write_bytes(chunk).await.map_err(dfs_error)?;
    }
    writer.close().await.map_err(dfs_error)
}

/// OPEN with `offset` and `length`: the bytes, streamed as they are read.
async fn open(
    client: &DfsClient,
    path: &str,
    params: &Params,
) -> Result<Response, RemoteException> {
    let mut reader = client.open(path).await.map_err(dfs_error)?;
    let offset = params.number::<u64>("offset")?.unwrap_or(0);
    if offset > reader.len() {
        return Err(RemoteException::from_kind(
            cairn_client::ErrorKind::InvalidArgument,
            format!(
                "Offset={offset} out of the range [0, {}); OPEN, path={path}",
                reader.len()
            ),
        ));
    }
    let length = params
        .number::<u64>("length")?
        .unwrap_or(u64::MAX)
        .min(reader.len() - offset);
    reader.seek(offset);
    let stream = futures::stream::unfold((reader, length), |(mut reader, left)| async move {
        if left == 0 {
            return None;
        }
        match reader.read_chunk().await {
            Ok(Some(mut chunk)) => {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
                let chunk: Bytes = chunk.split_to(take);
                let left = left - chunk.len() as u64;
                Some((Ok::<_, DfsError>(chunk), (reader, left)))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("WebHDFS OPEN stopped: {e}");
                Some((Err(e), (reader, 0)))
            }
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(len) = http::HeaderValue::from_str(&length.to_string()) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, len);
    }
    Ok(response)
}
