//! The namenode's commands, handed out in heartbeat replies.

use cairn_proto::pb::{self, ReceivedDeletedStatus, datanode_command::Command};

use crate::fake_namenode::{FakeNamenode, poll};
use crate::{
    Pipeline, assert_replica, block, bytes, finalized_paths, header, info, init_tracing, packets,
    rbw_paths, read_range, start_datanodes, write_block,
};

#[tokio::test]
async fn transfer_copies_a_replica_down_a_pipeline() {
    init_tracing();
    let nn = FakeNamenode::start("CID-c").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 3).await;
    let data = bytes(2_500_000, 7);
    write_block(&dns[0].0, 50, 9, &data).await;
    nn.command(
        dns[0].0.datanode_uuid(),
        Command::Transfer(pb::TransferCommand {
            block: Some(block(50, 9, data.len() as u64)),
            targets: vec![info(&dns[1].0), info(&dns[2].0)],
        }),
    );
    for (dn, dir) in &dns[1..] {
        let reported = nn
            .wait_for_report(dn.datanode_uuid(), 50, ReceivedDeletedStatus::Received)
            .await;
        assert_eq!(reported, block(50, 9, data.len() as u64));
        assert_replica(&finalized_paths(dir, 50, 9), &data);
        let read = read_range(dn, block(50, 9, 0), 1_048_000, 1000)
            .await
            .unwrap();
        assert!(read == data[1_048_000..1_049_000]);
    }
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn invalidate_deletes_and_reports() {
    init_tracing();
    let nn = FakeNamenode::start("CID-c").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 1).await;
    let (dn, dir) = &dns[0];
    write_block(dn, 60, 2, &bytes(5000, 8)).await;
    write_block(dn, 61, 2, &bytes(5000, 9)).await;
    let paths = finalized_paths(dir, 60, 2);
    assert!(paths.0.exists() && paths.1.exists());
    nn.command(
        dn.datanode_uuid(),
        Command::Invalidate(pb::InvalidateCommand {
            blocks: vec![block(60, 2, 5000)],
        }),
    );
    let deleted = nn
        .wait_for_report(dn.datanode_uuid(), 60, ReceivedDeletedStatus::Deleted)
        .await;
    assert_eq!(deleted, block(60, 2, 5000));
    assert!(!paths.0.exists() && !paths.1.exists());
    assert!(
        finalized_paths(dir, 61, 2).0.exists(),
        "other replicas stay"
    );
    let err = read_range(dn, block(60, 2, 0), 0, 1).await.unwrap_err();
    assert_eq!(
        cairn_proto::RpcError::from(err).kind,
        cairn_proto::ErrorKind::ReplicaNotFound
    );
    // The storage id of the report is the volume's.
    let storage_id = nn.state.lock().registrations[0].storage_ids[0].clone();
    poll("the DELETED report's storage id", || {
        nn.state
            .lock()
            .incremental
            .iter()
            .find(|(_, r)| {
                r.status == ReceivedDeletedStatus::Deleted as i32 && r.storage_id == storage_id
            })
            .map(|_| ())
    })
    .await;
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn recover_truncates_renames_the_meta_and_finalizes() {
    init_tracing();
    let nn = FakeNamenode::start("CID-c").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 1).await;
    let (dn, dir) = &dns[0];
    let data = bytes(9000, 10);
    {
        let mut p = Pipeline::open(
            dn,
            header(
                block(70, 4, 0),
                vec![],
                pb::WriteStage::PipelineSetupCreate,
                0,
            ),
        )
        .await
        .unwrap();
        p.write_all(packets(&data, 0, 4096, false)).await;
        // The writer goes away: the replica stays rbw.
    }
    assert!(rbw_paths(dir, 70, 4).1.exists());
    nn.command(
        dn.datanode_uuid(),
        Command::Recover(pb::RecoverBlockCommand {
            block: Some(block(70, 4, 9000)),
            new_generation_stamp: 5,
            new_length: 6001,
            replicas: Vec::new(),
        }),
    );
    let reported = nn
        .wait_for_report(dn.datanode_uuid(), 70, ReceivedDeletedStatus::Received)
        .await;
    assert_eq!(reported, block(70, 5, 6001));
    let paths = finalized_paths(dir, 70, 5);
    assert_replica(&paths, &data[..6001]);
    assert!(!rbw_paths(dir, 70, 4).0.exists() && !rbw_paths(dir, 70, 4).1.exists());
    assert!(read_range(dn, block(70, 5, 0), 5000, 1001).await.unwrap() == data[5000..6001]);
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn block_recovery_settles_every_replica_at_the_shortest_and_commits() {
    init_tracing();
    let nn = FakeNamenode::start("CID-r").await;
    let tmp = tempfile::tempdir().unwrap();
    let dns = start_datanodes(&nn, tmp.path(), 2).await;
    let data = bytes(9000, 11);
    // The writer died with 9000 bytes on the first replica and 5000 on the
    // second: both stay rbw.
    for ((dn, _), len) in dns.iter().zip([9000usize, 5000]) {
        let mut p = Pipeline::open(
            dn,
            header(
                block(80, 4, 0),
                vec![],
                pb::WriteStage::PipelineSetupCreate,
                0,
            ),
        )
        .await
        .unwrap();
        p.write_all(packets(&data[..len], 0, 1000, false)).await;
    }
    let (primary, _) = &dns[0];
    nn.command(
        primary.datanode_uuid(),
        Command::Recover(pb::RecoverBlockCommand {
            block: Some(block(80, 4, 9000)),
            new_generation_stamp: 6,
            new_length: 0,
            replicas: dns.iter().map(|(dn, _)| info(dn)).collect(),
        }),
    );
    let commit = nn
        .wait_for("the primary's commit", |s| s.commits.first().cloned())
        .await;
    assert_eq!(commit.block, Some(block(80, 4, 9000)));
    assert_eq!((commit.new_generation_stamp, commit.new_length), (6, 5000));
    assert!(!commit.delete_block);
    let mut uuids = commit.new_datanode_uuids.clone();
    uuids.sort();
    let mut expected: Vec<String> = dns
        .iter()
        .map(|(dn, _)| dn.datanode_uuid().to_string())
        .collect();
    expected.sort();
    assert_eq!(uuids, expected);
    for (dn, dir) in &dns {
        assert_replica(&finalized_paths(dir, 80, 6), &data[..5000]);
        assert!(read_range(dn, block(80, 6, 0), 0, 5000).await.unwrap() == data[..5000]);
    }
    for (dn, _) in dns {
        dn.shutdown().await.unwrap();
    }
}
