//! The checking walk and the report of `cairn fsck` (HDFS's
//! `NamenodeFsck`), done on the client with `list` and
//! `get_block_locations`: for each file, how many live replicas each block
//! has against the file's replication, on how many racks, and which blocks
//! are missing or corrupt; then the summary.

use std::collections::BTreeSet;

use cairn_client::{DatanodeInfo, FileStatus, FileType, LocatedBlock, LocatedBlocks};
use cairn_proto::pb::AdminState;

use crate::human;
use crate::shell::FileSystem;

/// `dfs.namenode.replication.min`'s default: a block with fewer replicas
/// than this is "under minimal replication".
pub(crate) const MIN_REPLICATION: u32 = 1;

/// What to print besides the summary (`-files -blocks -locations -racks
/// -replicaDetails -openforwrite`), and whether to delete corrupt files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FsckOptions {
    pub(crate) show_files: bool,
    pub(crate) show_blocks: bool,
    pub(crate) show_locations: bool,
    pub(crate) show_racks: bool,
    pub(crate) show_replica_details: bool,
    pub(crate) show_open_files: bool,
    pub(crate) delete_corrupt: bool,
}

/// Facts about the cluster the checks need.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterFacts {
    /// Live datanodes.
    pub(crate) datanodes: usize,
    /// Racks with a live datanode.
    pub(crate) racks: usize,
    /// The namenode's default replication.
    pub(crate) default_replication: u32,
    /// Names the pool of blocks in "CORRUPT blockpool" lines.
    pub(crate) block_pool: String,
}

/// `NamenodeFsck.Result` for replicated blocks: the counters of the walk.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FsckResult {
    pub(crate) missing_ids: Vec<String>,
    pub(crate) missing_size: u64,
    pub(crate) corrupt_files: u64,
    pub(crate) corrupt_blocks: u64,
    pub(crate) corrupt_size: u64,
    pub(crate) excessive_replicas: u64,
    pub(crate) missing_replicas: u64,
    pub(crate) decommissioned_replicas: u64,
    pub(crate) decommissioning_replicas: u64,
    pub(crate) under_min_replicated_blocks: u64,
    pub(crate) over_replicated_blocks: u64,
    pub(crate) under_replicated_blocks: u64,
    pub(crate) mis_replicated_blocks: u64,
    pub(crate) min_replicated_blocks: u64,
    pub(crate) total_blocks: u64,
    pub(crate) expected_replicas: u64,
    pub(crate) total_open_files_blocks: u64,
    pub(crate) total_files: u64,
    pub(crate) total_open_files: u64,
    pub(crate) total_size: u64,
    pub(crate) total_open_files_size: u64,
    pub(crate) total_replicas: u64,
    pub(crate) total_dirs: u64,
    pub(crate) total_symlinks: u64,
    /// Paths of files with missing or corrupt blocks, with those blocks.
    pub(crate) corrupt_file_blocks: Vec<(String, String)>,
}

impl FsckResult {
    /// Healthy: no missing and no corrupt block.
    pub(crate) fn is_healthy(&self) -> bool {
        self.missing_ids.is_empty() && self.corrupt_blocks == 0
    }

    fn replication_factor(&self) -> f32 {
        if self.total_blocks == 0 {
            0.0
        } else {
            self.total_replicas as f32 / self.total_blocks as f32
        }
    }

    /// ` (12.5 %)` of the blocks, when there are blocks.
    fn percent_of_blocks(&self, count: u64) -> String {
        if self.total_blocks == 0 {
            String::new()
        } else {
            let percent = (count * 100) as f32 / self.total_blocks as f32;
            format!(" ({} %)", human::java_float(percent))
        }
    }

