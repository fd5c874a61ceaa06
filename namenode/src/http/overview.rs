//! The overview page (`/`): HDFS's "Overview" and "Summary" in one table,
//! with the capacity as a bar.

use std::fmt::Write;

use axum::extract::State;
use axum::response::Html;

use super::Ctx;
use super::html::{escape, page as frame, size, table};
use super::snapshot::ClusterSnapshot;

pub(crate) async fn page(State(ctx): Ctx) -> Html<String> {
    Html(render(&ctx.snapshot()))
}

pub fn render(s: &ClusterSnapshot) -> String {
    let mut body = String::new();
    let used_pct = if s.capacity == 0 {
        0.0
    } else {
        s.used as f64 * 100.0 / s.capacity as f64
    };
    let _ = write!(
        body,
        "<h2>Capacity</h2>\n<div class=\"bar\" title=\"{used_pct:.1}% used\">\
         <div class=\"used\" style=\"width:{used_pct:.1}%\"></div></div>\n\
         <p id=\"capacity\">{} used of {} ({used_pct:.1}%), {} free</p>\n",
        size(s.used),
        size(s.capacity),
        size(s.remaining),
    );
    let rows: Vec<Vec<String>> = [
        ("Cluster ID", s.cluster_id.clone()),
        ("Version", s.version.to_string()),
        ("Uptime", uptime(s.uptime_secs)),
        ("Safe mode", s.safe_mode_status.clone()),
        ("Configured capacity", size(s.capacity)),
        ("DFS used", size(s.used)),
        ("Non DFS used", size(s.non_dfs_used)),
        ("DFS remaining", size(s.remaining)),
        ("Files and directories", s.files_and_directories.to_string()),
        ("Blocks", s.blocks.to_string()),
        (
            "Live datanodes",
            format!(
                "{} live, {} stale, {} dead, {} decommissioning",
                s.live_datanodes, s.stale_datanodes, s.dead_datanodes, s.decommissioning_datanodes
            ),
        ),
        (
            "Under-replicated blocks",
            s.under_replicated_blocks.to_string(),
        ),
        ("Corrupt blocks", s.corrupt_blocks.to_string()),
        ("Missing blocks", s.missing_blocks.to_string()),
        (
            "Blocks pending replication",
            s.pending_replication_blocks.to_string(),
        ),
        ("Replication queue", s.replication_queue.to_string()),
        (
            "Blocks pending deletion",
            s.pending_deletion_blocks.to_string(),
        ),
    ]
    .into_iter()
    .map(|(name, value)| vec![format!("<b>{}</b>", escape(name)), escape(&value)])
    .collect();
    body.push_str("<h2>Summary</h2>\n");
    body.push_str(&table(&["", ""], &rows));
    let _ = writeln!(
        body,
        "<p id=\"datanode-counts\">Datanodes: {} live, {} dead</p>",
        s.live_datanodes, s.dead_datanodes
    );
    frame("Cairn namenode", true, &body)
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h}h {m}m {s}s")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else {
        format!("{m}m {s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::snapshot::DatanodeRow;

    fn snapshot() -> ClusterSnapshot {
        ClusterSnapshot {
            cluster_id: "CID-<1>".into(),
            version: "0.1.0",
            uptime_secs: 3725,
            safe_mode: false,
            safe_mode_status: "Safe mode is OFF.".into(),
            capacity: 3 << 30,
            used: 1 << 30,
            remaining: 2 << 30,
            non_dfs_used: 0,
            files_and_directories: 4,
            blocks: 7,
            under_replicated_blocks: 1,
            corrupt_blocks: 0,
            missing_blocks: 0,
            pending_deletion_blocks: 0,
            pending_replication_blocks: 0,
            replication_queue: 0,
            live_datanodes: 2,
            stale_datanodes: 0,
            dead_datanodes: 1,
            decommissioning_datanodes: 0,
            decommissioned_datanodes: 0,
            datanodes: Vec::<DatanodeRow>::new(),
        }
    }

    #[test]
    fn overview_shows_counts_capacity_and_escapes() {
        let page = render(&snapshot());
        assert!(page.contains("CID-&lt;1&gt;"));
        assert!(page.contains("Datanodes: 2 live, 1 dead"));
        assert!(page.contains("1.0 GiB used of 3.0 GiB (33.3%)"));
        assert!(page.contains("width:33.3%"));
        assert!(page.contains("1h 2m 5s"));
        assert!(page.contains("http-equiv=\"refresh\""));
    }
}
