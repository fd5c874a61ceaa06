//! FSImage's two jobs at the namesystem level: loading the namespace at
//! start-up (newest valid checkpoint + replay of the later edit log) and
//! saving it (a checkpoint: snapshot under the lock, written outside it).

use std::sync::Arc;

use tracing::{info, warn};

use crate::config::NamenodeConfig;
use crate::editlog::storage::NnStorage;
use crate::editlog::writer::EditLog;
use crate::editlog::{image, loader};
use crate::error::NamenodeError;
use crate::namesystem::{FsNamesystem, Namesystem};

/// Loads the newest valid checkpoint, replays the log, and opens a new
/// edit log segment.
pub fn load(
    config: Arc<NamenodeConfig>,
    storage: &NnStorage,
) -> Result<(Namesystem, Arc<EditLog>), NamenodeError> {
    if !storage.is_formatted() {
        return Err(NamenodeError::NotFormatted(config.name_dir.clone()));
    }
    let cluster_id = storage.read_version()?;
    let seen_txid = storage.read_seen_txid()?;
    let mut ns = Namesystem::new(Arc::clone(&config), cluster_id.clone());
    ns.datanodes.excluded = crate::datanodes::admin::read_excluded(&config.name_dir)?;

    let images = storage.images()?;
    let mut image_txid = 0;
    let mut loaded = false;
    let mut first_error = None;
    for (txid, path) in &images {
        match image::load(path) {
            Ok(snapshot) => {
                if snapshot.header.cluster_id != cluster_id {
                    return Err(NamenodeError::CorruptStorage {
                        path: path.clone(),
                        detail: format!(
                            "the checkpoint belongs to cluster {}, VERSION says {cluster_id}",
                            snapshot.header.cluster_id
                        ),
                    });
                }
                ns.load_snapshot(snapshot)?;
                image_txid = *txid;
                loaded = true;
                info!(file = %path.display(), txid, "loaded checkpoint");
                break;
            }
            Err(e) => {
                warn!("skipping an unreadable checkpoint: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    if !loaded {
        if let Some(e) = first_error {
            return Err(e);
        }
        if seen_txid > 1 {
            return Err(NamenodeError::CorruptStorage {
                path: storage.current().to_path_buf(),
                detail: format!("no checkpoint (fsimage_*) found, but seen_txid is {seen_txid}"),
            });
        }
    }

    let outcome = loader::replay(storage, image_txid, |record| {
        let op = record.op.ok_or_else(|| {
            NamenodeError::Internal(format!("transaction {} has no op", record.txid))
        })?;
        ns.apply(&op)
    })?;
    if outcome.last_txid + 1 < seen_txid {
        return Err(NamenodeError::CorruptStorage {
            path: storage.current().join("seen_txid"),
            detail: format!(
                "the edit log ends at transaction {} but transactions up to {} were seen: edit log segments are missing",
                outcome.last_txid,
                seen_txid - 1
            ),
        });
    }
    info!(
        checkpoint_txid = image_txid,
        replayed = outcome.records,
        last_txid = outcome.last_txid,
        inodes = ns.dir.len(),
        blocks = ns.blocks.map.len(),
        "namespace loaded"
    );
    loader::finalize_leftovers(storage, outcome.in_progress)?;
    if !loaded {
        // Pin the first image (and so the root's owner) right away.
        image::save(storage, &ns.snapshot(outcome.last_txid))?;
    }
    let edit_log = Arc::new(EditLog::open_with(
        storage.clone(),
        outcome.last_txid + 1,
        config.commit_delay(),
    )?);
    ns.journal = Some(Arc::clone(&edit_log));
    ns.update_safe_mode();
    Ok((ns, edit_log))
}

/// Saves a checkpoint at the current txid: snapshot under the read lock,
/// roll the log, write the image outside the lock, purge what it covers.
pub async fn checkpoint(fs: &FsNamesystem, storage: &NnStorage) -> Result<(), NamenodeError> {
    let (snapshot, rolled) = {
        let ns = fs.state.read();
        let txid = fs.edit_log.last_txid();
        (ns.snapshot(txid), fs.edit_log.roll())
    };
    let txid = snapshot.header.txid;
    if storage.images()?.first().is_some_and(|(t, _)| *t == txid) {
        return Ok(());
    }
    rolled
        .await
        .map_err(|_| NamenodeError::Internal("the edit log stopped during a checkpoint".into()))?
        .map_err(|msg| NamenodeError::io("cannot roll the edit log", std::io::Error::other(msg)))?;
    let storage = storage.clone();
    let started = std::time::Instant::now();
    let inodes = snapshot.inode_count;
    tokio::task::spawn_blocking(move || {
        image::save(&storage, &snapshot)?;
        let path = storage.image_path(txid);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        info!(
            txid,
            inodes,
            bytes,
            millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            file = %path.display(),
            "checkpoint written"
        );
        image::purge(&storage)
    })
    .await
    .map_err(|e| NamenodeError::Internal(format!("checkpoint task panicked: {e}")))?
}