    /// `ReplicationResult.toString()`.
    pub(crate) fn replicated_summary(&self, default_replication: u32) -> String {
        let mut res = format!(" Total size:\t{} B", self.total_size);
        if self.total_open_files_size != 0 {
            res.push_str(&format!(
                " (Total open files size: {} B)",
                self.total_open_files_size
            ));
        }
        res.push_str(&format!("\n Total files:\t{}", self.total_files));
        if self.total_open_files != 0 {
            res.push_str(&format!(
                " (Files currently being written: {})",
                self.total_open_files
            ));
        }
        res.push_str(&format!(
            "\n Total blocks (validated):\t{}",
            self.total_blocks
        ));
        if let Some(average) = self.total_size.checked_div(self.total_blocks) {
            res.push_str(&format!(" (avg. block size {average} B)"));
        }
        if self.total_open_files_blocks != 0 {
            res.push_str(&format!(
                " (Total open file blocks (not validated): {})",
                self.total_open_files_blocks
            ));
        }
        if self.corrupt_files > 0 || self.under_min_replicated_blocks > 0 {
            res.push_str("\n  ********************************");
            if self.under_min_replicated_blocks > 0 {
                res.push_str(&format!(
                    "\n  UNDER MIN REPL'D BLOCKS:\t{}{}",
                    self.under_min_replicated_blocks,
                    self.percent_of_blocks(self.under_min_replicated_blocks)
                ));
                res.push_str(&format!(
                    "\n  MINIMAL BLOCK REPLICATION:\t{MIN_REPLICATION}"
                ));
            }
            if self.corrupt_files > 0 {
                res.push_str(&format!("\n  CORRUPT FILES:\t{}", self.corrupt_files));
                if self.missing_size > 0 {
                    res.push_str(&format!(
                        "\n  MISSING BLOCKS:\t{}\n  MISSING SIZE:\t\t{} B",
                        self.missing_ids.len(),
                        self.missing_size
                    ));
                }
                if self.corrupt_blocks > 0 {
                    res.push_str(&format!(
                        "\n  CORRUPT BLOCKS: \t{}\n  CORRUPT SIZE:\t\t{} B",
                        self.corrupt_blocks, self.corrupt_size
                    ));
                }
            }
            res.push_str("\n  ********************************");
        }
        res.push_str(&format!(
            "\n Minimally replicated blocks:\t{}{}",
            self.min_replicated_blocks,
            self.percent_of_blocks(self.min_replicated_blocks)
        ));
        res.push_str(&format!(
            "\n Over-replicated blocks:\t{}{}",
            self.over_replicated_blocks,
            self.percent_of_blocks(self.over_replicated_blocks)
        ));
        res.push_str(&format!(
            "\n Under-replicated blocks:\t{}{}",
            self.under_replicated_blocks,
            self.percent_of_blocks(self.under_replicated_blocks)
        ));
        res.push_str(&format!(
            "\n Mis-replicated blocks:\t\t{}{}",
            self.mis_replicated_blocks,
            self.percent_of_blocks(self.mis_replicated_blocks)
        ));
        res.push_str(&format!(
            "\n Default replication factor:\t{default_replication}\n Average block replication:\t{}\n Missing blocks:\t\t{}\n Corrupt blocks:\t\t{}\n Missing replicas:\t\t{}",
            human::java_float(self.replication_factor()),
            self.missing_ids.len(),
            self.corrupt_blocks,
            self.missing_replicas
        ));
        if self.total_replicas > 0 && self.expected_replicas > 0 {
            let percent = (self.missing_replicas * 100) as f32 / self.expected_replicas as f32;
            res.push_str(&format!(" ({} %)", human::java_float(percent)));
        }
        if self.decommissioned_replicas > 0 {
            res.push_str(&format!(
                "\n DecommissionedReplicas:\t{}",
                self.decommissioned_replicas
            ));
        }
        if self.decommissioning_replicas > 0 {
            res.push_str(&format!(
                "\n DecommissioningReplicas:\t{}",
                self.decommissioning_replicas
            ));
        }
        res
    }
}

/// The lines after the walk: the status, the cluster, the counters.
pub(crate) fn format_summary(result: &FsckResult, facts: &ClusterFacts) -> String {
    format!(
        "\nStatus: {}\n Number of data-nodes:\t{}\n Number of racks:\t\t{}\n Total dirs:\t\t\t{}\n Total symlinks:\t\t{}\n\nReplicated Blocks:\n{}\n",
        if result.is_healthy() {
            "HEALTHY"
        } else {
            "CORRUPT"
        },
        facts.datanodes,
        facts.racks,
        result.total_dirs,
        result.total_symlinks,
        result.replicated_summary(facts.default_replication)
    )
}

