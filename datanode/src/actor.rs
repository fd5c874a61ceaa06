//! BPServiceActor: the datanode's side of DatanodeProtocol — handshake,
//! registration, heartbeats (whose replies carry the namenode's commands),
//! full and incremental block reports. One task, so calls to the namenode
//! never overlap; commands run in tasks of their own.

use std::sync::Arc;
use std::time::Duration;

use cairn_proto::pb::datanode_protocol_client::DatanodeProtocolClient;
use cairn_proto::{ErrorKind, RpcError, pb};
use tokio::time::{Instant, sleep, sleep_until};
use tonic::transport::Channel;
use tracing::{debug, info, warn};

use crate::commands;
use crate::error::{DatanodeError, Result};
use crate::net::Backoff;
use crate::node::NodeContext;

/// Every call to the namenode gives up after this long.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(60);

/// First and longest wait between attempts while the namenode is down.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The client of the namenode's DatanodeProtocol.
pub type NamenodeClient = DatanodeProtocolClient<Channel>;

/// Intervals of the actor's loops.
#[derive(Debug, Clone, Copy)]
pub struct ActorTiming {
    pub heartbeat_interval: Duration,
    pub block_report_interval: Duration,
    pub incremental_report_delay: Duration,
}

/// Asks the namenode which cluster it serves, retrying with backoff (and a
/// warning each time) until it answers.
pub async fn handshake(client: &mut NamenodeClient) -> pb::NamespaceInfo {
    let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
    loop {
        match client.version_request(pb::VersionRequestRequest {}).await {
            Ok(info) => return info.into_inner(),
            Err(status) => {
                let err = RpcError::from(status);
                let delay = backoff.next_delay();
                warn!("namenode handshake failed ({err}); retrying in {delay:?}");
                sleep(delay).await;
            }
        }
    }
}

/// Whether a failed call is worth retrying later (the namenode is down,
/// slow or starting) rather than a refusal.
fn is_transient(err: &DatanodeError) -> bool {
    matches!(
        err.kind(),
        ErrorKind::Unavailable | ErrorKind::TimedOut | ErrorKind::SafeMode
    )
}

/// The actor of one datanode towards its namenode.
#[derive(Debug)]
pub struct BpServiceActor {
    ctx: Arc<NodeContext>,
    client: NamenodeClient,
    registration: pb::DatanodeRegistration,
    timing: ActorTiming,
}

impl BpServiceActor {
    pub fn new(
        ctx: Arc<NodeContext>,
        client: NamenodeClient,
        registration: pb::DatanodeRegistration,
        timing: ActorTiming,
    ) -> Self {
        Self {
            ctx,
            client,
            registration,
            timing,
        }
    }

