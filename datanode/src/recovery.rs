//! BlockRecoveryWorker: this datanode leads the recovery of a block whose
//! writer is gone (HDFS's BlockRecoveryWorker.syncBlock).
//!
//! The namenode picks one replica's datanode as primary and hands it a
//! RecoverBlockCommand with a recovery id (a new generation stamp) and
//! every replica's datanode. The primary asks each of them for its replica
//! (InitReplicaRecovery, which also stops any stream still writing it),
//! settles on a length — a finalized replica's length if there is one, or
//! else the shortest replica being written, since only bytes every replica
//! has are known to be acknowledged — has every replica that can reach it
//! cut to that length and finalized under the recovery id
//! (UpdateReplicaUnderRecovery), and reports the outcome to the namenode
//! with CommitBlockSynchronization, which closes the file.

use std::sync::Arc;
use std::time::Duration;

use cairn_proto::pb;
use tracing::{info, warn};

use crate::actor::NamenodeClient;
use crate::error::{DatanodeError, Result};
use crate::net;
use crate::node::NodeContext;

/// How long one replica's datanode may take to answer a recovery step.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// One replica as its datanode described it.
#[derive(Debug, Clone)]
struct FoundReplica {
    node: pb::DatanodeInfo,
    replica: pb::Block,
    finalized: bool,
}

/// What the replicas agree on: the length and who takes part.
#[derive(Debug, PartialEq, Eq)]
struct Settlement {
    length: u64,
    /// Indexes into the replicas found.
    participants: Vec<usize>,
}

/// HDFS's choice: with a finalized replica, its length, and the replicas
/// that have at least that much; otherwise the shortest replica being
/// written, and all of them.
fn settle(found: &[FoundReplica]) -> Option<Settlement> {
    if let Some(finalized) = found.iter().find(|f| f.finalized) {
        let length = finalized.replica.num_bytes;
        let participants = found
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                if f.finalized {
                    f.replica.num_bytes == length
                } else {
                    f.replica.num_bytes >= length
                }
            })
            .map(|(i, _)| i)
            .collect();
        return Some(Settlement {
            length,
            participants,
        });
    }
    let length = found.iter().map(|f| f.replica.num_bytes).min()?;
    Some(Settlement {
        length,
        participants: (0..found.len()).collect(),
    })
}

/// Leads the recovery of `command`'s block and reports it to the namenode.
pub async fn recover_block(
    ctx: Arc<NodeContext>,
    mut namenode: NamenodeClient,
    command: pb::RecoverBlockCommand,
) -> Result<()> {
    let block = command.block.ok_or_else(|| {
        DatanodeError::InvalidArgument("block recovery command without a block".into())
    })?;
    let recovery_id = command.new_generation_stamp;
    let _xceiver = ctx.xceiver();
    let mut found = Vec::new();
    for node in &command.replicas {
        match init_replica(node, block, recovery_id).await {
            Ok(f) => found.push(f),
            Err(e) => warn!(
                block_id = block.id,
                datanode = %net::xfer_addr(node),
                "replica left out of block recovery: {e}"
            ),
        }
    }
    let Some(settlement) = settle(&found) else {
        return Err(DatanodeError::ReplicaNotFound {
            block_id: block.id,
            detail: format!(
                " (none of the {} replicas could be recovered)",
                command.replicas.len()
            ),
        });
    };
    let delete_block = settlement.length == 0;
    let mut settled = Vec::new();
    if !delete_block {
        for &i in &settlement.participants {
            let Some(f) = found.get(i) else { continue };
            match update_replica(&f.node, f.replica, recovery_id, settlement.length).await {
                Ok(()) => settled.push(f.node.datanode_uuid.clone()),
                Err(e) => warn!(
                    block_id = block.id,
                    datanode = %net::xfer_addr(&f.node),
                    "replica could not be settled: {e}"
                ),
            }
        }
        if settled.is_empty() {
            return Err(DatanodeError::ReplicaNotFound {
                block_id: block.id,
                detail: " (no replica could be settled)".into(),
            });
        }
    }
    info!(
        block_id = block.id,
        recovery_id,
        length = settlement.length,
        replicas = settled.len(),
        delete_block,
        "block recovery settled; committing"
    );
    let request = pb::CommitBlockSynchronizationRequest {
        block: Some(block),
        new_generation_stamp: recovery_id,
        new_length: settlement.length,
        delete_block,
        new_datanode_uuids: settled,
    };
    namenode
        .commit_block_synchronization(request)
        .await
        .map_err(|s| DatanodeError::rpc("commitBlockSynchronization", s))?;
    Ok(())
}

async fn init_replica(
    node: &pb::DatanodeInfo,
    block: pb::Block,
    recovery_id: u64,
) -> Result<FoundReplica> {
    let addr = net::xfer_addr(node);
    let mut client = net::connect_datanode(node).await?;
    let request = pb::InitReplicaRecoveryRequest {
        block: Some(block),
        recovery_id,
    };
    let response = tokio::time::timeout(STEP_TIMEOUT, client.init_replica_recovery(request))
        .await
        .map_err(|_| timed_out(&addr, "InitReplicaRecovery"))?
        .map_err(|s| DatanodeError::rpc(format!("InitReplicaRecovery at {addr}"), s))?
        .into_inner();
    let replica = response
        .replica
        .ok_or_else(|| DatanodeError::InvalidArgument(format!("{addr} described no replica")))?;
    Ok(FoundReplica {
        node: node.clone(),
        replica,
        finalized: response.finalized,
    })
}

async fn update_replica(
    node: &pb::DatanodeInfo,
    replica: pb::Block,
    recovery_id: u64,
    new_length: u64,
) -> Result<()> {
    let addr = net::xfer_addr(node);
    let mut client = net::connect_datanode(node).await?;
    let request = pb::UpdateReplicaUnderRecoveryRequest {
        block: Some(replica),
        recovery_id,
        new_length,
    };
    tokio::time::timeout(STEP_TIMEOUT, client.update_replica_under_recovery(request))
        .await
        .map_err(|_| timed_out(&addr, "UpdateReplicaUnderRecovery"))?
        .map_err(|s| DatanodeError::rpc(format!("UpdateReplicaUnderRecovery at {addr}"), s))?;
    Ok(())
}

fn timed_out(addr: &str, what: &str) -> DatanodeError {
    DatanodeError::rpc(
        format!("{what} at {addr}"),
        cairn_proto::RpcError::new(
            cairn_proto::ErrorKind::TimedOut,
            format!("no answer within {STEP_TIMEOUT:?}"),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(len: u64, finalized: bool) -> FoundReplica {
        FoundReplica {
            node: pb::DatanodeInfo::default(),
            replica: pb::Block {
                id: 1,
                generation_stamp: 1001,
                num_bytes: len,
            },
            finalized,
        }
    }

    #[test]
    fn replicas_being_written_settle_at_the_shortest() {
        let found = [
            replica(300, false),
            replica(100, false),
            replica(200, false),
        ];
        assert_eq!(
            settle(&found),
            Some(Settlement {
                length: 100,
                participants: vec![0, 1, 2]
            })
        );
    }

    #[test]
    fn a_finalized_replica_sets_the_length() {
        let found = [replica(50, false), replica(200, true), replica(250, false)];
        assert_eq!(
            settle(&found),
            Some(Settlement {
                length: 200,
                participants: vec![1, 2]
            })
        );
    }

    #[test]
    fn nothing_found_settles_nothing() {
        assert_eq!(settle(&[]), None);
    }
}