/// HDFS's block name in reports: `blk_<id>_<genstamp>`.
fn block_name(block: &LocatedBlock) -> String {
    block.block.as_ref().map_or_else(
        || "blk_unknown".to_string(),
        |b| format!("blk_{}_{}", b.id, b.generation_stamp),
    )
}

fn block_len(block: &LocatedBlock) -> u64 {
    block.block.as_ref().map_or(0, |b| b.num_bytes)
}

/// How a replica counts (`NumberReplicas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplicaState {
    Live,
    Decommissioned,
    Decommissioning,
    Corrupt,
}

fn replica_state(block: &LocatedBlock, node: &DatanodeInfo) -> ReplicaState {
    if block.corrupt_datanode_uuids.contains(&node.datanode_uuid) {
        return ReplicaState::Corrupt;
    }
    match AdminState::try_from(node.admin_state) {
        Ok(AdminState::Decommissioned) => ReplicaState::Decommissioned,
        Ok(AdminState::DecommissionInProgress) => ReplicaState::Decommissioning,
        _ => ReplicaState::Live,
    }
}

/// Checks files and directories, writing the per-file lines to `out`.
pub(crate) struct Checker<'a, F: FileSystem> {
    pub(crate) fs: &'a F,
    pub(crate) options: FsckOptions,
    pub(crate) facts: ClusterFacts,
    pub(crate) result: FsckResult,
    pub(crate) out: String,
}

impl<'a, F: FileSystem> Checker<'a, F> {
    pub(crate) fn new(fs: &'a F, options: FsckOptions, facts: ClusterFacts) -> Self {
        Self {
            fs,
            options,
            facts,
            result: FsckResult::default(),
            out: String::new(),
        }
    }

    /// `NamenodeFsck.check`: a directory recursively, a symlink counted, a
    /// file's blocks checked. A path deleted during the walk is skipped.
    pub(crate) async fn check(&mut self, path: &str, status: &FileStatus) -> Result<(), String> {
        match FileType::try_from(status.file_type) {
            Ok(FileType::Directory) => self.check_dir(path).await,
            Ok(FileType::Symlink) => {
                if self.options.show_files {
                    self.out.push_str(&format!("{path} <symlink>\n"));
                }
                self.result.total_symlinks += 1;
                Ok(())
            }
            _ => {
                let blocks = match self.fs.get_block_locations(path, 0, status.length).await {
                    Ok(blocks) => blocks,
                    Err(err) if err.kind() == cairn_client::ErrorKind::NotFound => return Ok(()),
                    Err(err) => return Err(err.to_string()),
                };
                self.check_file(path, status, &blocks).await;
                Ok(())
            }
        }
    }