    /// Registers and sends a full block report, retrying with backoff while
    /// the namenode is unreachable; a refusal is returned.
    pub async fn register_at_start(&mut self) -> Result<()> {
        let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
        loop {
            match self.register().await {
                Ok(()) => return Ok(()),
                Err(e) if is_transient(&e) => {
                    let delay = backoff.next_delay();
                    warn!("registration failed ({e}); retrying in {delay:?}");
                    sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// RegisterDatanode, then a full block report.
    async fn register(&mut self) -> Result<()> {
        let response = self
            .client
            .register_datanode(pb::RegisterDatanodeRequest {
                registration: Some(self.registration.clone()),
            })
            .await
            .map_err(|s| DatanodeError::rpc("registration with the namenode", s))?
            .into_inner();
        if let Some(kept) = response.registration
            && kept.datanode_uuid != self.registration.datanode_uuid
        {
            warn!(ours = %self.registration.datanode_uuid, theirs = %kept.datanode_uuid, "namenode registered us under another uuid");
        }
        info!(uuid = %self.registration.datanode_uuid, host = %self.registration.host, port = self.registration.xfer_port, "registered with the namenode");
        self.block_report().await?;
        // The report cannot say which replicas are corrupt: the scanner
        // checks those it found so again and reports them.
        self.ctx.scanner.recheck_found_corrupt(&self.ctx.dataset);
        Ok(())
    }

    async fn block_report(&mut self) -> Result<()> {
        let dataset = Arc::clone(&self.ctx.dataset);
        let replicas = tokio::task::spawn_blocking(move || dataset.block_report()).await?;
        let count = replicas.len();
        let response = self
            .client
            .block_report(pb::BlockReportRequest {
                datanode_uuid: self.registration.datanode_uuid.clone(),
                replicas,
            })
            .await
            .map_err(|s| DatanodeError::rpc("full block report", s))?
            .into_inner();
        info!(replicas = count, "sent a full block report");
        if commands::execute(&self.ctx, &self.client, response.commands).reregister {
            return Err(DatanodeError::rpc(
                "full block report",
                RpcError::new(
                    ErrorKind::UnregisteredDatanode,
                    "the namenode asked us to register again",
                ),
            ));
        }
        Ok(())
    }

    async fn heartbeat(&mut self) -> Result<bool> {
        let dataset = Arc::clone(&self.ctx.dataset);
        let usage = tokio::task::spawn_blocking(move || dataset.usage()).await?;
        let response = self
            .client
            .send_heartbeat(pb::HeartbeatRequest {
                datanode_uuid: self.registration.datanode_uuid.clone(),
                capacity: usage.capacity,
                dfs_used: usage.dfs_used,
                remaining: usage.remaining,
                non_dfs_used: usage.non_dfs_used,
                xceiver_count: self.ctx.xceiver_count(),
                failed_volumes: usage.failed_volumes,
            })
            .await
            .map_err(|s| DatanodeError::rpc("heartbeat", s))?
            .into_inner();
        let reregister = commands::execute(&self.ctx, &self.client, response.commands).reregister;
        self.report_bad_blocks().await?;
        Ok(reregister)
    }

    /// Sends the corrupt replicas the block scanner found; puts them back
    /// on failure, for the next heartbeat.
    async fn report_bad_blocks(&mut self) -> Result<()> {
        let blocks = self.ctx.bad_blocks.take();
        if blocks.is_empty() {
            return Ok(());
        }
        let count = blocks.len();
        let sent = self
            .client
            .report_bad_blocks(pb::DatanodeReportBadBlocksRequest {
                datanode_uuid: self.registration.datanode_uuid.clone(),
                blocks: blocks.clone(),
            })
            .await;
        match sent {
            Ok(_) => {
                info!(count, "reported corrupt replicas to the namenode");
                Ok(())
            }
            Err(s) => {
                self.ctx.bad_blocks.put_back(blocks);
                Err(DatanodeError::rpc("bad block report", s))
            }
        }
    }

    /// Sends what the incremental report queue holds; puts it back on failure.
    async fn incremental_report(&mut self) -> Result<()> {
        let blocks = self.ctx.reports.take();
        if blocks.is_empty() {
            return Ok(());
        }
        let count = blocks.len();
        let sent = self
            .client
            .block_received_and_deleted(pb::BlockReceivedAndDeletedRequest {
                datanode_uuid: self.registration.datanode_uuid.clone(),
                blocks: blocks.clone(),
            })
            .await;
        match sent {
            Ok(_) => {
                debug!(count, "sent an incremental block report");
                Ok(())
            }
            Err(s) => {
                self.ctx.reports.put_back(blocks);
                Err(DatanodeError::rpc("incremental block report", s))
            }
        }
    }

    /// The actor's loop, until shutdown. While the namenode is down it keeps
    /// retrying with backoff; when the namenode has forgotten us (it
    /// restarted) it registers again and sends a full block report.
    pub async fn run(mut self) {
        let timing = self.timing;
        let mut schedule = Schedule {
            backoff: Backoff::new(
                RETRY_MIN,
                RETRY_MAX.min(timing.heartbeat_interval).max(RETRY_MIN),
            ),
            next_heartbeat: Instant::now(),
            next_block_report: Instant::now() + timing.block_report_interval,
            report_due: (!self.ctx.reports.is_empty())
                .then(|| Instant::now() + timing.incremental_report_delay),
            register_at: None,
        };
        let ctx = Arc::clone(&self.ctx);
        loop {
            let register_timer = async {
                match schedule.register_at {
                    Some(at) => sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let report_timer = async {
                match schedule.report_due {
                    Some(at) => sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let due = tokio::select! {
                biased;
                () = ctx.shutting_down() => break,
                () = register_timer => Due::Register,
                () = ctx.reports.wait(), if schedule.report_due.is_none() => Due::ReportQueued,
                () = report_timer => Due::Report,
                () = ctx.transfer_done.notified() => Due::TransferDone,
                () = sleep_until(schedule.next_heartbeat) => Due::Heartbeat,
                () = sleep_until(schedule.next_block_report) => Due::BlockReport,
            };
            // A call to a hung namenode must not hold up a shutdown.
            tokio::select! {
                () = self.handle(due, &mut schedule) => {}
                () = ctx.shutting_down() => break,
            }
        }
        debug!("BPServiceActor stopped");
    }

    /// Does what is due and plans the next time.
    async fn handle(&mut self, due: Due, schedule: &mut Schedule) {
        let timing = self.timing;
        let outcome = match due {
            Due::Register => {
                let result = self.register().await;
                match result {
                    Ok(()) => {
                        schedule.register_at = None;
                        schedule.backoff.reset();
                        schedule.next_heartbeat = Instant::now();
                        schedule.next_block_report = Instant::now() + timing.block_report_interval;
                        Ok(())
                    }
                    Err(e) => {
                        let delay = schedule.backoff.next_delay();
                        warn!("registering again failed ({e}); retrying in {delay:?}");
                        schedule.register_at = Some(Instant::now() + delay);
                        return;
                    }
                }
            }
            Due::TransferDone => {
                // After the target's RECEIVED report has had time to reach
                // the namenode, which then counts the stream as free.
                let soon = Instant::now() + timing.incremental_report_delay + TRANSFER_FOLLOW_UP;
                schedule.next_heartbeat = schedule.next_heartbeat.min(soon);
                Ok(())
            }
            Due::ReportQueued => {
                schedule.report_due = Some(Instant::now() + timing.incremental_report_delay);
                Ok(())
            }
            Due::Report => {
                let result = self.incremental_report().await;
                schedule.report_due = match &result {
                    Ok(()) if self.ctx.reports.is_empty() => None,
                    Ok(()) => Some(Instant::now() + timing.incremental_report_delay),
                    Err(_) => Some(Instant::now() + schedule.backoff.next_delay()),
                };
                result
            }
            Due::Heartbeat => {
                let result = self.heartbeat().await;
                schedule.next_heartbeat = Instant::now()
                    + match &result {
                        Ok(_) => timing.heartbeat_interval,
                        Err(_) => schedule.backoff.next_delay().min(timing.heartbeat_interval),
                    };
                match result {
                    Ok(true) => {
                        info!("the namenode asked us to register again");
                        schedule.register_at.get_or_insert_with(Instant::now);
                        Ok(())
                    }
                    Ok(false) => {
                        schedule.backoff.reset();
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Due::BlockReport => {
                let result = self.block_report().await;
                schedule.next_block_report = Instant::now()
                    + match &result {
                        Ok(()) => timing.block_report_interval,
                        Err(_) => schedule.backoff.next_delay(),
                    };
                result
            }
        };
        if let Err(e) = outcome {
            if e.kind() == ErrorKind::UnregisteredDatanode {
                if schedule.register_at.is_none() {
                    info!("the namenode does not know us ({e}); registering again");
                    schedule.register_at = Some(Instant::now());
                }
            } else {
                warn!("{e}");
            }
        }
    }
}

/// How long after a transfer ends (beyond the incremental report delay)
/// the next heartbeat goes out to fetch the next transfer.
const TRANSFER_FOLLOW_UP: Duration = Duration::from_millis(50);

/// What the actor's loop does next.
enum Due {
    Register,
    TransferDone,
    ReportQueued,
    Report,
    Heartbeat,
    BlockReport,
}

/// When each of the actor's duties is next due.
struct Schedule {
    backoff: Backoff,
    next_heartbeat: Instant,
    next_block_report: Instant,
    report_due: Option<Instant>,
    /// Set when the namenode has forgotten us: when to register again.
    register_at: Option<Instant>,
}
