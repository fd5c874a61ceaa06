//! The file browser (`/explorer?path=P`): walk the namespace; a file shows
//! its blocks, their generation stamps and replica locations, and a
//! download link (WebHDFS OPEN, which a datanode serves).
//!
//! It acts as `user.name=` when given, else as the superuser: the page is
//! for the people who run the cluster, as HDFS's NameNode UI is.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::Ctx;
use super::html::{escape, page as frame, size, table, time, url_path};
use super::snapshot::{FileBlocks, ListingEntry, PathView, path_view};

pub(crate) async fn page(
    State(ctx): Ctx,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let path = normalize(query.get("path").map_or("/", String::as_str));
    let user = query
        .get("user.name")
        .cloned()
        .unwrap_or_else(|| ctx.fs.config.superuser.clone());
    let result = match ctx.client(&user).await {
        Ok(client) => path_view(&client, &path).await,
        Err(e) => Err(e),
    };
    let title = format!("Browse {path}");
    match result {
        Ok(Some(PathView::Directory { entries, .. })) => {
            Html(frame(&title, false, &directory(&path, &entries))).into_response()
        }
        Ok(Some(PathView::File(blocks))) => {
            Html(frame(&title, false, &file(&blocks, &user))).into_response()
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Html(frame(
                &title,
                false,
                &format!(
                    "{}<p class=\"dead\">File does not exist: {}</p>",
                    breadcrumbs(&path),
                    escape(&path)
                ),
            )),
        )
            .into_response(),
        Err(e) => (
            StatusCode::FORBIDDEN,
            Html(frame(
                &title,
                false,
                &format!(
                    "{}<p class=\"dead\">{}</p>",
                    breadcrumbs(&path),
                    escape(&e.to_string())
                ),
            )),
        )
            .into_response(),
    }
}

/// `a//b/` -> `/a/b`.
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

fn child(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn explorer_link(path: &str, text: &str) -> String {
    format!(
        "<a href=\"/explorer?path={}\">{}</a>",
        escape(&url_path(path)),
        escape(text)
    )
}

/// `/ > a > b`, each part a link.
fn breadcrumbs(path: &str) -> String {
    let mut out = String::from("<p id=\"breadcrumbs\">");
    out.push_str(&explorer_link("/", "/"));
    let mut so_far = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        so_far.push('/');
        so_far.push_str(part);
        let _ = write!(out, " &rsaquo; {}", explorer_link(&so_far, part));
    }
    out.push_str("</p>\n");
    out
}

fn directory(path: &str, entries: &[ListingEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                escape(&e.permission),
                escape(&e.owner),
                escape(&e.group),
                if e.kind == "directory" {
                    String::new()
                } else {
                    size(e.length)
                },
                time(e.modification_time_ms),
                if e.kind == "directory" {
                    String::new()
                } else {
                    e.replication.to_string()
                },
                if e.kind == "directory" {
                    String::new()
                } else {
                    size(e.block_size)
                },
                explorer_link(&child(path, &e.name), &e.name),
            ]
        })
        .collect();
    let mut body = breadcrumbs(path);
    let _ = writeln!(
        body,
        "<p>{} entr{}</p>",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" }
    );
    body.push_str(&table(
        &[
            "Permission",
            "Owner",
            "Group",
            "Size",
            "Last modified (UTC)",
            "Replication",
            "Block size",
            "Name",
        ],
        &rows,
    ));
    body
}

fn file(f: &FileBlocks, user: &str) -> String {
    let mut body = breadcrumbs(&f.path);
    let _ = write!(
        body,
        "<p>{} ({} bytes), replication {}{}</p>\n\
         <p><a id=\"download\" href=\"/webhdfs/v1{}?op=OPEN&amp;user.name={}\">Download</a></p>\n",
        size(f.length),
        f.length,
        f.replication,
        if f.under_construction {
            ", being written"
        } else {
            ""
        },
        escape(&url_path(&f.path)),
        escape(&url_path(user)),
    );
    let rows: Vec<Vec<String>> = f
        .blocks
        .iter()
        .map(|b| {
            vec![
                format!("blk_{}", b.block_id),
                b.generation_stamp.to_string(),
                b.offset.to_string(),
                size(b.length),
                if b.locations.is_empty() {
                    "<span class=\"dead\">none (missing)</span>".to_string()
                } else {
                    escape(&b.locations.join(", "))
                },
                if b.corrupt { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    body.push_str("<h2>Blocks</h2>\n");
    body.push_str(&table(
        &[
            "Block",
            "Generation stamp",
            "Offset",
            "Length",
            "Locations",
            "Corrupt",
        ],
        &rows,
    ));
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::snapshot::BlockRow;

    #[test]
    fn a_file_page_shows_blocks_locations_and_a_download_link() {
        let f = FileBlocks {
            path: "/d/<x>.bin".into(),
            length: 2048,
            replication: 3,
            under_construction: false,
            blocks: vec![BlockRow {
                block_id: 1073741825,
                generation_stamp: 1001,
                offset: 0,
                length: 2048,
                locations: vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()],
                corrupt: false,
            }],
        };
        let page = file(&f, "alice");
        assert!(page.contains("blk_1073741825"));
        assert!(page.contains("<td>1001</td>"));
        assert!(page.contains("127.0.0.1:1, 127.0.0.1:2"));
        assert!(page.contains("/webhdfs/v1/d/%3Cx%3E.bin?op=OPEN&amp;user.name=alice"));
        assert!(!page.contains("<x>"));
    }

    #[test]
    fn paths_normalize_and_link_their_parents() {
        assert_eq!(normalize("a//b/"), "/a/b");
        assert_eq!(normalize(""), "/");
        let crumbs = breadcrumbs("/a/b c");
        assert!(crumbs.contains("/explorer?path=/a/b%20c"));
    }
}
