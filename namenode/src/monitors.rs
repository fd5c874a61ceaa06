//! The background loops: HeartbeatManager's monitor (dead datanodes, the
//! safe mode clock), the RedundancyMonitor, the LeaseManager's monitor and
//! the checkpointer. Each takes the namesystem lock briefly per round.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::error;

use crate::editlog::storage::NnStorage;
use crate::fsimage::checkpoint;
use crate::namesystem::FsNamesystem;

/// Runs `tick` every `period` until stopped.
fn spawn_loop<F, Fut>(
    period: Duration,
    mut stop: watch::Receiver<bool>,
    mut tick: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = interval.tick() => {}
            }
            tick().await;
        }
    })
}

pub fn spawn_loops(
    fs: &Arc<FsNamesystem>,
    storage: &NnStorage,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let config = Arc::clone(&fs.config);
    let mut loops = Vec::new();

    // HeartbeatManager: dead datanodes, and safe mode's extension clock.
    let f = Arc::clone(fs);
    let period = config.heartbeat_interval.min(Duration::from_secs(1));
    loops.push(spawn_loop(period, stop.clone(), move || {
        let f = Arc::clone(&f);
        async move {
            let mut ns = f.state.write();
            ns.check_heartbeats();
            ns.update_safe_mode();
        }
    }));

    // RedundancyMonitor.
    let f = Arc::clone(fs);
    loops.push(spawn_loop(
        config.replication_interval,
        stop.clone(),
        move || {
            let f = Arc::clone(&f);
            async move {
                let mut guard = f.state.write();
                let ns = &mut *guard;
                let in_safe_mode = ns.safemode.is_on();
                ns.blocks.compute_redundancy_work(
                    &mut ns.datanodes,
                    &ns.config,
                    Instant::now(),
                    in_safe_mode,
                );
            }
        },
    ));

    // LeaseManager's monitor.
    let f = Arc::clone(fs);
    let period = (config.lease_soft_limit / 2).min(Duration::from_secs(2));
    loops.push(spawn_loop(period, stop.clone(), move || {
        let f = Arc::clone(&f);
        async move {
            let txid = f.state.write().check_leases();
            match txid {
                Ok(txid) => {
                    if let Err(e) = f.sync(txid).await {
                        error!("lease recovery not durable: {e}");
                    }
                }
                Err(e) => error!("lease recovery failed: {e}"),
            }
        }
    }));

    // Checkpointer: every checkpoint_period, or after checkpoint_txns.
    let f = Arc::clone(fs);
    let st = storage.clone();
    let period = config.checkpoint_period.min(Duration::from_secs(1));
    let mut last = (Instant::now(), f.edit_log.last_txid());
    loops.push(spawn_loop(period, stop.clone(), move || {
        let f = Arc::clone(&f);
        let st = st.clone();
        let due = {
            let txid = f.edit_log.last_txid();
            let txns = txid.saturating_sub(last.1);
            txns > 0
                && (txns >= f.config.checkpoint_txns
                    || last.0.elapsed() >= f.config.checkpoint_period)
        };
        if due {
            last = (Instant::now(), f.edit_log.last_txid());
        }
        async move {
            if due && let Err(e) = checkpoint(&f, &st).await {
                error!("checkpoint failed: {e}");
            }
        }
    }));
    loops
}
