//! DataStorage through the whole datanode: format, VERSION, restart, the
//! cluster id check, re-registration.

use cairn_proto::pb;

use crate::fake_namenode::FakeNamenode;
use crate::{block, config, init_tracing, start_datanode, write_block};

#[tokio::test]
async fn formats_registers_and_keeps_its_uuid_across_restarts() {
    init_tracing();
    let nn = FakeNamenode::start("CID-a").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn1");
    let dn = start_datanode(&nn, &dir).await;
    let uuid = dn.datanode_uuid().to_string();
    let version = std::fs::read_to_string(dir.join("VERSION")).unwrap();
    for line in [
        "clusterID=CID-a".to_string(),
        format!("datanodeUuid={uuid}"),
        "layoutVersion=".to_string(),
        "cTime=0".to_string(),
        "storageID=DS-".to_string(),
    ] {
        assert!(version.contains(&line), "{line} missing from {version}");
    }
    assert!(dir.join("current/rbw").is_dir());
    assert!(dir.join("current/finalized").is_dir());
    {
        let state = nn.state.lock();
        let reg = &state.registrations[0];
        assert_eq!(reg.datanode_uuid, uuid);
        assert_eq!(reg.cluster_id, "CID-a");
        assert_eq!(reg.xfer_port, u32::from(dn.local_addr().port()));
        assert_eq!(reg.host, "127.0.0.1");
        assert_eq!(reg.storage_ids.len(), 1);
        assert!(version.contains(&format!("storageID={}", reg.storage_ids[0])));
        // A full block report right after registering.
        assert_eq!(state.block_reports.len(), 1);
    }
    nn.wait_for("a heartbeat with capacity", |s| {
        s.heartbeats
            .get(&uuid)
            .and_then(|h| h.last())
            .filter(|h| h.capacity > 0 && h.remaining <= h.capacity)
            .map(|_| ())
    })
    .await;
    write_block(&dn, 1, 1, b"hello").await;
    dn.shutdown().await.unwrap();

    let dn = start_datanode(&nn, &dir).await;
    assert_eq!(dn.datanode_uuid(), uuid);
    {
        let state = nn.state.lock();
        assert_eq!(state.registrations.len(), 2);
        assert_eq!(state.registrations[1].datanode_uuid, uuid);
        assert_eq!(
            state.registrations[1].storage_ids,
            state.registrations[0].storage_ids
        );
        let report = state.block_reports.last().unwrap();
        assert_eq!(report.replicas.len(), 1);
        assert_eq!(report.replicas[0].block, Some(block(1, 1, 5)));
        assert_eq!(report.replicas[0].state, pb::ReplicaState::Finalized as i32);
    }
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn refuses_a_volume_of_another_cluster() {
    init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn1");
    {
        let nn = FakeNamenode::start("CID-a").await;
        start_datanode(&nn, &dir).await.shutdown().await.unwrap();
    }
    let nn = FakeNamenode::start("CID-b").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = cairn_datanode::Datanode::start(config(&nn, &dir), listener)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Incompatible clusterIDs in {}: namenode clusterID = CID-b; datanode clusterID = CID-a",
            dir.display()
        )
    );
    assert!(nn.state.lock().registrations.is_empty());
}

#[tokio::test]
async fn registers_again_when_the_namenode_forgot_it() {
    init_tracing();
    let nn = FakeNamenode::start("CID-a").await;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    write_block(&dn, 7, 3, &[1u8; 1000]).await;
    // As after a namenode restart: it no longer knows the datanode.
    nn.state.lock().known.clear();
    let report = nn
        .wait_for("a second full block report", |s| {
            (s.registrations.len() >= 2)
                .then(|| s.block_reports.get(1).cloned())
                .flatten()
        })
        .await;
    assert_eq!(report.replicas.len(), 1);
    assert_eq!(report.replicas[0].block, Some(block(7, 3, 1000)));
    // And the reregister command does the same.
    nn.command(
        dn.datanode_uuid(),
        pb::datanode_command::Command::Reregister(pb::ReregisterCommand {}),
    );
    nn.wait_for("a third registration", |s| {
        (s.registrations.len() >= 3).then_some(())
    })
    .await;
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn keeps_serving_while_the_namenode_is_down_and_rejoins_it() {
    init_tracing();
    let nn = FakeNamenode::start("CID-a").await;
    let addr = nn.addr;
    let tmp = tempfile::tempdir().unwrap();
    let dn = start_datanode(&nn, &tmp.path().join("dn1")).await;
    let data = crate::bytes(3000, 1);
    write_block(&dn, 8, 1, &data).await;
    nn.wait_for_report(dn.datanode_uuid(), 8, pb::ReceivedDeletedStatus::Received)
        .await;
    nn.stop().await;
    // Reads do not need the namenode.
    let read = crate::read_range(&dn, block(8, 1, 0), 100, 2000)
        .await
        .unwrap();
    assert_eq!(read, &data[100..2100]);
    // A namenode restarted at the same address does not know the datanode:
    // it registers again and sends a full block report.
    let nn = FakeNamenode::start_on(addr, "CID-a").await;
    let report = nn
        .wait_for("a full block report to the new namenode", |s| {
            s.block_reports.first().cloned()
        })
        .await;
    assert_eq!(report.datanode_uuid, dn.datanode_uuid());
    assert_eq!(report.replicas[0].block, Some(block(8, 1, 3000)));
    dn.shutdown().await.unwrap();
}

#[tokio::test]
async fn start_waits_for_a_namenode_that_is_not_up_yet() {
    init_tracing();
    // Until the namenode is up, whatever connects there is hung up on.
    let doorman = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = doorman.local_addr().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dn1");
    let mut config = cairn_datanode::DatanodeConfig {
        data_dirs: vec![dir.clone()],
        namenode: format!("cairn://{addr}"),
        ..Default::default()
    };
    config.heartbeat_interval = std::time::Duration::from_millis(50);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let starting = tokio::spawn(cairn_datanode::Datanode::start(config, listener));
    // Two failed handshakes: the datanode keeps trying.
    for _ in 0..2 {
        let (connection, _) = doorman.accept().await.unwrap();
        drop(connection);
    }
    drop(doorman);
    // Nothing is formatted before the handshake.
    assert!(!dir.join("VERSION").exists());
    let nn = FakeNamenode::start_on(addr, "CID-late").await;
    let dn = starting.await.unwrap().unwrap();
    assert!(
        std::fs::read_to_string(dir.join("VERSION"))
            .unwrap()
            .contains("clusterID=CID-late")
    );
    assert_eq!(nn.state.lock().registrations.len(), 1);
    dn.shutdown().await.unwrap();
}
