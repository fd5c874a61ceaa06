//! The edit log and checkpoints: what an answered RPC did survives a crash
//! (a Namenode dropped without shutdown), a torn tail is cut off, other
//! damage stops start-up with the file and offset.
// Test helpers outside #[test] functions unwrap as freely as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use cairn_namenode::{Namenode, NamenodeError};
use cairn_proto::pb;
use common::*;

fn current(dir: &Path) -> PathBuf {
    dir.join("name").join("current")
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(current(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .collect();
    out.sort();
    out
}

async fn try_start(dir: &Path) -> Result<Namenode, NamenodeError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Namenode::start(config(dir), listener).await
}

#[tokio::test]
async fn replay_after_a_crash_restores_everything_answered() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = vec![FakeDatanode::register(nn.local_addr(), "dn-1", 50010).await];
    mkdirs(&mut c, "/a/b", 0o750).await;
    let block = write_file(&mut c, &mut dns, "/a/b/file", 4242, 1).await;
    c.create(create_req("/a/open", "DFSClient_open"))
        .await
        .unwrap();
    c.rename(pb::RenameRequest {
        src: "/a/b".into(),
        dst: "/a/c".into(),
        overwrite: false,
    })
    .await
    .unwrap();
    c.set_x_attr(pb::SetXAttrRequest {
        path: "/a/c/file".into(),
        xattr: Some(pb::XAttr {
            name: "user.k".into(),
            value: b"v".to_vec().into(),
        }),
        flag: 0,
    })
    .await
    .unwrap();
    mkdirs(&mut c, "/gone", 0o755).await;
    c.delete(pb::DeleteRequest {
        path: "/gone".into(),
        recursive: true,
    })
    .await
    .unwrap();
    let before = stat(&mut c, "/a/c/file").await.unwrap();
    drop(c);
    drop(nn); // a crash: no shutdown, no checkpoint

    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let after = stat(&mut c, "/a/c/file").await.unwrap();
    assert_eq!(after.inode_id, before.inode_id);
    assert_eq!(after.length, 4242);
    assert_eq!(stat(&mut c, "/a/c").await.unwrap().permission, 0o750);
    assert!(stat(&mut c, "/a/b").await.is_none());
    assert!(stat(&mut c, "/gone").await.is_none());
    assert!(stat(&mut c, "/a/open").await.unwrap().under_construction);
    let xattrs = c
        .get_x_attrs(pb::GetXAttrsRequest {
            path: "/a/c/file".into(),
            names: vec![],
        })
        .await
        .unwrap()
        .into_inner()
        .xattrs;
    assert_eq!(xattrs.len(), 1);
    // Block metadata came back; locations wait for the block report.
    let locs = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/a/c/file".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(locs.blocks[0].block.unwrap(), block);
    assert!(locs.blocks[0].locations.is_empty());
    // Counters continue: new inodes and blocks get new ids.
    let st = c.create(create_req("/new", "DFSClient_2")).await;
    // The namenode is in safe mode until the block is reported.
    assert_eq!(err(st).kind, cairn_proto::ErrorKind::SafeMode);
    let mut dn = FakeDatanode::register(nn.local_addr(), "dn-1", 50010).await;
    dn.full_report(&[block]).await;
    let st = c
        .create(create_req("/new", "DFSClient_2"))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert!(st.inode_id > after.inode_id);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_torn_tail_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    mkdirs(&mut c, "/kept1", 0o755).await;
    mkdirs(&mut c, "/kept2", 0o755).await;
    drop(c);
    drop(nn);

    let segment = files(dir.path(), "edits_inprogress_").pop().unwrap();
    let good_len = std::fs::metadata(&segment).unwrap().len();
    // Half a record: a header announcing 100 bytes, then only 10.
    let mut data = std::fs::read(&segment).unwrap();
    data.extend_from_slice(&100u32.to_be_bytes());
    data.extend_from_slice(&0u32.to_be_bytes());
    data.extend_from_slice(&[7u8; 10]);
    std::fs::write(&segment, &data).unwrap();

    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    assert!(stat(&mut c, "/kept1").await.is_some());
    assert!(stat(&mut c, "/kept2").await.is_some());
    // The segment was cut back and finalized; a new one took over.
    let finalized = files(dir.path(), "edits_0");
    assert_eq!(
        std::fs::metadata(finalized.last().unwrap()).unwrap().len(),
        good_len
    );
    mkdirs(&mut c, "/after", 0o755).await;
    drop(c);
    drop(nn);

    // A last record whose checksum does not match, followed by zeros.
    let segment = files(dir.path(), "edits_inprogress_").pop().unwrap();
    let mut data = std::fs::read(&segment).unwrap();
    let n = data.len();
    data[n - 1] ^= 0xff;
    data.extend_from_slice(&[0u8; 64]);
    std::fs::write(&segment, &data).unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    assert!(stat(&mut c, "/kept2").await.is_some());
    assert!(
        stat(&mut c, "/after").await.is_none(),
        "the torn record is gone"
    );
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn corruption_inside_the_log_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    for i in 0..5 {
        mkdirs(&mut c, &format!("/d{i}"), 0o755).await;
    }
    drop(c);
    drop(nn);
    let segment = files(dir.path(), "edits_inprogress_").pop().unwrap();
    let mut data = std::fs::read(&segment).unwrap();
    // Damage the payload of the second record.
    let first_len = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
    let second = 8 + first_len;
    data[second + 8 + 2] ^= 0x55;
    std::fs::write(&segment, &data).unwrap();

    let err = try_start(dir.path()).await.err().expect("start must fail");
    let text = err.to_string();
    assert!(
        matches!(err, NamenodeError::CorruptEditLog { .. }),
        "{text}"
    );
    assert!(
        text.starts_with(&format!(
            "edit log {} is corrupt at offset {second}: checksum mismatch in a record of",
            segment.display()
        )),
        "{text}"
    );
    assert!(text.contains("(txid after 1)"), "{text}");
    assert!(text.contains("refusing to start"), "{text}");
    // Nothing was cut: the damage is still there for an operator to see.
    assert_eq!(std::fs::read(&segment).unwrap(), data);
}

