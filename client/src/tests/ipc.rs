//! The namenode calls multiplexed over one `Call` stream (`ipc.rs`):
//! answers reach their own callers, errors keep their kind, a stream that
//! dies fails its waiting calls and the next call opens a new one, and a
//! malformed message is an error rather than a panic.

use cairn_proto::ErrorKind;
use cairn_proto::pb;
use cairn_proto::pb::client_protocol_client::ClientProtocolClient;
use futures::StreamExt;

use super::fake_namenode::FakeNamenode;
use super::{client_for, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_calls_each_get_their_own_answer() {
    let nn = FakeNamenode::start().await;
    for i in 0..64u64 {
        nn.add_file(&format!("/f{i}"), 4096, vec![(i, i + 1, Vec::new())]);
    }
    let client = client_for(&nn, 16).await;
    let calls = (0..64u64).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            // Every fourth call fails, in among the others.
            if i % 4 == 0 {
                let err = client.get_file_info("/forbidden").await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::PermissionDenied);
            }
            let status = client.get_file_info(&format!("/f{i}")).await.unwrap();
            assert_eq!(status.unwrap().length, i + 1);
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap();
    }
    assert_eq!(nn.state.lock().streams_opened, 1);
}

#[tokio::test]
async fn users_share_the_stream_and_each_call_names_its_own() {
    let nn = FakeNamenode::start().await;
    let alice = client_for(&nn, 16).await;
    let bob = alice.with_user("bob").unwrap();
    alice.get_file_info("/a").await.unwrap();
    bob.get_file_info("/b").await.unwrap();
    alice.get_file_info("/c").await.unwrap();
    let state = nn.state.lock();
    assert_eq!(state.users, ["alice", "bob", "alice"]);
    assert_eq!(state.streams_opened, 1);
}

#[tokio::test]
async fn a_call_on_a_stream_that_dies_fails_and_the_next_call_reconnects() {
    let nn = FakeNamenode::start().await;
    let client = client_for(&nn, 16).await;
    client.get_file_info("/a").await.unwrap();

    let hung = tokio::spawn({
        let client = client.clone();
        async move { client.get_file_info("/hang").await }
    });
    eventually(|| nn.state.lock().hung_calls == 1).await;
    nn.break_streams();
    let err = hung.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains(&nn.addr.to_string()), "{err}");

    assert_eq!(client.get_file_info("/a").await.unwrap(), None);
    assert_eq!(nn.state.lock().streams_opened, 2);
    nn.release_hung();
}

#[tokio::test]
async fn an_answer_without_a_response_is_an_error() {
    let nn = FakeNamenode::start().await;
    let client = client_for(&nn, 16).await;
    nn.state.lock().blank_answers = true;
    let err = client.get_file_info("/a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    nn.state.lock().blank_answers = false;
    assert_eq!(client.get_file_info("/a").await.unwrap(), None);
}

/// The namenode's end (`cairn_proto::ipc::serve`), spoken to directly.
#[tokio::test]
async fn a_call_naming_no_operation_or_no_user_is_refused_not_a_panic() {
    let nn = FakeNamenode::start().await;
    let mut raw = ClientProtocolClient::connect(format!("http://{}", nn.addr))
        .await
        .unwrap();
    let calls = [
        // A client newer than the namenode: an operation it does not know
        // decodes as none at all.
        pb::CallRequest {
            call_id: 7,
            user: "alice".into(),
            request: None,
        },
        pb::CallRequest {
            call_id: 8,
            user: "not\nascii".into(),
            request: Some(pb::call_request::Request::GetFileInfo(Box::new(
                pb::GetFileInfoRequest {
                    path: "/a".into(),
                    follow_symlink: true,
                },
            ))),
        },
    ];
    let mut answers = raw
        .call(tokio_stream::iter(calls))
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(answer) = answers.next().await {
        let answer = answer.unwrap();
        seen.push((answer.call_id, answer.response));
    }
    seen.sort_by_key(|(id, _)| *id);
    assert_eq!(seen.len(), 2);
    let Some(pb::call_response::Response::Error(error)) = seen[0].1.clone() else {
        panic!("a call naming no operation was answered: {:?}", seen[0]);
    };
    let refused = cairn_proto::RpcError::from(tonic::Status::from(*error));
    assert_eq!(refused.kind, ErrorKind::InvalidArgument);
    // A name that cannot be metadata reaches the handler as no name at
    // all, as a unary call without one would (the fake records "<none>";
    // the namenode refuses it: its test `stream_calls_are_checked_as_unary_ones`).
    assert_eq!(seen[1].0, 8);
    assert_eq!(nn.state.lock().users, ["<none>"]);
}
