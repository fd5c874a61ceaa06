//! The namenode's HTTP port (HDFS's 9870): a status page a person can open
//! in a browser — safe mode, capacity, files and blocks, block health and
//! every datanode — read from the same namesystem state as `dfsadmin
//! -report`. It needs no JavaScript and refreshes itself.

use std::fmt::Write;
use std::sync::Arc;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use cairn_proto::pb;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::namesystem::FsNamesystem;

/// Serves the status page on `listener` until `stop` turns true.
pub(crate) fn spawn_http(
    fs: Arc<FsNamesystem>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let app = Router::new().route(
        "/",
        get(move || {
            let fs = Arc::clone(&fs);
            async move { Html(overview(&fs)) }
        }),
    );
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            warn!("the namenode's HTTP server stopped: {e}");
        }
    })
}

/// The page: taken under the read lock, rendered outside it.
fn overview(fs: &FsNamesystem) -> String {
    let (cluster_id, stats, safe_mode, datanodes) = {
        let ns = fs.state.read();
        (
            ns.cluster_id.clone(),
            ns.fs_stats(),
            ns.safe_mode_report(),
            ns.datanode_report(pb::DatanodeReportType::All),
        )
    };
    render(&cluster_id, &stats, &safe_mode, &datanodes)
}

fn render(
    cluster_id: &str,
    stats: &pb::FsStats,
    safe_mode: &pb::SetSafeModeResponse,
    datanodes: &[pb::DatanodeInfo],
) -> String {
    let live = datanodes.iter().filter(|d| d.alive).count();
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\">\
         <title>Cairn namenode</title></head><body>\n\
         <h1>Cairn namenode</h1>\n<table>\n"
    );
    let mut row = |name: &str, value: String| {
        let _ = writeln!(
            page,
            "<tr><th align=\"left\">{name}</th><td>{}</td></tr>",
            escape(&value)
        );
    };
    row("Cluster ID", cluster_id.to_string());
    row("Version", env!("CARGO_PKG_VERSION").to_string());
    row("Safe mode", safe_mode.status.clone());
    row("Configured capacity", size(stats.capacity));
    row("DFS used", size(stats.used));
    row("DFS remaining", size(stats.remaining));
    row("Files and directories", stats.total_files.to_string());
    row("Blocks", stats.total_blocks.to_string());
    row(
        "Under-replicated blocks",
        stats.under_replicated.to_string(),
    );
    row("Corrupt blocks", stats.corrupt_blocks.to_string());
    row("Missing blocks", stats.missing_blocks.to_string());
    row(
        "Datanodes",
        format!("{live} live, {} dead", datanodes.len() - live),
    );
    page.push_str("</table>\n<h2>Datanodes</h2>\n<table border=\"1\" cellpadding=\"4\">\n");
    page.push_str(
        "<tr><th>Address</th><th>Rack</th><th>State</th><th>Capacity</th>\
         <th>Used</th><th>Remaining</th><th>Blocks</th></tr>\n",
    );
    for d in datanodes {
        let state = match (d.alive, d.stale) {
            (false, _) => "dead",
            (true, true) => "stale",
            (true, false) => "live",
        };
        let _ = writeln!(
            page,
            "<tr><td>{}:{}</td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.host),
            d.xfer_port,
            escape(&d.rack),
            size(d.capacity),
            size(d.dfs_used),
            size(d.remaining),
            d.num_blocks
        );
    }
    page.push_str("</table>\n</body></html>\n");
    page
}

/// Binary units, as the rest of Cairn prints sizes for people.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Datanode hosts and racks come from the network: never trust them in HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_shows_the_cluster_and_escapes_datanode_fields() {
        let stats = pb::FsStats {
            capacity: 3 << 30,
            used: 1536,
            total_blocks: 7,
            ..Default::default()
        };
        let safe_mode = pb::SetSafeModeResponse {
            on: false,
            status: "Safe mode is OFF.".into(),
        };
        let node = pb::DatanodeInfo {
            host: "<script>".into(),
            xfer_port: 9866,
            rack: "/default-rack".into(),
            alive: true,
            num_blocks: 7,
            ..Default::default()
        };
        let page = render("CID-1", &stats, &safe_mode, &[node]);
        assert!(page.contains("CID-1"));
        assert!(page.contains("Safe mode is OFF."));
        assert!(page.contains("3.0 GiB"));
        assert!(page.contains("1.5 KiB"));
        assert!(page.contains("1 live, 0 dead"));
        assert!(page.contains("&lt;script&gt;:9866"));
        assert!(!page.contains("<script>"));
    }
}