#[tokio::test]
async fn checkpoint_then_more_edits_then_restart() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    for i in 0..10 {
        mkdirs(&mut c, &format!("/before/{i}"), 0o755).await;
    }
    drop(c);
    nn.shutdown().await.unwrap(); // checkpoints
    let images = files(dir.path(), "fsimage_");
    assert_eq!(
        images.len(),
        2,
        "fsimage_0 and the shutdown checkpoint: {images:?}"
    );

    // A checkpoint triggered by the transaction count, while serving.
    let nn = start(cairn_namenode::NamenodeConfig {
        checkpoint_txns: 5,
        ..config(dir.path())
    })
    .await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    for i in 0..8 {
        mkdirs(&mut c, &format!("/middle/{i}"), 0o755).await;
    }
    let newest = images.last().unwrap().clone();
    eventually("a checkpoint after 5 transactions", || {
        let newest = newest.clone();
        let dir = dir.path().to_path_buf();
        async move { (files(&dir, "fsimage_").last() != Some(&newest)).then_some(()) }
    })
    .await;
    for i in 0..3 {
        mkdirs(&mut c, &format!("/after/{i}"), 0o755).await;
    }
    drop(c);
    drop(nn); // crash after the checkpoint

    assert!(
        files(dir.path(), "fsimage_").len() <= 2,
        "older images are purged"
    );
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    assert_eq!(list(&mut c, "/before").await.len(), 10);
    assert_eq!(list(&mut c, "/middle").await.len(), 8);
    assert_eq!(list(&mut c, "/after").await.len(), 3);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn start_needs_a_formatted_dir_and_format_refuses_twice() {
    let dir = tempfile::tempdir().unwrap();
    let err = try_start(dir.path()).await.err().expect("not formatted");
    assert!(matches!(err, NamenodeError::NotFormatted(_)));
    assert!(err.to_string().contains("format"), "{err}");
    let name = dir.path().join("name");
    assert!(!cairn_namenode::is_formatted(&name));
    let id = cairn_namenode::format(&name, None, false).unwrap();
    assert!(id.starts_with("CID-"));
    assert!(cairn_namenode::is_formatted(&name));
    assert!(matches!(
        cairn_namenode::format(&name, None, false),
        Err(NamenodeError::AlreadyFormatted(_))
    ));
    let nn = try_start(dir.path()).await.unwrap();
    assert_eq!(nn.cluster_id(), id);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_checkpoint_alone_restores_files_links_xattrs_and_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = vec![FakeDatanode::register(nn.local_addr(), "dn-1", 50010).await];
    let block = write_file(&mut c, &mut dns, "/img/file", 99, 1).await;
    c.set_x_attr(pb::SetXAttrRequest {
        path: "/img/file".into(),
        xattr: Some(pb::XAttr {
            name: "user.etag".into(),
            value: b"\x00\x01binary".to_vec().into(),
        }),
        flag: 0,
    })
    .await
    .unwrap();
    c.create_symlink(pb::CreateSymlinkRequest {
        target: "/img/file".into(),
        link: "/img/link".into(),
        permission: 0o777,
        create_parent: false,
    })
    .await
    .unwrap();
    c.create(create_req("/img/open", "DFSClient_still_writing"))
        .await
        .unwrap();
    c.set_permission(pb::SetPermissionRequest {
        path: "/img".into(),
        permission: 0o1750,
    })
    .await
    .unwrap();
    let before = stat(&mut c, "/img/file").await.unwrap();
    drop(c);
    nn.shutdown().await.unwrap();
    // Only the checkpoint is left to load from.
    for segment in files(dir.path(), "edits_") {
        std::fs::remove_file(segment).unwrap();
    }

    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let after = stat(&mut c, "/img/file").await.unwrap();
    assert_eq!(after, before);
    assert_eq!(stat(&mut c, "/img").await.unwrap().permission, 0o1750);
    let xattrs = c
        .get_x_attrs(pb::GetXAttrsRequest {
            path: "/img/file".into(),
            names: vec!["user.etag".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .xattrs;
    assert_eq!(&xattrs[0].value[..], b"\x00\x01binary");
    let link = c
        .get_file_info(pb::GetFileInfoRequest {
            path: "/img/link".into(),
            follow_symlink: false,
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(link.symlink_target, "/img/file");
    // The open file is still open, and its lease holder still holds it.
    assert!(stat(&mut c, "/img/open").await.unwrap().under_construction);
    let mut dn = FakeDatanode::register(nn.local_addr(), "dn-1", 50010).await;
    dn.full_report(&[block]).await;
    let e = err(c.create(create_req("/img/open", "DFSClient_other")).await);
    assert_eq!(e.kind, cairn_proto::ErrorKind::LeaseConflict);
    nn.shutdown().await.unwrap();
}
