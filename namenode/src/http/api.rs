//! The JSON status API (`/api/v1/...`): the same snapshot the pages render,
//! for scripts and dashboards.
//!
//! * `/api/v1/cluster` — the overview, datanodes included;
//! * `/api/v1/datanodes` — the datanodes alone;
//! * `/api/v1/listing?path=P` and `/api/v1/blocks?path=P` — a directory's
//!   entries or a file's blocks (either path works for either; the answer
//!   says which it is), as `user.name=` or the superuser.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_proto::webhdfs::RemoteException;

use super::Ctx;
use super::snapshot::{ClusterSnapshot, DatanodeRow, path_view};

pub(crate) async fn cluster(State(ctx): Ctx) -> Json<ClusterSnapshot> {
    Json(ctx.snapshot())
}

pub(crate) async fn datanodes(State(ctx): Ctx) -> Json<Vec<DatanodeRow>> {
    Json(ctx.snapshot().datanodes)
}

pub(crate) async fn listing(ctx: Ctx, query: Query<HashMap<String, String>>) -> Response {
    path(ctx, query).await
}

pub(crate) async fn blocks(ctx: Ctx, query: Query<HashMap<String, String>>) -> Response {
    path(ctx, query).await
}

async fn path(State(ctx): Ctx, Query(query): Query<HashMap<String, String>>) -> Response {
    let path = query.get("path").map_or("/", String::as_str);
    let user = query
        .get("user.name")
        .cloned()
        .unwrap_or_else(|| ctx.fs.config.superuser.clone());
    let result = match ctx.client(&user).await {
        Ok(client) => path_view(&client, path).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(view)) => Json(view).into_response(),
        Ok(None) => error(RemoteException::from_kind(
            cairn_client::ErrorKind::NotFound,
            format!("File does not exist: {path}"),
        )),
        Err(e) => error(RemoteException::from_kind(e.kind(), e.to_string())),
    }
}

/// An API error, in WebHDFS's RemoteException shape.
pub(crate) fn error(err: RemoteException) -> Response {
    (
        StatusCode::from_u16(err.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(http::header::CONTENT_TYPE, "application/json")],
        err.to_json(),
    )
        .into_response()
}
