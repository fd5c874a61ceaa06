//! Execution of the namenode's commands (HDFS's
//! BPOfferService.processCommandFromActive): each runs in the background so
//! the heartbeat loop never waits on the disk or another datanode.

use std::sync::Arc;

use cairn_proto::pb::{self, datanode_command::Command};
use tracing::{info, warn};

use crate::actor::NamenodeClient;
use crate::node::NodeContext;
use crate::recovery::recover_block;
use crate::transfer::transfer_replica;

/// What the BPServiceActor itself must do after a batch of commands.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ActorFollowUp {
    /// The namenode does not know us: register again, then a full report.
    pub reregister: bool,
}

/// Starts every command of a heartbeat or block report reply; `namenode`
/// is for the commands that report back (block recovery).
pub fn execute(
    ctx: &Arc<NodeContext>,
    namenode: &NamenodeClient,
    commands: Vec<pb::DatanodeCommand>,
) -> ActorFollowUp {
    let mut follow_up = ActorFollowUp::default();
    for command in commands.into_iter().filter_map(|c| c.command) {
        match command {
            Command::Transfer(t) => transfer(ctx, t),
            Command::Invalidate(i) => invalidate(ctx, i.blocks),
            Command::Recover(r) if !r.replicas.is_empty() => {
                lead_recovery(ctx, namenode.clone(), r)
            }
            Command::Recover(r) => recover(ctx, r),
            Command::Reregister(_) => follow_up.reregister = true,
            Command::Verify(v) => v.blocks.iter().for_each(|b| ctx.mark_suspect(b.id)),
        }
    }
    follow_up
}

fn transfer(ctx: &Arc<NodeContext>, command: pb::TransferCommand) {
    let Some(block) = command.block else {
        warn!("transfer command without a block");
        return;
    };
    let ctx = Arc::clone(ctx);
    tokio::spawn(async move {
        let id = block.id;
        if let Err(e) = transfer_replica(Arc::clone(&ctx), block, command.targets).await {
            warn!(
                block_id = id,
                "transfer failed: {e}; verifying our replica next"
            );
            ctx.mark_suspect(id);
        }
        ctx.transfer_done.notify_one();
    });
}

/// Deletes the replicas' files in a blocking task and reports DELETED.
fn invalidate(ctx: &Arc<NodeContext>, blocks: Vec<pb::Block>) {
    let ctx = Arc::clone(ctx);
    tokio::task::spawn_blocking(move || {
        for block in blocks {
            match ctx.dataset.invalidate(&block) {
                Ok(Some((deleted, storage_id))) => ctx.reports.deleted(deleted, storage_id),
                Ok(None) => {}
                Err(e) => warn!(block_id = block.id, "cannot delete replica: {e}"),
            }
        }
    });
}

/// Leads a block recovery (we are its primary) in the background.
fn lead_recovery(
    ctx: &Arc<NodeContext>,
    namenode: NamenodeClient,
    command: pb::RecoverBlockCommand,
) {
    let ctx = Arc::clone(ctx);
    tokio::spawn(async move {
        let id = command.block.map_or(0, |b| b.id);
        if let Err(e) = recover_block(ctx, namenode, command).await {
            warn!(block_id = id, "block recovery failed: {e}");
        }
    });
}

/// Settles a replica at the recovery's length and generation stamp, then
/// reports it RECEIVED.
fn recover(ctx: &Arc<NodeContext>, command: pb::RecoverBlockCommand) {
    let Some(block) = command.block else {
        warn!("recover command without a block");
        return;
    };
    let ctx = Arc::clone(ctx);
    tokio::task::spawn_blocking(move || {
        match ctx
            .dataset
            .recover_replica(&block, command.new_generation_stamp, command.new_length)
        {
            Ok((recovered, storage_id)) => {
                info!(
                    block_id = block.id,
                    gs = recovered.generation_stamp,
                    len = recovered.num_bytes,
                    "block recovery done"
                );
                ctx.reports.received(recovered, storage_id);
            }
            Err(e) => warn!(block_id = block.id, "block recovery failed: {e}"),
        }
    });
}
