//! Namespace calls: identity, argument mapping, error kinds, paging.

use cairn_proto::ErrorKind;
use cairn_proto::pb::FileStatus;

use super::client_for;
use super::fake_namenode::FakeNamenode;
use crate::{ClientConfig, CreateOptions, DfsClient, SafeModeAction};

#[tokio::test]
async fn a_bad_namenode_address_is_refused_at_connect() {
    for address in ["", "no-port", "host:0", "ftp://host:1"] {
        let err = DfsClient::connect(ClientConfig::new(address, "alice"))
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{address}");
    }
    let err = DfsClient::connect(ClientConfig::new("127.0.0.1:9", "bad\nuser"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn every_call_names_the_user_and_errors_keep_their_kind() {
    let nn = FakeNamenode::start().await;
    let client = client_for(&nn, 16).await;
    assert!(client.client_name().starts_with("DFSClient_"));
    assert_eq!(client.config().user, "alice");

    assert_eq!(client.get_file_info("/nope").await.unwrap(), None);
    // A missing parent is "not there" too, as in HDFS.
    assert_eq!(
        client.get_file_info("/missing-parent/x").await.unwrap(),
        None
    );
    let err = client.get_file_info("/forbidden").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().starts_with("Permission denied: user=alice"));

    client
        .create("/f", CreateOptions::default())
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let status = client.get_file_link_info("/f").await.unwrap().unwrap();
    // 0o666 & !0o022
    assert_eq!(status.permission, 0o644);
    let err = client
        .create("/f", CreateOptions::default())
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    let overwrite = CreateOptions {
        overwrite: true,
        permission: Some(0o600),
        ..Default::default()
    };
    client
        .create("/f", overwrite)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    assert_eq!(
        client
            .get_file_info("/f")
            .await
            .unwrap()
            .unwrap()
            .permission,
        0o600
    );

    // The fake answers true only for 0o777 & !umask with create_parent.
    assert!(client.mkdirs("/a/b", None).await.unwrap());
    assert!(!client.mkdirs("/a/b", Some(0o700)).await.unwrap());

    assert_eq!(
        client.get_xattr("/f", "user.etag").await.unwrap(),
        Some(b"abc".to_vec())
    );
    assert_eq!(client.get_xattr("/f", "user.absent").await.unwrap(), None);

    let err = client
        .set_safe_mode(SafeModeAction::SafemodeLeave)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SafeMode);

    let err = client.rename("/f", "/g", false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);

    let defaults = client.server_defaults().await.unwrap();
    assert_eq!(defaults.block_size, 4096);

    let users = nn.state.lock().users.clone();
    assert!(users.len() > 10);
    assert!(users.iter().all(|u| u == "alice"), "{users:?}");
}

#[tokio::test]
async fn list_fetches_every_page() {
    let nn = FakeNamenode::start().await;
    let names = ["a", "b", "c", "d", "e"];
    nn.state.lock().listing = names
        .iter()
        .map(|n| FileStatus {
            name: n.to_string(),
            ..Default::default()
        })
        .collect();
    let client = client_for(&nn, 16).await;
    let (page, remaining) = client.list_page("/d", "").await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(remaining, 3);
    let all: Vec<String> = client
        .list("/d")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(all, names);
}
