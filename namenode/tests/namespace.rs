//! Namespace semantics over the real gRPC server: mkdir, create, listing,
//! rename, delete, permissions, xattrs, symlinks, concat.
// Test helpers outside #[test] functions unwrap as freely as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cairn_proto::ErrorKind;
use cairn_proto::pb;
use common::*;

#[tokio::test]
async fn mkdir_create_list_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;

    // mkdir -p, and an existing directory is fine.
    let created = c
        .mkdirs(pb::MkdirsRequest {
            path: "/a/b/c".into(),
            permission: 0o755,
            create_parent: true,
        })
        .await
        .unwrap()
        .into_inner()
        .created;
    assert!(created);
    let again = c
        .mkdirs(pb::MkdirsRequest {
            path: "/a/b/c".into(),
            permission: 0o755,
            create_parent: true,
        })
        .await
        .unwrap()
        .into_inner()
        .created;
    assert!(!again);
    // Without create_parent the parent must exist.
    let e = err(c
        .mkdirs(pb::MkdirsRequest {
            path: "/x/y".into(),
            permission: 0o755,
            create_parent: false,
        })
        .await);
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("/x"), "{}", e.message);

    // create, then create again without overwrite.
    let st = c
        .create(create_req("/a/f", "DFSClient_1"))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(st.file_type, pb::FileType::File as i32);
    assert!(st.under_construction);
    assert_eq!(st.replication, 3);
    assert_eq!(st.owner, SUPERUSER);
    assert_eq!(st.group, "supergroup", "group comes from the parent");
    let done = c
        .complete(pb::CompleteRequest {
            path: "/a/f".into(),
            client_name: "DFSClient_1".into(),
            last: None,
            file_id: st.inode_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.completed, "an empty file completes at once");
    let e = err(c.create(create_req("/a/f", "DFSClient_2")).await);
    assert_eq!(e.kind, ErrorKind::AlreadyExists);
    assert!(e.message.contains("/a/f"));
    // overwrite replaces it (a new inode).
    let mut over = create_req("/a/f", "DFSClient_2");
    over.overwrite = true;
    let st2 = c.create(over).await.unwrap().into_inner().status.unwrap();
    assert_ne!(st2.inode_id, st.inode_id);

    // A file in the way of mkdir or create.
    let e = err(c
        .mkdirs(pb::MkdirsRequest {
            path: "/a/f/sub".into(),
            permission: 0o755,
            create_parent: true,
        })
        .await);
    assert_eq!(e.kind, ErrorKind::NotADirectory);
    assert!(e.message.contains("/a/f"), "{}", e.message);
    assert_eq!(
        kind(c.create(create_req("/a/f/x", "DFSClient_3")).await),
        ErrorKind::NotADirectory
    );
    let e = err(c
        .mkdirs(pb::MkdirsRequest {
            path: "/a/f".into(),
            permission: 0o755,
            create_parent: true,
        })
        .await);
    assert_eq!(e.kind, ErrorKind::AlreadyExists);
    // Parent missing without create_parent.
    let mut no_parent = create_req("/nope/f", "DFSClient_3");
    no_parent.create_parent = false;
    assert_eq!(kind(c.create(no_parent).await), ErrorKind::NotFound);
    // Bad arguments.
    let mut bad = create_req("/a/g", "DFSClient_3");
    bad.replication = 1000;
    assert_eq!(kind(c.create(bad).await), ErrorKind::InvalidArgument);
    let mut bad = create_req("/a/g", "DFSClient_3");
    bad.block_size = 1000;
    assert_eq!(kind(c.create(bad).await), ErrorKind::InvalidArgument);
    // Bad paths.
    for path in ["a/b", "/a//b", "/a/../b", "/a/./b"] {
        let e = err(c
            .mkdirs(pb::MkdirsRequest {
                path: path.into(),
                permission: 0o755,
                create_parent: true,
            })
            .await);
        assert_eq!(e.kind, ErrorKind::InvalidPath, "{path}");
        assert!(e.message.contains(path), "{}", e.message);
    }

    // Listing: sorted by name bytes, paged, a file lists itself.
    for name in ["z", "B", "a", "é"] {
        mkdirs(&mut c, &format!("/l/{name}"), 0o755).await;
    }
    assert_eq!(list(&mut c, "/l").await, vec!["B", "a", "z", "é"]);
    assert_eq!(list(&mut c, "/a/f").await, vec!["f"]);
    let page = c
        .get_listing(pb::GetListingRequest {
            path: "/l".into(),
            start_after: "a".into(),
            need_location: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        page.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        vec!["z", "é"]
    );
    assert_eq!(
        kind(
            c.get_listing(pb::GetListingRequest {
                path: "/missing".into(),
                ..Default::default()
            })
            .await
        ),
        ErrorKind::NotFound
    );
    assert!(stat(&mut c, "/missing").await.is_none());

    // The root is inode 1, reachable by id; others too.
    let root = stat(&mut c, "/").await.unwrap();
    assert_eq!(root.inode_id, 1);
    assert_eq!(root.owner, SUPERUSER);
    assert_eq!(root.permission, 0o755);
    let a = stat(&mut c, "/a").await.unwrap();
    let by_id = stat(&mut c, &format!("/.reserved/.inodes/{}/f", a.inode_id))
        .await
        .unwrap();
    assert_eq!(by_id.inode_id, st2.inode_id);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn listing_is_paged_by_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(cairn_namenode::NamenodeConfig {
        listing_limit: 3,
        ..config(dir.path())
    })
    .await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    for i in 0..7 {
        mkdirs(&mut c, &format!("/p/d{i}"), 0o755).await;
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = c
            .get_listing(pb::GetListingRequest {
                path: "/p".into(),
                start_after: after.clone(),
                need_location: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.entries.len() <= 3);
        seen.extend(page.entries.iter().map(|e| e.name.clone()));
        if page.remaining_entries == 0 {
            break;
        }
        after = page.entries.last().unwrap().name.clone();
    }
    assert_eq!(seen.len(), 7);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn rename_and_delete_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    mkdirs(&mut c, "/src/inner", 0o755).await;
    mkdirs(&mut c, "/dst", 0o755).await;
    mkdirs(&mut c, "/empty", 0o755).await;
    c.create(create_req("/file1", "c")).await.unwrap();
    c.create(create_req("/file2", "c")).await.unwrap();

    let rename = |src: &str, dst: &str, overwrite: bool| pb::RenameRequest {
        src: src.into(),
        dst: dst.into(),
        overwrite,
    };
    // Plain move keeps the inode.
    let id = stat(&mut c, "/src").await.unwrap().inode_id;
    c.rename(rename("/src", "/dst/moved", false)).await.unwrap();
    assert_eq!(stat(&mut c, "/dst/moved").await.unwrap().inode_id, id);
    assert!(stat(&mut c, "/src").await.is_none());
    // Into its own subtree.
    let e = err(c.rename(rename("/dst", "/dst/moved/inner/x", false)).await);
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("under source /dst"), "{}", e.message);
    // Missing source, existing destination.
    assert_eq!(
        kind(c.rename(rename("/nope", "/x", false)).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(c.rename(rename("/file1", "/file2", false)).await),
        ErrorKind::AlreadyExists
    );
    // Overwrite: same kind only, empty directory only.
    assert_eq!(
        kind(c.rename(rename("/file1", "/empty", true)).await),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        kind(c.rename(rename("/empty", "/file2", true)).await),
        ErrorKind::AlreadyExists
    );
    let e = err(c.rename(rename("/empty", "/dst", true)).await);
    assert_eq!(e.kind, ErrorKind::DirectoryNotEmpty);
    let f1 = stat(&mut c, "/file1").await.unwrap().inode_id;
    c.rename(rename("/file1", "/file2", true)).await.unwrap();
    assert_eq!(stat(&mut c, "/file2").await.unwrap().inode_id, f1);
    // Destination parent missing.
    assert_eq!(
        kind(c.rename(rename("/file2", "/no/such/f", false)).await),
        ErrorKind::NotFound
    );

    // delete: missing → false; non-empty needs recursive.
    let del = |path: &str, recursive: bool| pb::DeleteRequest {
        path: path.into(),
        recursive,
    };
    assert!(
        !c.delete(del("/nothing", false))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    let e = err(c.delete(del("/dst", false)).await);
    assert_eq!(e.kind, ErrorKind::DirectoryNotEmpty);
    assert_eq!(e.message, "`/dst is non empty': Directory is not empty");
    assert!(
        c.delete(del("/dst", true))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    assert!(stat(&mut c, "/dst/moved/inner").await.is_none());
    assert!(
        c.delete(del("/empty", false))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn permissions_are_enforced_with_hdfs_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.groups
        .insert("alice".into(), vec!["alice".into(), "staff".into()]);
    let nn = start(cfg).await;
    let mut root = client(nn.local_addr(), SUPERUSER).await;
    let mut alice = client(nn.local_addr(), "alice").await;
    let mut bob = client(nn.local_addr(), "bob").await;

    mkdirs(&mut root, "/user", 0o755).await;
    root.set_owner(pb::SetOwnerRequest {
        path: "/user".into(),
        owner: String::new(),
        group: "supergroup".into(),
    })
    .await
    .unwrap();
    mkdirs(&mut root, "/user/alice", 0o755).await;
    root.set_owner(pb::SetOwnerRequest {
        path: "/user/alice".into(),
        owner: "alice".into(),
        group: String::new(),
    })
    .await
    .unwrap();

    // Alice creates in her home; the new file is hers with the dir's group.
    let st = alice
        .create(create_req("/user/alice/f", "DFSClient_a"))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(st.owner, "alice");
    assert_eq!(st.group, "supergroup");

    // Bob may not.
    let e = err(bob.create(create_req("/user/alice/g", "DFSClient_b")).await);
    assert_eq!(e.kind, ErrorKind::PermissionDenied);
    assert_eq!(
        e.message,
        "Permission denied: user=bob, access=WRITE, inode=\"/user/alice\":alice:supergroup:drwxr-xr-x"
    );
    assert_eq!(
        kind(
            bob.delete(pb::DeleteRequest {
                path: "/user/alice/f".into(),
                recursive: false
            })
            .await
        ),
        ErrorKind::PermissionDenied
    );
    // Only the owner chmods; only the superuser chowns; chgrp to own groups.
    let chmod = |path: &str, mode: u32| pb::SetPermissionRequest {
        path: path.into(),
        permission: mode,
    };
    assert_eq!(
        kind(bob.set_permission(chmod("/user/alice", 0o777)).await),
        ErrorKind::PermissionDenied
    );
    alice
        .set_permission(chmod("/user/alice", 0o700))
        .await
        .unwrap();
    let e = err(bob
        .get_listing(pb::GetListingRequest {
            path: "/user/alice".into(),
            ..Default::default()
        })
        .await);
    assert!(e.message.contains("access=READ_EXECUTE"), "{}", e.message);
    // Traverse needs EXECUTE on every ancestor.
    let e = err(bob
        .get_file_info(pb::GetFileInfoRequest {
            path: "/user/alice/f".into(),
            follow_symlink: true,
        })
        .await);
    assert!(e.message.contains("access=EXECUTE"), "{}", e.message);
    assert_eq!(
        kind(
            alice
                .set_owner(pb::SetOwnerRequest {
                    path: "/user/alice/f".into(),
                    owner: "bob".into(),
                    group: String::new(),
                })
                .await
        ),
        ErrorKind::PermissionDenied
    );
    alice
        .set_owner(pb::SetOwnerRequest {
            path: "/user/alice/f".into(),
            owner: String::new(),
            group: "staff".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        kind(
            alice
                .set_owner(pb::SetOwnerRequest {
                    path: "/user/alice/f".into(),
                    owner: String::new(),
                    group: "wheel".into(),
                })
                .await
        ),
        ErrorKind::PermissionDenied
    );

    // Sticky directory: bob cannot remove alice's file in /tmp.
    mkdirs(&mut root, "/tmp", 0o777).await;
    root.set_permission(chmod("/tmp", 0o1777)).await.unwrap();
    alice
        .create(create_req("/tmp/a", "DFSClient_a2"))
        .await
        .unwrap();
    let e = err(bob
        .delete(pb::DeleteRequest {
            path: "/tmp/a".into(),
            recursive: false,
        })
        .await);
    assert!(
        e.message.starts_with("Permission denied by sticky bit"),
        "{}",
        e.message
    );
    assert!(
        alice
            .delete(pb::DeleteRequest {
                path: "/tmp/a".into(),
                recursive: false
            })
            .await
            .unwrap()
            .into_inner()
            .deleted
    );

    // A call that names no user.
    let mut anon = anonymous(nn.local_addr()).await;
    let e = err(anon
        .get_file_info(pb::GetFileInfoRequest {
            path: "/".into(),
            follow_symlink: true,
        })
        .await);
    assert_eq!(e.kind, ErrorKind::PermissionDenied);
    assert_eq!(e.message, "no user named in the request");
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn xattrs_symlinks_times_and_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    c.create(create_req("/d/f", "c")).await.unwrap();
    let set = |name: &str, value: &[u8], flag: pb::XAttrSetFlag| pb::SetXAttrRequest {
        path: "/d/f".into(),
        xattr: Some(pb::XAttr {
            name: name.into(),
            value: value.to_vec().into(),
        }),
        flag: flag as i32,
    };
    c.set_x_attr(set("user.etag", b"abc", pb::XAttrSetFlag::XattrCreate))
        .await
        .unwrap();
    assert_eq!(
        kind(
            c.set_x_attr(set("user.etag", b"x", pb::XAttrSetFlag::XattrCreate))
                .await
        ),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        kind(
            c.set_x_attr(set("user.nope", b"x", pb::XAttrSetFlag::XattrReplace))
                .await
        ),
        ErrorKind::XAttrNotFound
    );
    assert_eq!(
        kind(
            c.set_x_attr(set("etag", b"x", pb::XAttrSetFlag::XattrCreateOrReplace))
                .await
        ),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(
            c.set_x_attr(set(
                "user.big",
                &vec![0u8; 16 * 1024 + 1],
                pb::XAttrSetFlag::XattrCreateOrReplace
            ))
            .await
        ),
        ErrorKind::InvalidArgument
    );
    c.set_x_attr(set("user.etag", b"def", pb::XAttrSetFlag::XattrReplace))
        .await
        .unwrap();
    let got = c
        .get_x_attrs(pb::GetXAttrsRequest {
            path: "/d/f".into(),
            names: vec!["user.etag".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .xattrs;
    assert_eq!(&got[0].value[..], b"def");
    let names = c
        .list_x_attrs(pb::ListXAttrsRequest {
            path: "/d/f".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .names;
    assert_eq!(names, vec!["user.etag"]);
    c.remove_x_attr(pb::RemoveXAttrRequest {
        path: "/d/f".into(),
        name: "user.etag".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        kind(
            c.remove_x_attr(pb::RemoveXAttrRequest {
                path: "/d/f".into(),
                name: "user.etag".into(),
            })
            .await
        ),
        ErrorKind::XAttrNotFound
    );

    // Symlinks: followed or not.
    c.create_symlink(pb::CreateSymlinkRequest {
        target: "/d/f".into(),
        link: "/links/l".into(),
        permission: 0o777,
        create_parent: true,
    })
    .await
    .unwrap();
    let link = c
        .get_file_info(pb::GetFileInfoRequest {
            path: "/links/l".into(),
            follow_symlink: false,
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(link.file_type, pb::FileType::Symlink as i32);
    assert_eq!(link.symlink_target, "/d/f");
    let target = stat(&mut c, "/links/l").await.unwrap();
    assert_eq!(target.file_type, pb::FileType::File as i32);

    // Times and replication.
    c.set_times(pb::SetTimesRequest {
        path: "/d/f".into(),
        modification_time_ms: 1234,
        access_time_ms: -1,
    })
    .await
    .unwrap();
    assert_eq!(
        stat(&mut c, "/d/f").await.unwrap().modification_time_ms,
        1234
    );
    let changed = c
        .set_replication(pb::SetReplicationRequest {
            path: "/d/f".into(),
            replication: 2,
        })
        .await
        .unwrap()
        .into_inner()
        .changed;
    assert!(changed);
    assert_eq!(stat(&mut c, "/d/f").await.unwrap().replication, 2);
    let on_dir = c
        .set_replication(pb::SetReplicationRequest {
            path: "/d".into(),
            replication: 2,
        })
        .await
        .unwrap()
        .into_inner()
        .changed;
    assert!(!on_dir);

    let summary = c
        .get_content_summary(pb::GetContentSummaryRequest { path: "/".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.directory_count, 3);
    assert_eq!(summary.file_count, 2);
    assert_eq!(summary.quota, -1);
    nn.shutdown().await.unwrap();
}

#[tokio::test]
async fn concat_moves_blocks_by_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut c = client(nn.local_addr(), SUPERUSER).await;
    let mut dns = vec![FakeDatanode::register(nn.local_addr(), "dn-1", 50010).await];
    let b1 = write_file(&mut c, &mut dns, "/t/target", 100, 1).await;
    let b2 = write_file(&mut c, &mut dns, "/t/part1", 200, 1).await;
    let b3 = write_file(&mut c, &mut dns, "/u/part2", 300, 1).await;
    c.concat(pb::ConcatRequest {
        target: "/t/target".into(),
        sources: vec!["/t/part1".into(), "/u/part2".into()],
    })
    .await
    .unwrap();
    assert!(stat(&mut c, "/t/part1").await.is_none());
    assert!(stat(&mut c, "/u/part2").await.is_none());
    let locs = c
        .get_block_locations(pb::GetBlockLocationsRequest {
            path: "/t/target".into(),
            offset: 0,
            length: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(locs.file_length, 600);
    let ids: Vec<u64> = locs.blocks.iter().map(|b| b.block.unwrap().id).collect();
    assert_eq!(ids, vec![b1.id, b2.id, b3.id]);
    assert_eq!(
        locs.blocks.iter().map(|b| b.offset).collect::<Vec<_>>(),
        vec![0, 100, 300]
    );
    // Empty or missing sources are refused.
    c.create(create_req("/t/empty", "c")).await.unwrap();
    assert_eq!(
        kind(
            c.concat(pb::ConcatRequest {
                target: "/t/target".into(),
                sources: vec!["/t/nothing".into()],
            })
            .await
        ),
        ErrorKind::NotFound
    );
    nn.shutdown().await.unwrap();
}
