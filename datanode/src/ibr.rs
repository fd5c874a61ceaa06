//! Incremental block reports (HDFS's IncrementalBlockReportManager):
//! replicas received or deleted since the last report, queued here by the
//! pipeline and the command handlers and sent by the BPServiceActor after a
//! short batching delay, retried until the namenode has them.

use cairn_proto::pb;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// The queue of not yet delivered incremental reports.
#[derive(Debug, Default)]
pub struct IncrementalBlockReports {
    pending: Mutex<Vec<pb::ReceivedDeletedBlock>>,
    ready: Notify,
}

impl IncrementalBlockReports {
    /// A replica was finalized (received, or settled by a recovery).
    pub fn received(&self, block: pb::Block, storage_id: String) {
        self.push(block, pb::ReceivedDeletedStatus::Received, storage_id);
    }

    /// A replica was deleted.
    pub fn deleted(&self, block: pb::Block, storage_id: String) {
        self.push(block, pb::ReceivedDeletedStatus::Deleted, storage_id);
    }

    fn push(&self, block: pb::Block, status: pb::ReceivedDeletedStatus, storage_id: String) {
        self.pending.lock().push(pb::ReceivedDeletedBlock {
            block: Some(block),
            status: status as i32,
            storage_id,
        });
        self.ready.notify_one();
    }

    /// Waits until something was queued since the last wait.
    pub async fn wait(&self) {
        self.ready.notified().await;
    }

    /// Takes everything queued, oldest first.
    pub fn take(&self) -> Vec<pb::ReceivedDeletedBlock> {
        std::mem::take(&mut *self.pending.lock())
    }

    /// Puts back reports that could not be delivered, before newer ones.
    pub fn put_back(&self, mut reports: Vec<pb::ReceivedDeletedBlock>) {
        if reports.is_empty() {
            return;
        }
        let mut pending = self.pending.lock();
        reports.append(&mut pending);
        *pending = reports;
    }

    pub fn is_empty(&self) -> bool {
        self.pending.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(id: u64) -> pb::Block {
        pb::Block {
            id,
            generation_stamp: 1,
            num_bytes: 0,
        }
    }

    #[tokio::test]
    async fn undelivered_reports_keep_their_order() {
        let ibr = IncrementalBlockReports::default();
        ibr.received(block(1), "DS-a".into());
        ibr.wait().await;
        let first = ibr.take();
        ibr.deleted(block(2), "DS-a".into());
        ibr.put_back(first);
        let all = ibr.take();
        let ids: Vec<u64> = all.iter().map(|r| r.block.as_ref().unwrap().id).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(all[1].status, pb::ReceivedDeletedStatus::Deleted as i32);
        assert!(ibr.is_empty());
    }
}
