//! HDFS's LeaseRenewer: while a client has any file open for writing, one
//! background task renews the client's lease on the namenode, so that the
//! namenode does not recover the files of a writer that is merely slow.
//! The task starts with the first open writer and stops when the last one
//! is closed or dropped.

use std::sync::Arc;
use std::time::Duration;

use cairn_proto::pb::RenewLeaseRequest;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::connection::NamenodeClient;

/// Renews the lease every this much when the server's soft limit is unknown
/// (HDFS: soft limit 60 s, renewed every 30 s).
pub(crate) const DEFAULT_RENEW_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    /// Open writers.
    writers: usize,
    /// Whether the renewal task is running.
    running: bool,
}

/// Counts open writers and runs the renewal task while there are any.
#[derive(Default)]
pub(crate) struct LeaseRenewer {
    state: Mutex<State>,
    /// Wakes the task when the last writer goes away.
    wake: Notify,
}

impl LeaseRenewer {
    /// Registers an open writer; starts the renewal task if it is the first.
    /// The writer keeps the returned guard for as long as it holds the lease.
    pub(crate) fn register(
        self: &Arc<Self>,
        namenode: NamenodeClient,
        client_name: String,
        interval: Duration,
    ) -> LeaseGuard {
        let mut state = self.state.lock();
        state.writers += 1;
        if !state.running {
            state.running = true;
            let renewer = Arc::clone(self);
            tokio::spawn(renewer.run(namenode, client_name, interval));
        }
        LeaseGuard {
            renewer: Arc::clone(self),
        }
    }

    /// Open writers right now.
    #[cfg(test)]
    pub(crate) fn writers(&self) -> usize {
        self.state.lock().writers
    }

    /// Whether the renewal task runs right now.
    #[cfg(test)]
    pub(crate) fn is_running(&self) -> bool {
        self.state.lock().running
    }

    async fn run(
        self: Arc<Self>,
        mut namenode: NamenodeClient,
        client_name: String,
        interval: Duration,
    ) {
        tracing::debug!(client = %client_name, ?interval, "lease renewer started");
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = self.wake.notified() => {}
            }
            {
                let mut state = self.state.lock();
                if state.writers == 0 {
                    state.running = false;
                    break;
                }
            }
            let request = RenewLeaseRequest {
                client_name: client_name.clone(),
            };
            if let Err(status) = namenode.renew_lease(request).await {
                // The next round tries again; the soft limit leaves room for
                // a missed renewal or two.
                tracing::warn!(client = %client_name, error = %status.message(), "lease renewal failed");
            }
        }
        tracing::debug!(client = %client_name, "lease renewer stopped: no open writer");
    }
}

/// Held by an open writer; dropping it unregisters the writer.
pub(crate) struct LeaseGuard {
    renewer: Arc<LeaseRenewer>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let last = {
            let mut state = self.renewer.state.lock();
            state.writers = state.writers.saturating_sub(1);
            state.writers == 0
        };
        if last {
            self.renewer.wake.notify_one();
        }
    }
}
