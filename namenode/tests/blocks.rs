//! Blocks and datanodes, driven through the real DatanodeProtocol: safe
//! mode counts, placement, the replication monitor, complete(), truncate,
//! append, deletion and corrupt replicas.
// Test helpers outside #[test] functions unwrap as freely as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use cairn_namenode::NamenodeConfig;
use cairn_proto::ErrorKind;
use cairn_proto::pb;
use cairn_proto::pb::datanode_command::Command;
use common::*;

/// Heartbeats until a command matching `pick` arrives.
async fn command<T>(dn: &mut FakeDatanode, what: &str, pick: impl Fn(&Command) -> Option<T>) -> T {
    let mut found = None;
    for _ in 0..6000 {
        let commands = dn.heartbeat().await.unwrap();
        if let Some(t) = commands
            .iter()
            .filter_map(|c| c.command.as_ref())
            .find_map(&pick)
        {
            found = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    found.unwrap_or_else(|| panic!("no {what} command for {}", dn.uuid))
}

/// Registers datanodes `dn-1` … `dn-N`, listening on ports 1 … N.
async fn register_datanodes(nn: std::net::SocketAddr, n: u32) -> Vec<FakeDatanode> {
    let mut dns = Vec::new();
    for port in 1..=n {
        dns.push(FakeDatanode::register(nn, &format!("dn-{port}"), port).await);
    }
    dns
}

async fn safe_mode(c: &mut Client) -> pb::SetSafeModeResponse {
    c.set_safe_mode(pb::SetSafeModeRequest {
        action: pb::SafeModeAction::SafemodeGet as i32,
    })
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn safe_mode_counts_reported_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    assert_eq!(
        safe_mode(&mut c).await.status,
        "Safe mode is OFF.",
        "an empty namespace leaves at once"
    );
    let mut dns = vec![FakeDatanode::register(nn.local_addr(), "dn-1", 50010).await];
    let mut blocks = Vec::new();
    for i in 0..5 {
        blocks.push(write_file(&mut c, &mut dns, &format!("/f{i}"), 10 + i, 1).await);
    }
    drop(c);
    nn.shutdown().await.unwrap();

    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let sm = safe_mode(&mut c).await;
    assert!(sm.on);
    assert_eq!(
        sm.status,
        "Safe mode is ON. The reported blocks 0 needs additional 5 blocks to reach the threshold 0.9990 of total blocks 5."
    );
    let e = err(c.create(create_req("/x", "DFSClient_x")).await);
    assert_eq!(e.kind, ErrorKind::SafeMode);
    assert!(
        e.message
            .starts_with("Cannot create file /x. Name node is in safe mode."),
        "{}",
        e.message
    );
    // Reads work in safe mode.
    assert!(stat(&mut c, "/f0").await.is_some());

    let mut dn = FakeDatanode::register(nn.local_addr(), "dn-1", 50010).await;
    dn.full_report(&blocks[..3]).await;
    let sm = safe_mode(&mut c).await;
    assert_eq!(
        sm.status,
        "Safe mode is ON. The reported blocks 3 needs additional 2 blocks to reach the threshold 0.9990 of total blocks 5."
    );
    // A report with a stale length does not count.
    let mut wrong = blocks[3];
    wrong.num_bytes += 1;
    dn.full_report(&[blocks[0], blocks[1], blocks[2], wrong, blocks[4]])
        .await;
    assert!(safe_mode(&mut c).await.on);
    dn.full_report(&blocks).await;
    let sm = safe_mode(&mut c).await;
    assert!(!sm.on, "{}", sm.status);
    c.create(create_req("/x", "DFSClient_x")).await.unwrap();

    // Manual safe mode stays until left manually; only the superuser.
    let mut bob = client(nn.local_addr(), "bob").await;
    assert_eq!(
        kind(
            bob.set_safe_mode(pb::SetSafeModeRequest {
                action: pb::SafeModeAction::SafemodeEnter as i32,
            })
            .await
        ),
        ErrorKind::PermissionDenied
    );
    let on = c
        .set_safe_mode(pb::SetSafeModeRequest {
            action: pb::SafeModeAction::SafemodeEnter as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(on.on);
    assert!(on.status.contains("turned on manually"));
    dn.full_report(&blocks).await;
    assert!(safe_mode(&mut c).await.on);
    let off = c
        .set_safe_mode(pb::SetSafeModeRequest {
            action: pb::SafeModeAction::SafemodeLeave as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!off.on);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn registration_checks_cluster_and_heartbeats_need_registration() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let e = FakeDatanode::register_in(nn.local_addr(), "dn-x", "127.0.0.1", 1, "CID-a")
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::ClusterIdMismatch);
    assert_eq!(
        e.message,
        "datanode dn-x at 127.0.0.1:1 belongs to cluster CID-a, this namenode serves CID-test"
    );
    let mut dn = FakeDatanode::register(nn.local_addr(), "dn-1", 2).await;
    dn.uuid = "never-registered".into();
    assert_eq!(
        dn.heartbeat().await.unwrap_err().kind,
        ErrorKind::UnregisteredDatanode
    );
    let info = dn
        .rpc
        .version_request(pb::VersionRequestRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.cluster_id, "CID-test");
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let report = c
        .get_datanode_report(pb::GetDatanodeReportRequest {
            report_type: pb::DatanodeReportType::Live as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .datanodes;
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].datanode_uuid, "dn-1");
    assert_eq!(report[0].rack, "/default-rack");
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn add_block_places_replicas_on_distinct_nodes_across_racks() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    for (port, rack) in [(1, "/r1"), (2, "/r1"), (3, "/r2"), (4, "/r2")] {
        cfg.racks.insert(format!("127.0.0.1:{port}"), rack.into());
    }
    let nn = start(cfg).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = register_datanodes(nn.local_addr(), 4).await;
    let rack = |uuid: &str| {
        if uuid == "dn-1" || uuid == "dn-2" {
            "/r1"
        } else {
            "/r2"
        }
    };
    let st = c
        .create(create_req("/placed", "DFSClient_p"))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    let mut previous: Option<pb::Block> = None;
    for _ in 0..20 {
        let lb = c
            .add_block(pb::AddBlockRequest {
                path: "/placed".into(),
                client_name: "DFSClient_p".into(),
                previous,
                excluded_nodes: vec![],
                file_id: st.inode_id,
                client_host: "127.0.0.1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let uuids: Vec<&str> = lb
            .locations
            .iter()
            .map(|l| l.datanode_uuid.as_str())
            .collect();
        assert_eq!(uuids.len(), 3);
        assert_eq!(
            uuids.iter().collect::<HashSet<_>>().len(),
            3,
            "never two replicas on one node"
        );
        assert_ne!(
            rack(uuids[0]),
            rack(uuids[1]),
            "second replica on another rack"
        );
        assert_eq!(rack(uuids[1]), rack(uuids[2]), "third on the second's rack");
        let mut block = lb.block.unwrap();
        block.num_bytes = 1;
        for uuid in &uuids {
            let dn = dns.iter_mut().find(|d| d.uuid == *uuid).unwrap();
            dn.received(block).await;
        }
        previous = Some(block);
    }
    // Excluding nodes: only one left.
    let lb = c
        .add_block(pb::AddBlockRequest {
            path: "/placed".into(),
            client_name: "DFSClient_p".into(),
            previous,
            excluded_nodes: vec!["dn-1".into(), "dn-2".into(), "dn-3".into()],
            file_id: st.inode_id,
            client_host: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lb.locations.len(), 1);
    assert_eq!(lb.locations[0].datanode_uuid, "dn-4");
    // Another client cannot take the file over; a stranger cannot add blocks.
    let e = err(c.create(create_req("/placed", "DFSClient_other")).await);
    assert_eq!(e.kind, ErrorKind::LeaseConflict);
    assert_eq!(
        e.message,
        "Failed to CREATE_FILE /placed for DFSClient_other on 127.0.0.1 because this file lease is currently owned by DFSClient_p"
    );
    let e = err(c
        .add_block(add_block_req(
            "/placed",
            "DFSClient_other",
            None,
            st.inode_id,
        ))
        .await);
    assert_eq!(e.kind, ErrorKind::LeaseExpired);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn no_datanode_means_not_enough_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let st = c
        .create(create_req("/f", "DFSClient_1"))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    let e = err(c
        .add_block(add_block_req("/f", "DFSClient_1", None, st.inode_id))
        .await);
    assert_eq!(e.kind, ErrorKind::NotEnoughReplicas);
    assert!(
        e.message
            .contains("could only be written to 0 of the 1 minReplication nodes"),
        "{}",
        e.message
    );
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn complete_waits_for_the_replica_report() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dn = FakeDatanode::register(nn.local_addr(), "dn-1", 1).await;
    let mut req = create_req("/w", "DFSClient_w");
    req.replication = 1;
    let st = c.create(req).await.unwrap().into_inner().status.unwrap();
    let lb = c
        .add_block(add_block_req("/w", "DFSClient_w", None, st.inode_id))
        .await
        .unwrap()
        .into_inner();
    let mut block = lb.block.unwrap();
    assert!(block.id > 1 << 30, "block ids start above 2^30");
    assert!(
        block.generation_stamp > 1000,
        "generation stamps start at 1001"
    );
    block.num_bytes = 777;
    // fsync records the length while the file is open.
    c.fsync(pb::FsyncRequest {
        path: "/w".into(),
        client_name: "DFSClient_w".into(),
        file_id: st.inode_id,
        last_block_length: 500,
    })
    .await
    .unwrap();
    assert_eq!(stat(&mut c, "/w").await.unwrap().length, 500);
    let open = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/w".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(open.under_construction);
    assert!(open.last_block.is_some());
    assert!(!open.last_block_complete);

    let mut c2 = c.clone();
    let completing = tokio::spawn(async move {
        c2.complete(pb::CompleteRequest {
            path: "/w".into(),
            client_name: "DFSClient_w".into(),
            last: Some(block),
            file_id: st.inode_id,
        })
        .await
        .unwrap()
        .into_inner()
        .completed
    });
    dn.received(block).await;
    let completed = completing.await.unwrap();
    if !completed {
        // The report may have landed before the commit; a retry settles it.
        let again = c
            .complete(pb::CompleteRequest {
                path: "/w".into(),
                client_name: "DFSClient_w".into(),
                last: Some(block),
                file_id: st.inode_id,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(again.completed);
    }
    let status = stat(&mut c, "/w").await.unwrap();
    assert!(!status.under_construction);
    assert_eq!(status.length, 777);
    let locs = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/w".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(locs.file_length, 777);
    assert_eq!(locs.blocks[0].locations[0].datanode_uuid, "dn-1");
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn replication_monitor_transfers_and_invalidates() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = register_datanodes(nn.local_addr(), 4).await;
    let block = write_file(&mut c, &mut dns, "/r", 1000, 1).await;
    let locs = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/r".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    let source_uuid = locs.blocks[0].locations[0].datanode_uuid.clone();

    // setrep 3: the holder is told to copy to two others.
    c.set_replication(pb::SetReplicationRequest {
        path: "/r".into(),
        replication: 3,
    })
    .await
    .unwrap();
    let source = dns.iter_mut().find(|d| d.uuid == source_uuid).unwrap();
    let transfer = command(source, "transfer", |c| match c {
        Command::Transfer(t) => Some(t.clone()),
        _ => None,
    })
    .await;
    assert_eq!(transfer.block.unwrap(), block);
    let targets: Vec<String> = transfer
        .targets
        .iter()
        .map(|t| t.datanode_uuid.clone())
        .collect();
    assert_eq!(targets.len(), 2);
    assert!(!targets.contains(&source_uuid));
    for t in &targets {
        let dn = dns.iter_mut().find(|d| d.uuid == *t).unwrap();
        dn.received(block).await;
    }
    let replicas = |c: &mut Client| {
        let mut c = c.clone();
        async move {
            c.get_block_locations(pb::GetBlockLocationsRequest {
                path: "/r".into(),
                offset: 0,
                length: u64::MAX,
            })
            .await
            .unwrap()
            .into_inner()
            .blocks[0]
                .locations
                .len()
        }
    };
    assert_eq!(replicas(&mut c).await, 3);

    // setrep 1: two replicas are deleted.
    c.set_replication(pb::SetReplicationRequest {
        path: "/r".into(),
        replication: 1,
    })
    .await
    .unwrap();
    let mut invalidated = 0;
    for _ in 0..6000 {
        for dn in dns.iter_mut() {
            for cmd in dn.heartbeat().await.unwrap() {
                if let Some(Command::Invalidate(inv)) = cmd.command {
                    assert!(inv.blocks.iter().all(|b| b.id == block.id));
                    invalidated += inv.blocks.len();
                    dn.deleted(block).await;
                }
            }
        }
        if invalidated >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(invalidated, 2);
    assert_eq!(replicas(&mut c).await, 1);

    // Delete the file: its last replica is invalidated too.
    c.delete(pb::DeleteRequest {
        path: "/r".into(),
        recursive: false,
    })
    .await
    .unwrap();
    let mut seen = false;
    for _ in 0..6000 {
        for dn in dns.iter_mut() {
            for cmd in dn.heartbeat().await.unwrap() {
                if let Some(Command::Invalidate(inv)) = cmd.command {
                    seen |= inv.blocks.iter().any(|b| b.id == block.id);
                }
            }
        }
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "the deleted file's replica is invalidated");
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn corrupt_replica_is_replaced_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = register_datanodes(nn.local_addr(), 3).await;
    let block = write_file(&mut c, &mut dns, "/c", 10, 2).await;
    let lb = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/c".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner()
        .blocks
        .remove(0);
    assert_eq!(lb.locations.len(), 2);
    let bad = lb.locations[0].clone();
    c.report_bad_blocks(pb::ReportBadBlocksRequest {
        blocks: vec![pb::LocatedBlock {
            block: Some(block),
            locations: vec![bad.clone()],
            ..Default::default()
        }],
    })
    .await
    .unwrap();
    let after = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/c".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner()
        .blocks
        .remove(0);
    assert_eq!(
        after.locations.len(),
        1,
        "the corrupt replica is not offered"
    );
    assert_eq!(
        after.corrupt_datanode_uuids,
        vec![bad.datanode_uuid.clone()]
    );
    // The good holder copies it to the third node...
    let good = after.locations[0].datanode_uuid.clone();
    let source = dns.iter_mut().find(|d| d.uuid == good).unwrap();
    let transfer = command(source, "transfer", |c| match c {
        Command::Transfer(t) => Some(t.clone()),
        _ => None,
    })
    .await;
    let target = transfer.targets[0].datanode_uuid.clone();
    assert_ne!(
        target, bad.datanode_uuid,
        "not onto the node holding the corrupt copy"
    );
    dns.iter_mut()
        .find(|d| d.uuid == target)
        .unwrap()
        .received(block)
        .await;
    // ...then the corrupt replica is deleted.
    let bad_dn = dns
        .iter_mut()
        .find(|d| d.uuid == bad.datanode_uuid)
        .unwrap();
    let inv = command(bad_dn, "invalidate", |c| match c {
        Command::Invalidate(i) => Some(i.clone()),
        _ => None,
    })
    .await;
    assert_eq!(inv.blocks[0].id, block.id);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn dead_datanode_replicas_are_rereplicated() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(NamenodeConfig {
        heartbeat_interval: Duration::from_millis(50),
        stale_interval: Duration::from_millis(200),
        dead_interval: Duration::from_millis(400),
        ..config(dir.path())
    })
    .await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = register_datanodes(nn.local_addr(), 3).await;
    let block = write_file(&mut c, &mut dns, "/d", 10, 2).await;
    let holders: Vec<String> = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/d".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner()
        .blocks[0]
        .locations
        .iter()
        .map(|l| l.datanode_uuid.clone())
        .collect();
    let victim = holders[0].clone();
    let survivor = holders[1].clone();
    // The victim falls silent; the survivor keeps heartbeating until it is
    // told to copy the block.
    let mut dns: Vec<FakeDatanode> = dns.into_iter().filter(|d| d.uuid != victim).collect();
    let mut transfer = None;
    for _ in 0..6000 {
        for dn in dns.iter_mut() {
            for cmd in dn.heartbeat().await.unwrap() {
                if let Some(Command::Transfer(t)) = cmd.command {
                    assert_eq!(dn.uuid, survivor, "only the survivor holds a replica");
                    transfer = Some(t);
                }
            }
        }
        if transfer.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let transfer = transfer.expect("a transfer from the survivor");
    assert_eq!(transfer.block.unwrap().id, block.id);
    assert_ne!(transfer.targets[0].datanode_uuid, victim);
    let dead = c
        .get_datanode_report(pb::GetDatanodeReportRequest {
            report_type: pb::DatanodeReportType::Dead as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .datanodes;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].datanode_uuid, victim);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn truncate_inside_a_block_recovers_then_closes() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = vec![FakeDatanode::register(nn.local_addr(), "dn-1", 1).await];
    let block = write_file(&mut c, &mut dns, "/t", 1000, 1).await;
    let truncate = |len: u64| pb::TruncateRequest {
        path: "/t".into(),
        new_length: len,
        client_name: "DFSClient_t".into(),
    };
    assert_eq!(
        kind(c.truncate(truncate(2000)).await),
        ErrorKind::InvalidArgument
    );
    let done = c.truncate(truncate(600)).await.unwrap().into_inner().done;
    assert!(!done);
    assert!(stat(&mut c, "/t").await.unwrap().under_construction);
    let recover = command(&mut dns[0], "recover", |c| match c {
        Command::Recover(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(recover.block.unwrap(), block);
    assert_eq!(recover.new_length, 600);
    assert!(recover.new_generation_stamp > block.generation_stamp);
    dns[0]
        .received(pb::Block {
            id: block.id,
            generation_stamp: recover.new_generation_stamp,
            num_bytes: 600,
        })
        .await;
    let status = stat(&mut c, "/t").await.unwrap();
    assert!(!status.under_construction);
    assert_eq!(status.length, 600);

    // Append to the partial block: a new stamp, the same block.
    let appended = c
        .append(pb::AppendRequest {
            path: "/t".into(),
            client_name: "DFSClient_a".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let last = appended.last_block.unwrap();
    assert_eq!(last.block.unwrap().id, block.id);
    assert!(last.block.unwrap().generation_stamp > recover.new_generation_stamp);
    assert_eq!(
        appended.previous_generation_stamp, recover.new_generation_stamp,
        "the stamp the replicas still carry"
    );
    assert_eq!(last.locations.len(), 1);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn pipeline_recovery_and_abandoned_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = register_datanodes(nn.local_addr(), 3).await;
    let st = c
        .create(create_req("/p", "DFSClient_p"))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    let add =
        |previous: Option<pb::Block>| add_block_req("/p", "DFSClient_p", previous, st.inode_id);
    // Abandon the first block; a retried abandon is harmless.
    let first = c
        .add_block(add(None))
        .await
        .unwrap()
        .into_inner()
        .block
        .unwrap();
    let retried = c
        .add_block(add(None))
        .await
        .unwrap()
        .into_inner()
        .block
        .unwrap();
    assert_eq!(first, retried, "a retried addBlock gets the same block");
    let abandon = pb::AbandonBlockRequest {
        block: Some(first),
        path: "/p".into(),
        client_name: "DFSClient_p".into(),
        file_id: st.inode_id,
    };
    c.abandon_block(abandon.clone()).await.unwrap();
    c.abandon_block(abandon).await.unwrap();
    let lb = c.add_block(add(None)).await.unwrap().into_inner();
    let block = lb.block.unwrap();
    assert_ne!(block.id, first.id);
    assert_eq!(lb.locations.len(), 3);

    // One datanode fails: a new stamp, then the pipeline of the survivors.
    let updated = c
        .update_block_for_pipeline(pb::UpdateBlockForPipelineRequest {
            block: Some(block),
            client_name: "DFSClient_p".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let new_gs = updated.block.unwrap().generation_stamp;
    assert!(new_gs > block.generation_stamp);
    assert_eq!(
        kind(
            c.update_block_for_pipeline(pb::UpdateBlockForPipelineRequest {
                block: Some(block),
                client_name: "DFSClient_intruder".into(),
            })
            .await
        ),
        ErrorKind::LeaseExpired
    );
    let survivors: Vec<String> = lb.locations[..2]
        .iter()
        .map(|l| l.datanode_uuid.clone())
        .collect();
    let new_block = pb::Block {
        id: block.id,
        generation_stamp: new_gs,
        num_bytes: 300,
    };
    c.update_pipeline(pb::UpdatePipelineRequest {
        client_name: "DFSClient_p".into(),
        old_block: Some(block),
        new_block: Some(new_block),
        new_datanode_uuids: survivors.clone(),
    })
    .await
    .unwrap();
    // A stamp never handed out is refused.
    assert_eq!(
        kind(
            c.update_pipeline(pb::UpdatePipelineRequest {
                client_name: "DFSClient_p".into(),
                old_block: Some(new_block),
                new_block: Some(pb::Block {
                    generation_stamp: new_gs + 100,
                    ..new_block
                }),
                new_datanode_uuids: survivors.clone(),
            })
            .await
        ),
        ErrorKind::StaleGenerationStamp
    );
    let open = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/p".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    let last = open.last_block.unwrap();
    assert_eq!(last.block.unwrap(), new_block);
    let mut located: Vec<String> = last
        .locations
        .iter()
        .map(|l| l.datanode_uuid.clone())
        .collect();
    located.sort();
    let mut expected = survivors.clone();
    expected.sort();
    assert_eq!(located, expected);

    let mut final_block = new_block;
    final_block.num_bytes = 400;
    for uuid in &survivors {
        dns.iter_mut()
            .find(|d| d.uuid == *uuid)
            .unwrap()
            .received(final_block)
            .await;
    }
    let done = c
        .complete(pb::CompleteRequest {
            path: "/p".into(),
            client_name: "DFSClient_p".into(),
            last: Some(final_block),
            file_id: st.inode_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.completed);
    assert_eq!(stat(&mut c, "/p").await.unwrap().length, 400);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn close_recovery_of_the_previous_block_and_its_stale_replica() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = register_datanodes(nn.local_addr(), 4).await;
    for dn in &mut dns {
        dn.heartbeat().await.unwrap();
    }
    let st = c
        .create(create_req("/q", "DFSClient_q"))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    let add =
        |previous: Option<pb::Block>| add_block_req("/q", "DFSClient_q", previous, st.inode_id);
    let lb = c.add_block(add(None)).await.unwrap().into_inner();
    let mut first = lb.block.unwrap();
    first.num_bytes = 100;
    let pipeline: Vec<usize> = lb
        .locations
        .iter()
        .map(|l| dns.iter().position(|d| d.uuid == l.datanode_uuid).unwrap())
        .collect();
    assert_eq!(pipeline.len(), 3);
    // The first datanode finalizes the block and the writer moves on to the
    // next block: the first one is complete.
    dns[pipeline[0]].received(first).await;
    c.add_block(add(Some(first))).await.unwrap();

    // The last ack of the first block then fails at the third datanode:
    // the writer recovers that block too, under a new stamp.
    let new_gs = c
        .update_block_for_pipeline(pb::UpdateBlockForPipelineRequest {
            block: Some(first),
            client_name: "DFSClient_q".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .block
        .unwrap()
        .generation_stamp;
    let recovered = pb::Block {
        generation_stamp: new_gs,
        ..first
    };
    c.update_pipeline(pb::UpdatePipelineRequest {
        client_name: "DFSClient_q".into(),
        old_block: Some(first),
        new_block: Some(recovered),
        new_datanode_uuids: pipeline[..2].iter().map(|&i| dns[i].uuid.clone()).collect(),
    })
    .await
    .unwrap();
    for &i in &pipeline[..2] {
        dns[i].received(recovered).await;
    }
    // The third datanode's replica has the old stamp: it is never offered,
    // the block is copied to the fourth datanode, then the stale replica
    // is deleted.
    let stale = pipeline[2];
    dns[stale].full_report(&[first]).await;
    let located = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/q".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(located.blocks[0].block, Some(recovered));
    let offered: Vec<&str> = located.blocks[0]
        .locations
        .iter()
        .map(|l| l.datanode_uuid.as_str())
        .collect();
    assert_eq!(offered.len(), 2, "{offered:?}");
    assert!(!offered.contains(&dns[stale].uuid.as_str()));

    let spare = (0..4).find(|i| !pipeline.contains(i)).unwrap();
    let mut transfer = None;
    for _ in 0..6000 {
        for &i in &pipeline[..2] {
            for cmd in dns[i].heartbeat().await.unwrap() {
                if let Some(Command::Transfer(t)) = cmd.command
                    && t.block.is_some_and(|b| b.id == first.id)
                {
                    transfer = Some(t);
                }
            }
        }
        if transfer.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let transfer = transfer.expect("a transfer of the recovered block");
    assert_eq!(transfer.block, Some(recovered));
    let targets: Vec<&str> = transfer
        .targets
        .iter()
        .map(|t| t.datanode_uuid.as_str())
        .collect();
    assert_eq!(targets, vec![dns[spare].uuid.as_str()]);
    dns[spare].received(recovered).await;
    let deleted = command(&mut dns[stale], "invalidate", |c| match c {
        Command::Invalidate(i) => i.blocks.iter().find(|b| b.id == first.id).copied(),
        _ => None,
    })
    .await;
    assert_eq!(deleted.id, first.id);
    nn.shutdown().await.unwrap();
}

/// The pipeline of the previous block breaks before any of its packets
/// was acknowledged (its length was committed by addBlock meanwhile): the
/// writer reports the acknowledged length, 0, and resends every packet;
/// the block keeps its committed length, or the file would lose it.
#[tokio::test]
async fn close_recovery_keeps_the_committed_length() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = register_datanodes(nn.local_addr(), 3).await;
    for dn in &mut dns {
        dn.heartbeat().await.unwrap();
    }
    let st = c
        .create(create_req("/c", "DFSClient_c"))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    let add =
        |previous: Option<pb::Block>| add_block_req("/c", "DFSClient_c", previous, st.inode_id);
    let lb = c.add_block(add(None)).await.unwrap().into_inner();
    let first = pb::Block {
        num_bytes: 1000,
        ..lb.block.unwrap()
    };
    c.add_block(add(Some(first))).await.unwrap();
    let new_gs = c
        .update_block_for_pipeline(pb::UpdateBlockForPipelineRequest {
            block: Some(pb::Block {
                num_bytes: 0,
                ..first
            }),
            client_name: "DFSClient_c".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .block
        .unwrap()
        .generation_stamp;
    let acked = pb::Block {
        num_bytes: 0,
        ..first
    };
    let uuids: Vec<String> = dns.iter().take(2).map(|d| d.uuid.clone()).collect();
    c.update_pipeline(pb::UpdatePipelineRequest {
        client_name: "DFSClient_c".into(),
        old_block: Some(acked),
        new_block: Some(pb::Block {
            generation_stamp: new_gs,
            ..acked
        }),
        new_datanode_uuids: uuids,
    })
    .await
    .unwrap();
    let located = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/c".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    let recovered = pb::Block {
        generation_stamp: new_gs,
        ..first
    };
    assert_eq!(located.blocks[0].block, Some(recovered));
    assert_eq!(located.blocks[1].offset, 1000);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_expired_lease_recovers_the_last_block_through_a_primary() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(NamenodeConfig {
        lease_soft_limit: Duration::from_millis(100),
        lease_hard_limit: Duration::from_millis(300),
        ..config(dir.path())
    })
    .await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = vec![
        FakeDatanode::register(nn.local_addr(), "dn-1", 1).await,
        FakeDatanode::register(nn.local_addr(), "dn-2", 2).await,
    ];
    for dn in &mut dns {
        dn.heartbeat().await.unwrap();
    }
    let mut req = create_req("/abandoned", "DFSClient_gone");
    req.replication = 2;
    let st = c.create(req).await.unwrap().into_inner().status.unwrap();
    let lb = c
        .add_block(add_block_req(
            "/abandoned",
            "DFSClient_gone",
            None,
            st.inode_id,
        ))
        .await
        .unwrap()
        .into_inner();
    let block = lb.block.unwrap();
    assert_eq!(lb.locations.len(), 2);
    c.fsync(pb::FsyncRequest {
        path: "/abandoned".into(),
        client_name: "DFSClient_gone".into(),
        file_id: st.inode_id,
        last_block_length: 123,
    })
    .await
    .unwrap();

    // The writer vanishes: one datanode is told to lead the recovery of
    // the last block, naming both replicas. The file stays open meanwhile.
    let (first, recover) = recovery_command(&mut dns).await;
    assert_eq!(recover.block.unwrap().id, block.id);
    assert_eq!(
        recover.block.unwrap().generation_stamp,
        block.generation_stamp
    );
    assert_eq!(recover.replicas.len(), 2);
    assert!(recover.new_generation_stamp > block.generation_stamp);
    assert!(stat(&mut c, "/abandoned").await.unwrap().under_construction);

    // That primary never answers: after another hard limit the other
    // datanode leads a new attempt under a newer recovery id.
    let (second, retry) = recovery_command(&mut dns).await;
    assert_ne!(first, second);
    assert!(retry.new_generation_stamp > recover.new_generation_stamp);
    assert_eq!(
        retry.block.unwrap().generation_stamp,
        block.generation_stamp
    );

    // A commit of the superseded attempt is refused; the current one
    // closes the file at the length the replicas agreed on.
    let commit = |gs: u64| pb::CommitBlockSynchronizationRequest {
        block: Some(block),
        new_generation_stamp: gs,
        new_length: 4000,
        delete_block: false,
        new_datanode_uuids: vec!["dn-1".into(), "dn-2".into()],
    };
    let stale = dns[second]
        .commit_block_synchronization(commit(recover.new_generation_stamp))
        .await
        .unwrap_err();
    assert_eq!(stale.kind, ErrorKind::StaleGenerationStamp);
    dns[second]
        .commit_block_synchronization(commit(retry.new_generation_stamp))
        .await
        .unwrap();
    let status = stat(&mut c, "/abandoned").await.unwrap();
    assert!(!status.under_construction);
    assert_eq!(status.length, 4000);
    let locs = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/abandoned".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(locs.last_block_complete);
    let settled = locs.blocks[0].block.unwrap();
    assert_eq!(
        (settled.generation_stamp, settled.num_bytes),
        (retry.new_generation_stamp, 4000)
    );
    assert_eq!(locs.blocks[0].locations.len(), 2);
    // The old writer lost its lease.
    assert_eq!(
        kind(
            c.complete(pb::CompleteRequest {
                path: "/abandoned".into(),
                client_name: "DFSClient_gone".into(),
                last: Some(block),
                file_id: st.inode_id,
            })
            .await
        ),
        ErrorKind::LeaseExpired
    );
    // The edit log has the recovered block: it survives a restart.
    nn.shutdown().await.unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let status = stat(&mut c, "/abandoned").await.unwrap();
    assert!(!status.under_construction);
    assert_eq!(status.length, 4000);
    nn.shutdown().await.unwrap();
}

/// Heartbeats every fake datanode until one gets a block recovery
/// command; returns its index and the command.
async fn recovery_command(dns: &mut [FakeDatanode]) -> (usize, pb::RecoverBlockCommand) {
    for _ in 0..6000 {
        for (i, dn) in dns.iter_mut().enumerate() {
            for c in dn.heartbeat().await.unwrap() {
                if let Some(Command::Recover(r)) = c.command {
                    return (i, r);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting for a block recovery command");
}
