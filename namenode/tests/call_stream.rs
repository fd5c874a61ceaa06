//! ClientProtocol's `Call` stream on the real namenode: many calls on one
//! stream, each answered by the unary rpc's handler with the caller's
//! identity and the same permission checks, mutations (which wait on the
//! edit log) and reads mixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use cairn_proto::pb::call_request::Request as Call;
use cairn_proto::pb::call_response::Response as Answer;
use cairn_proto::{ErrorKind, RpcError, pb};
use common::*;
use futures::StreamExt;

/// Sends `calls` (user, call) as one batch on one new stream, closes it,
/// and returns the answers by call id (1, 2, ... in the order of `calls`),
/// each of which must come exactly once, in whatever batches.
async fn on_one_stream(
    addr: std::net::SocketAddr,
    calls: Vec<(&str, Call)>,
) -> HashMap<u64, Result<Answer, RpcError>> {
    let mut raw = anonymous(addr).await;
    let requests: Vec<pb::CallRequest> = calls
        .into_iter()
        .zip(1..)
        .map(|((user, call), call_id)| pb::CallRequest {
            call_id,
            user: user.to_string(),
            request: Some(call),
        })
        .collect();
    let expected = requests.len();
    let batch = pb::CallBatch { calls: requests };
    let mut answers = raw
        .call(tokio_stream::iter([batch]))
        .await
        .unwrap()
        .into_inner();
    let mut by_id = HashMap::new();
    while let Some(batch) = answers.next().await {
        for answer in batch.unwrap().answers {
            let result = match answer.response.unwrap() {
                Answer::Error(error) => Err(RpcError::from(tonic::Status::from(*error))),
                other => Ok(other),
            };
            assert!(by_id.insert(answer.call_id, result).is_none());
        }
    }
    assert_eq!(by_id.len(), expected);
    by_id
}

fn mkdir(path: &str, mode: u32) -> Call {
    Call::Mkdirs(Box::new(pb::MkdirsRequest {
        path: path.into(),
        permission: mode,
        create_parent: true,
    }))
}

fn create(path: &str) -> Call {
    Call::Create(Box::new(create_req(path, "DFSClient_stream")))
}

fn stat(path: &str) -> Call {
    Call::GetFileInfo(Box::new(pb::GetFileInfoRequest {
        path: path.into(),
        follow_symlink: true,
    }))
}

#[tokio::test]
async fn stream_calls_are_checked_as_unary_ones() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let addr = nn.local_addr();
    let setup = on_one_stream(
        addr,
        vec![
            (SUPERUSER, mkdir("/private", 0o700)),
            (SUPERUSER, mkdir("/shared", 0o777)),
        ],
    )
    .await;
    assert!(setup.values().all(Result::is_ok));

    let answers = on_one_stream(
        addr,
        vec![
            ("alice", create("/private/f")),
            ("", create("/shared/nobody")),
            ("alice", create("/shared/f")),
            ("bob", stat("/private/f")),
        ],
    )
    .await;
    let denied = answers[&1].as_ref().unwrap_err();
    assert_eq!(denied.kind, ErrorKind::PermissionDenied);
    assert!(denied.message.contains("user=alice"), "{denied}");
    // The same call as a unary rpc fails the same way.
    let mut alice = client(addr, "alice").await;
    let unary = err(alice
        .create(create_req("/private/f", "DFSClient_unary"))
        .await);
    assert_eq!(unary.message, denied.message);

    let nobody = answers[&2].as_ref().unwrap_err();
    assert_eq!(nobody.kind, ErrorKind::PermissionDenied);
    let Ok(Answer::Create(created)) = &answers[&3] else {
        panic!("alice's create in /shared: {:?}", answers[&3]);
    };
    assert_eq!(created.status.as_ref().unwrap().owner, "alice");
    assert_eq!(
        answers[&4].as_ref().unwrap_err().kind,
        ErrorKind::PermissionDenied
    );
}

#[tokio::test]
async fn mutations_and_reads_interleave_on_one_stream() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    // Calls on one stream run concurrently, as on many unary connections:
    // the parent first, on a stream of its own.
    let made = on_one_stream(nn.local_addr(), vec![(SUPERUSER, mkdir("/d", 0o755))]).await;
    assert!(made[&1].is_ok());
    let mut calls = Vec::new();
    for i in 0..100 {
        calls.push((SUPERUSER, mkdir(&format!("/d/m{i}"), 0o755)));
        calls.push((SUPERUSER, stat("/d")));
    }
    let answers = on_one_stream(nn.local_addr(), calls).await;
    for (id, answer) in &answers {
        match answer.as_ref().unwrap() {
            Answer::Mkdirs(made) => assert!(made.created, "call {id}"),
            Answer::GetFileInfo(found) => {
                assert_eq!(
                    found.status.as_ref().unwrap().file_type,
                    pb::FileType::Directory as i32
                )
            }
            other => panic!("call {id} got {other:?}"),
        }
    }
    let mut root = client(nn.local_addr(), SUPERUSER).await;
    let listing = root
        .get_listing(pb::GetListingRequest {
            path: "/d".into(),
            start_after: String::new(),
            need_location: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listing.entries.len() + listing.remaining_entries as usize,
        100
    );
}

#[tokio::test]
async fn an_open_stream_ends_cleanly_when_the_namenode_stops() {
    let dir = tempfile::tempdir().unwrap();
    let nn = start(config(dir.path())).await;
    let mut raw = anonymous(nn.local_addr()).await;
    let (calls, outgoing) = tokio::sync::mpsc::unbounded_channel();
    let mut answers = raw
        .call(tokio_stream::wrappers::UnboundedReceiverStream::new(
            outgoing,
        ))
        .await
        .unwrap()
        .into_inner();
    calls
        .send(pb::CallBatch {
            calls: vec![pb::CallRequest {
                call_id: 1,
                user: SUPERUSER.into(),
                request: Some(stat("/")),
            }],
        })
        .unwrap();
    let mut batch = answers.next().await.unwrap().unwrap();
    assert_eq!(batch.answers.len(), 1);
    let answer = batch.answers.remove(0);
    assert_eq!(answer.call_id, 1);
    assert!(matches!(answer.response, Some(Answer::GetFileInfo(_))));

    // The client keeps its side open; the namenode's graceful stop ends
    // the stream rather than wait for it.
    nn.shutdown().await.unwrap();
    assert!(answers.next().await.is_none());
    drop(calls);
}
