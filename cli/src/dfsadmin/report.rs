//! The text of `dfsadmin -report` (`DFSAdmin.report` and
//! `DatanodeInfo.getDatanodeReport`), built from plain values so that it
//! can be checked without a cluster.

use cairn_client::{DatanodeInfo, FsStats};
use cairn_proto::pb::AdminState;

use crate::human;

/// The rack every node is on unless the topology says otherwise; HDFS
/// leaves it out of the report.
pub(crate) const DEFAULT_RACK: &str = "/default-rack";

/// One list of datanodes in the report: `Live`, `Dead`, `Decommissioning`.
pub(crate) struct NodeSection {
    pub(crate) label: &'static str,
    pub(crate) nodes: Vec<DatanodeInfo>,
    /// Asked for explicitly (`-live`): printed even when empty.
    pub(crate) listed: bool,
}

/// The whole report. `date` renders a milliseconds timestamp the way
/// `java.util.Date.toString` does.
pub(crate) fn format_report(
    stats: &FsStats,
    safe_mode: bool,
    sections: &[NodeSection],
    date: &dyn Fn(u64) -> String,
) -> String {
    let mut out = String::new();
    if safe_mode {
        out.push_str("Safe mode is ON\n");
    }
    let present = stats.used.saturating_add(stats.remaining);
    let sized = |label: &str, n: u64| format!("{label}: {n} ({})\n", human::byte_desc(n));
    out.push_str(&sized("Configured Capacity", stats.capacity));
    out.push_str(&sized("Present Capacity", present));
    out.push_str(&sized("DFS Remaining", stats.remaining));
    out.push_str(&sized("DFS Used", stats.used));
    let used_fraction = if present == 0 {
        0.0
    } else {
        stats.used as f64 / present as f64
    };
    out.push_str(&format!(
        "DFS Used%: {}\n",
        human::format_percent(used_fraction, 2)
    ));
    out.push_str("Replicated Blocks:\n");
    out.push_str(&format!(
        "\tUnder replicated blocks: {}\n",
        stats.under_replicated
    ));
    out.push_str(&format!(
        "\tBlocks with corrupt replicas: {}\n",
        stats.corrupt_blocks
    ));
    out.push_str(&format!("\tMissing blocks: {}\n", stats.missing_blocks));
    out.push_str(&format!(
        "\tPending deletion blocks: {}\n",
        stats.pending_deletion
    ));
    out.push('\n');
    out.push_str("-------------------------------------------------\n");
    for section in sections {
        if section.nodes.is_empty() && !section.listed {
            continue;
        }
        out.push_str(&format!(
            "{} datanodes ({}):\n\n",
            section.label,
            section.nodes.len()
        ));
        for node in &section.nodes {
            out.push_str(&datanode_report(node, date));
            out.push('\n');
        }
    }
    out
}

/// HDFS's words for an admin state, as `-report` prints them.
pub(crate) fn decommission_status(admin_state: i32) -> &'static str {
    match AdminState::try_from(admin_state) {
        Ok(AdminState::Decommissioned) => "Decommissioned",
        Ok(AdminState::DecommissionInProgress) => "Decommission in progress",
        _ => "Normal",
    }
}

/// `DatanodeInfo.getDatanodeReport()`.
pub(crate) fn datanode_report(node: &DatanodeInfo, date: &dyn Fn(u64) -> String) -> String {
    let mut out = String::new();
    out.push_str(&format!("Name: {}:{}\n", node.host, node.xfer_port));
    out.push_str(&format!("Hostname: {}\n", node.host));
    if !node.rack.is_empty() && node.rack != DEFAULT_RACK {
        out.push_str(&format!("Rack: {}\n", node.rack));
    }
    out.push_str("Decommission Status : ");
    out.push_str(decommission_status(node.admin_state));
    out.push('\n');
    let sized = |label: &str, n: u64| format!("{label}: {n} ({})\n", human::byte_desc(n));
    out.push_str(&sized("Configured Capacity", node.capacity));
    out.push_str(&sized("DFS Used", node.dfs_used));
    out.push_str(&sized("Non DFS Used", node.non_dfs_used));
    out.push_str(&sized("DFS Remaining", node.remaining));
    // HDFS computes these percentages in float.
    let (used_percent, remaining_percent) = if node.capacity == 0 {
        (100.0f32, 0.0f32)
    } else {
        (
            node.dfs_used as f32 * 100.0 / node.capacity as f32,
            node.remaining as f32 * 100.0 / node.capacity as f32,
        )
    };
    out.push_str(&format!(
        "DFS Used%: {}\n",
        human::percent2string(f64::from(used_percent))
    ));
    out.push_str(&format!(
        "DFS Remaining%: {}\n",
        human::percent2string(f64::from(remaining_percent))
    ));
    out.push_str(&format!("Xceivers: {}\n", node.xceiver_count));
    out.push_str(&format!("Last contact: {}\n", date(node.last_heartbeat_ms)));
    out.push_str(&format!("Num of Blocks: {}\n", node.num_blocks));
    out
}