    async fn check_dir(&mut self, path: &str) -> Result<(), String> {
        if self.options.show_files {
            self.out.push_str(&format!("{path} <dir>\n"));
        }
        self.result.total_dirs += 1;
        let children = match self.fs.list(path).await {
            Ok(children) => children,
            Err(err) if err.kind() == cairn_client::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err.to_string()),
        };
        for child in children {
            let child_path = crate::shell::join_path(path, &child.name);
            Box::pin(self.check(&child_path, &child)).await?;
        }
        Ok(())
    }

    /// `collectFileSummary` and `collectBlocksSummary`.
    pub(crate) async fn check_file(
        &mut self,
        path: &str,
        status: &FileStatus,
        blocks: &LocatedBlocks,
    ) {
        let open = blocks.under_construction;
        let block_count = blocks.blocks.len() as u64;
        if open && !self.options.show_open_files {
            self.result.total_open_files_size += status.length;
            self.result.total_open_files_blocks += block_count;
            self.result.total_open_files += 1;
            return;
        }
        self.result.total_files += 1;
        self.result.total_size += status.length;
        self.result.total_blocks += block_count;
        let policy = format!("replicated: replication={},", status.replication);
        if open {
            self.out.push_str(&format!(
                "{path} {} bytes, {policy} {block_count} block(s), OPENFORWRITE: ",
                status.length
            ));
        } else if self.options.show_files {
            self.out.push_str(&format!(
                "{path} {} bytes, {policy} {block_count} block(s): ",
                status.length
            ));
        }
        self.collect_blocks(path, status, blocks).await;
    }

    async fn collect_blocks(&mut self, path: &str, status: &FileStatus, blocks: &LocatedBlocks) {
        let target = status.replication;
        let (mut missing, mut corrupt) = (0u64, 0u64);
        let (mut missing_size, mut corrupt_size) = (0u64, 0u64);
        let (mut under_replicated, mut mis_replicated) = (0u64, 0u64);
        let mut report = String::new();
        let last_incomplete = blocks
            .last_block
            .as_ref()
            .filter(|_| blocks.under_construction && !blocks.last_block_complete)
            .and_then(|b| b.block.as_ref().map(|b| b.id));
        let mut number = 0;
        for located in &blocks.blocks {
            if last_incomplete.is_some() && located.block.as_ref().map(|b| b.id) == last_incomplete
            {
                // Still being written: reported apart below.
                continue;
            }
            let name = block_name(located);
            let len = block_len(located);
            let states: Vec<ReplicaState> = located
                .locations
                .iter()
                .map(|d| replica_state(located, d))
                .collect();
            let count = |state| states.iter().filter(|s| **s == state).count() as u64;
            let live = count(ReplicaState::Live);
            let decommissioned = count(ReplicaState::Decommissioned);
            let decommissioning = count(ReplicaState::Decommissioning);
            self.result.decommissioned_replicas += decommissioned;
            self.result.decommissioning_replicas += decommissioning;
            let total = live + decommissioned + decommissioning;
            self.result.total_replicas += total;
            let is_missing = total == 0;
            let target = u64::from(target);
            self.result.expected_replicas += target;
            if total < u64::from(MIN_REPLICATION) {
                self.result.under_min_replicated_blocks += 1;
            }
            if live > target {
                self.result.excessive_replicas += live - target;
                self.result.over_replicated_blocks += 1;
            }
            if located.corrupt {
                self.result.corrupt_blocks += 1;
                self.result.corrupt_size += len;
                corrupt += 1;
                corrupt_size += len;
                self.out.push_str(&format!(
                    "\n{path}: CORRUPT blockpool {} block blk_{}\n",
                    self.facts.block_pool,
                    located.block.as_ref().map_or(0, |b| b.id)
                ));
            }
            if total >= u64::from(MIN_REPLICATION) {
                self.result.min_replicated_blocks += 1;
            }
            if total < target && !is_missing {
                self.result.missing_replicas += target - total;
                self.result.under_replicated_blocks += 1;
                under_replicated += 1;
                if !self.options.show_files {
                    self.out.push_str(&format!("\n{path}: "));
                }
                self.out.push_str(&format!(
                    " Under replicated {name}. Target Replicas is {target} but found {live} live replica(s), {decommissioned} decommissioned replica(s), {decommissioning} decommissioning replica(s).\n"
                ));
            }
            if let Some(description) = self.placement_violation(located, target) {
                self.result.mis_replicated_blocks += 1;
                mis_replicated += 1;
                if !self.options.show_files {
                    if under_replicated == 0 {
                        self.out.push('\n');
                    }
                    self.out.push_str(&format!("{path}: "));
                }
                self.out.push_str(&format!(
                    " Replica placement policy is violated for {name}. {description}\n"
                ));
            }
            report.push_str(&format!("{number}. {name} len={len}"));
            if is_missing && !located.corrupt {
                report.push_str(" MISSING!");
                self.result.missing_ids.push(name.clone());
                self.result.missing_size += len;
                missing += 1;
                missing_size += len;
            } else {
                report.push_str(&format!(" Live_repl={live}"));
                let info = self.replica_info(located);
                if !info.is_empty() {
                    report.push(' ');
                    report.push_str(&info);
                }
            }
            report.push('\n');
            if is_missing || located.corrupt {
                let id = located.block.as_ref().map_or(0, |b| b.id);
                self.result
                    .corrupt_file_blocks
                    .push((format!("blk_{id}"), path.to_string()));
            }
            number += 1;
        }
        if let Some(last) = blocks
            .last_block
            .as_ref()
            .filter(|_| last_incomplete.is_some())
        {
            report.push_str(&format!(
                "\nUnder Construction Block:\n{number}. {} len={} Expected_repl={}",
                block_name(last),
                block_len(last),
                last.locations.len()
            ));
            let info = self.replica_info(last);
            if !info.is_empty() {
                report.push(' ');
                report.push_str(&info);
            }
        }
        if missing > 0 || corrupt > 0 {
            if !self.options.show_files {
                if missing > 0 {
                    self.out.push_str(&format!(
                        "\n{path}: MISSING {missing} blocks of total size {missing_size} B."
                    ));
                }
                if corrupt > 0 {
                    self.out.push_str(&format!(
                        "\n{path}: CORRUPT {corrupt} blocks of total size {corrupt_size} B."
                    ));
                }
            }
            self.result.corrupt_files += 1;
            if self.options.delete_corrupt
                && !blocks.under_construction
                && let Err(err) = self.fs.delete(path, true).await
            {
                tracing::warn!("fsck: error deleting corrupted file {path}: {err}");
            }
        }
        if self.options.show_files {
            if missing > 0 || corrupt > 0 {
                if missing > 0 {
                    self.out.push_str(&format!(
                        " MISSING {missing} blocks of total size {missing_size} B\n"
                    ));
                }
                if corrupt > 0 {
                    self.out.push_str(&format!(
                        " CORRUPT {corrupt} blocks of total size {corrupt_size} B\n"
                    ));
                }
            } else if under_replicated == 0 && mis_replicated == 0 {
                self.out.push_str(" OK\n");
            }
            if self.options.show_blocks {
                self.out.push_str(&report);
                self.out.push('\n');
            }
        }
    }

    /// `BlockPlacementPolicyDefault.verifyBlockPlacement`: the replicas
    /// should span two racks (or all there are); a one-rack cluster is
    /// always satisfied.
    fn placement_violation(&self, block: &LocatedBlock, target: u64) -> Option<String> {
        if self.facts.racks <= 1 {
            return None;
        }
        let good: Vec<&DatanodeInfo> = block
            .locations
            .iter()
            .filter(|d| !block.corrupt_datanode_uuids.contains(&d.datanode_uuid))
            .collect();
        let racks: BTreeSet<&str> = good.iter().map(|d| d.rack.as_str()).collect();
        let current = racks.len() as u64;
        let required = target.min(2);
        let total = self.facts.racks as u64;
        if required <= current || current >= total {
            return None;
        }
        Some(format!(
            "Block should be additionally replicated on {} more rack(s). Total number of racks in the cluster: {total}",
            required - current
        ))
    }

    /// `getReplicaInfo`: ` [DatanodeInfoWithStorage[host:port,DS-..,DISK], ...]`,
    /// or racks, or replica states, as asked.
    fn replica_info(&self, block: &LocatedBlock) -> String {
        let options = &self.options;
        if !(options.show_locations || options.show_racks || options.show_replica_details) {
            return String::new();
        }
        let entries: Vec<String> = block
            .locations
            .iter()
            .map(|node| {
                let mut entry = if options.show_racks {
                    format!("{}/{}:{}", node.rack, node.host, node.xfer_port)
                } else {
                    format!(
                        "DatanodeInfoWithStorage[{}:{},{},DISK]",
                        node.host,
                        node.xfer_port,
                        storage_id(node)
                    )
                };
                if options.show_replica_details {
                    let state = match replica_state(block, node) {
                        ReplicaState::Decommissioned => "DECOMMISSIONED",
                        ReplicaState::Decommissioning => "DECOMMISSIONING",
                        ReplicaState::Corrupt => "CORRUPT",
                        ReplicaState::Live if node.stale => "STALE_NODE",
                        ReplicaState::Live => "LIVE",
                    };
                    entry.push_str(&format!("({state})"));
                }
                entry
            })
            .collect();
        format!("[{}]", entries.join(", "))
    }
}

/// The storage a replica is on. A Cairn datanode's storage is named by its
/// persistent uuid; HDFS storage ids read `DS-<uuid>`.
fn storage_id(node: &DatanodeInfo) -> String {
    if node.datanode_uuid.starts_with("DS-") {
        node.datanode_uuid.clone()
    } else {
        format!("DS-{}", node.datanode_uuid)
    }
}

/// The racks of a set of datanodes.
pub(crate) fn count_racks(nodes: &[DatanodeInfo]) -> usize {
    nodes
        .iter()
        .map(|n| n.rack.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}
