//! The datanode's page (`/`): its volumes, its replicas and the block
//! scanner's progress. Read-only; refreshes itself.

use std::fmt::Write;

use axum::extract::State;
use axum::response::Html;

use cairn_proto::html::{escape, size};

use super::Ctx;
use crate::dataset::ReplicaInfo;
use crate::dataset::report::VolumeReport;

/// Replicas listed on the page; the rest are counted.
const LISTED_REPLICAS: usize = 500;

pub(crate) async fn page(State(ctx): Ctx) -> Html<String> {
    let dataset = &ctx.node.dataset;
    let volumes = dataset.volume_reports();
    let replicas = dataset.replicas_sorted(LISTED_REPLICAS);
    let scanned = ctx.node.scanner.blocks_scanned();
    Html(render(
        &ctx.datanode_uuid,
        &ctx.node.xfer_addr,
        &volumes,
        &replicas,
        dataset.len(),
        scanned,
    ))
}

fn render(
    uuid: &str,
    addr: &str,
    volumes: &[VolumeReport],
    replicas: &[ReplicaInfo],
    total: usize,
    scanned: u64,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>Cairn datanode {addr}</title>\
         <style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}\
         th,td{{border:1px solid #ccc;padding:.25em .6em}}</style></head><body>\n\
         <h1>Cairn datanode {}</h1>\n<p>Datanode {} &middot; <a href=\"/metrics\">metrics</a></p>\n\
         <h2>Volumes</h2>\n<table><tr><th>Directory</th><th>Storage</th><th>Capacity</th>\
         <th>Available</th><th>Replicas</th><th>Used by replicas</th></tr>\n",
        escape(addr),
        escape(uuid),
    );
    for v in volumes {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.dir.display().to_string()),
            escape(&v.storage_id),
            v.capacity.map_or_else(|| "failed".to_string(), size),
            v.available.map_or_else(|| "failed".to_string(), size),
            v.replicas,
            size(v.bytes),
        );
    }
    out.push_str("</table>\n<h2>Block scanner</h2>\n");
    let _ = writeln!(
        out,
        "<p id=\"scanner\">{scanned} replicas verified since start</p>"
    );
    let _ = writeln!(
        out,
        "<h2>Replicas</h2>\n<p>{total} replicas{}</p>\n<table><tr><th>Block</th>\
         <th>Generation stamp</th><th>State</th><th>Bytes</th></tr>",
        if total > replicas.len() {
            format!(", the first {} by id listed", replicas.len())
        } else {
            String::new()
        }
    );
    for r in replicas {
        let _ = writeln!(
            out,
            "<tr><td>blk_{}</td><td>{}</td><td>{:?}</td><td>{}</td></tr>",
            r.block_id, r.generation_stamp, r.state, r.bytes_on_disk
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ReplicaState;
    use crate::dataset::volume::new_info;

    #[test]
    fn page_lists_volumes_and_replicas() {
        let volume = VolumeReport {
            dir: "/data/<1>".into(),
            storage_id: "DS-1".into(),
            capacity: Some(4 << 30),
            available: None,
            replicas: 1,
            bytes: 2048,
        };
        let replica = new_info(1073741825, 1001, ReplicaState::Finalized, 0, 2048);
        let page = render("uuid-1", "127.0.0.1:9866", &[volume], &[replica], 1, 7);
        assert!(page.contains("/data/&lt;1&gt;"));
        assert!(page.contains("4.0 GiB"));
        assert!(page.contains("failed"));
        assert!(page.contains("blk_1073741825"));
        assert!(page.contains("7 replicas verified"));
    }
}