/// `-printTopology`: each rack and the nodes on it.
pub(crate) fn format_topology(nodes: &[DatanodeInfo]) -> String {
    let mut racks: std::collections::BTreeMap<&str, Vec<&DatanodeInfo>> = Default::default();
    for node in nodes {
        let rack = if node.rack.is_empty() {
            DEFAULT_RACK
        } else {
            node.rack.as_str()
        };
        racks.entry(rack).or_default().push(node);
    }
    let mut out = String::new();
    for (rack, mut members) in racks {
        members.sort_by_key(|n| (n.host.clone(), n.xfer_port));
        out.push_str(&format!("Rack: {rack}\n"));
        for node in members {
            let state = match AdminState::try_from(node.admin_state) {
                Ok(AdminState::Decommissioned) => "Decommissioned",
                Ok(AdminState::DecommissionInProgress) => "Decommission In Progress",
                _ => "In Service",
            };
            out.push_str(&format!("   {}:{} {state}\n", node.host, node.xfer_port));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn node(port: u32, used: u64, rack: &str) -> DatanodeInfo {
        DatanodeInfo {
            datanode_uuid: format!("uuid-{port}"),
            host: "127.0.0.1".into(),
            xfer_port: port,
            rack: rack.into(),
            capacity: 100 * GIB,
            dfs_used: used,
            remaining: 100 * GIB - used - GIB,
            non_dfs_used: GIB,
            last_heartbeat_ms: 1_704_164_645_678,
            admin_state: AdminState::Normal as i32,
            alive: true,
            num_blocks: 3,
            xceiver_count: 1,
            ..Default::default()
        }
    }

    fn utc(ms: u64) -> String {
        human::java_date(ms, &chrono::Utc)
    }

    #[test]
    fn golden_datanode_report() {
        assert_eq!(
            datanode_report(&node(9866, 314_572_800, DEFAULT_RACK), &utc),
            "\
Name: 127.0.0.1:9866
Hostname: 127.0.0.1
Decommission Status : Normal
Configured Capacity: 107374182400 (100 GB)
DFS Used: 314572800 (300 MB)
Non DFS Used: 1073741824 (1 GB)
DFS Remaining: 105985867776 (98.71 GB)
DFS Used%: 0.29%
DFS Remaining%: 98.71%
Xceivers: 1
Last contact: Tue Jan 02 03:04:05 UTC 2024
Num of Blocks: 3
"
        );
        let mut racked = node(9867, 0, "/rack-b");
        racked.admin_state = AdminState::DecommissionInProgress as i32;
        let text = datanode_report(&racked, &utc);
        assert!(text.contains("\nRack: /rack-b\nDecommission Status : Decommission in progress\n"));
        let mut empty = node(1, 0, DEFAULT_RACK);
        empty.capacity = 0;
        empty.remaining = 0;
        assert!(
            datanode_report(&empty, &utc).contains("DFS Used%: 100.00%\nDFS Remaining%: 0.00%\n")
        );
    }

    #[test]
    fn golden_cluster_report() {
        let stats = FsStats {
            capacity: 300 * GIB,
            used: 3 * 314_572_800,
            remaining: 300 * GIB - 3 * 314_572_800 - 3 * GIB,
            under_replicated: 1,
            corrupt_blocks: 0,
            missing_blocks: 0,
            total_blocks: 3,
            total_files: 1,
            non_dfs_used: 3 * GIB,
            pending_deletion: 0,
        };
        let sections = [
            NodeSection {
                label: "Live",
                nodes: vec![node(9866, 314_572_800, DEFAULT_RACK)],
                listed: false,
            },
            NodeSection {
                label: "Dead",
                nodes: vec![],
                listed: false,
            },
        ];
        let text = format_report(&stats, false, &sections, &utc);
        let expected_head = "\
Configured Capacity: 322122547200 (300 GB)
Present Capacity: 318901321728 (297 GB)
DFS Remaining: 317957603328 (296.12 GB)
DFS Used: 943718400 (900 MB)
DFS Used%: 0.30%
Replicated Blocks:
\tUnder replicated blocks: 1
\tBlocks with corrupt replicas: 0
\tMissing blocks: 0
\tPending deletion blocks: 0

-------------------------------------------------
Live datanodes (1):

Name: 127.0.0.1:9866
";
        assert!(text.starts_with(expected_head), "{text}");
        assert!(text.ends_with("Num of Blocks: 3\n\n"), "{text}");
        assert!(!text.contains("Dead datanodes"));
        let listed = [NodeSection {
            label: "Dead",
            nodes: vec![],
            listed: true,
        }];
        let text = format_report(&stats, true, &listed, &utc);
        assert!(text.starts_with("Safe mode is ON\nConfigured Capacity"));
        assert!(text.ends_with(
            "-------------------------------------------------\nDead datanodes (0):\n\n"
        ));
    }

    #[test]
    fn golden_topology() {
        let nodes = [
            node(9867, 0, "/r2"),
            node(9866, 0, "/r1"),
            node(9868, 0, "/r2"),
        ];
        assert_eq!(
            format_topology(&nodes),
            "Rack: /r1\n   127.0.0.1:9866 In Service\n\nRack: /r2\n   127.0.0.1:9867 In Service\n   127.0.0.1:9868 In Service\n\n"
        );
    }
}
