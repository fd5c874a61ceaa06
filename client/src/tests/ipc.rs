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
use crate::ipc::Outgoing;

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
async fn a_call_unanswered_past_the_rpc_timeout_times_out_and_the_stream_lives_on() {
    let nn = FakeNamenode::start().await;
    let mut config = crate::ClientConfig::new(nn.addr.to_string(), "alice");
    config.rpc_timeout = std::time::Duration::from_secs(2);
    let client = crate::DfsClient::connect(config).await.unwrap();
    let err = client.get_file_info("/hang").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(err.to_string().contains(&nn.addr.to_string()), "{err}");
    // Only that call gave up: once the namenode gets past it (its late
    // answer dropped), the next call is answered on the same stream.
    nn.release_hung();
    assert_eq!(client.get_file_info("/a").await.unwrap(), None);
    assert_eq!(nn.state.lock().streams_opened, 1);
}

#[test]
fn the_watchdog_looks_often_enough_for_short_timeouts() {
    use crate::ipc::watchdog_period;
    use std::time::Duration;
    assert_eq!(
        watchdog_period(Duration::from_secs(60)),
        Duration::from_millis(7500)
    );
    assert_eq!(
        watchdog_period(Duration::from_micros(10)),
        Duration::from_millis(1)
    );
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
    let mut raw = raw_client(&nn).await;
    let calls = vec![
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
            request: Some(stat("/a")),
        },
    ];
    let mut seen = answers_to(&mut raw, vec![pb::CallBatch { calls }]).await;
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

/// A long run of reads sends its first answers while the rest are still
/// being answered, so the client's callers can make their next calls (on
/// this test's one thread the writer runs only when the run lets it).
#[tokio::test]
async fn a_long_run_of_reads_answers_in_chunks_before_it_ends() {
    let nn = FakeNamenode::start().await;
    let mut raw = raw_client(&nn).await;
    let calls = stats_by_alice(100, |id| format!("/missing{id}"));
    let batches = batches_of_answers(&mut raw, vec![pb::CallBatch { calls }]).await;
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    assert!(sizes.len() > 1, "one batch of calls, answered as {sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 100, "{sizes:?}");
    let ids: Vec<u64> = batches.iter().flatten().map(|a| a.call_id).collect();
    assert_eq!(ids, (0..100).collect::<Vec<_>>(), "answered in call order");
}

/// getFileInfo calls by alice, call `id` of `path(id)`, for ids from 0.
fn stats_by_alice(count: u64, path: impl Fn(u64) -> String) -> Vec<pb::CallRequest> {
    (0..count)
        .map(|id| pb::CallRequest {
            call_id: id,
            user: "alice".into(),
            request: Some(stat(&path(id))),
        })
        .collect()
}

/// A getFileInfo call of `path`.
fn stat(path: &str) -> pb::call_request::Request {
    pb::call_request::Request::GetFileInfo(Box::new(pb::GetFileInfoRequest {
        path: path.into(),
        follow_symlink: true,
    }))
}

/// The generated client of the fake's ClientProtocol, for calls made by
/// hand.
async fn raw_client(nn: &FakeNamenode) -> ClientProtocolClient<tonic::transport::Channel> {
    ClientProtocolClient::connect(format!("http://{}", nn.addr))
        .await
        .unwrap()
}

/// Sends `batches` on one new stream, closes it, and returns every answer
/// (call id, response) in the order they came.
async fn answers_to(
    raw: &mut ClientProtocolClient<tonic::transport::Channel>,
    batches: Vec<pb::CallBatch>,
) -> Vec<(u64, Option<pb::call_response::Response>)> {
    batches_of_answers(raw, batches)
        .await
        .into_iter()
        .flatten()
        .map(|answer| (answer.call_id, answer.response))
        .collect()
}

/// Sends `batches` on one new stream, closes it, and returns the answers
/// batch by batch as they came.
async fn batches_of_answers(
    raw: &mut ClientProtocolClient<tonic::transport::Channel>,
    batches: Vec<pb::CallBatch>,
) -> Vec<Vec<pb::CallResponse>> {
    let mut answers = raw
        .call(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(batch) = answers.next().await {
        seen.push(batch.unwrap().answers);
    }
    seen
}

#[tokio::test]
async fn many_calls_in_one_batch_each_get_their_own_answer() {
    let nn = FakeNamenode::start().await;
    for i in 0..50u64 {
        nn.add_file(&format!("/f{i}"), 4096, vec![(i, i + 1, Vec::new())]);
    }
    let mut raw = raw_client(&nn).await;
    // Found files, missing ones and refused ones, in among each other; a
    // batch this large is answered in several chunks.
    let calls = stats_by_alice(150, |id| match id % 3 {
        0 => format!("/f{}", id / 3),
        1 => format!("/missing{id}"),
        _ => "/forbidden".to_string(),
    });
    let seen = answers_to(&mut raw, vec![pb::CallBatch { calls }]).await;
    assert_eq!(seen.len(), 150);
    let mut ids: Vec<u64> = seen.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..150).collect::<Vec<_>>());
    for (id, response) in seen {
        match (id % 3, response) {
            (0, Some(pb::call_response::Response::GetFileInfo(found))) => {
                assert_eq!(found.status.unwrap().length, id / 3 + 1, "call {id}");
            }
            (1, Some(pb::call_response::Response::GetFileInfo(found))) => {
                assert!(found.status.is_none(), "call {id}");
            }
            (2, Some(pb::call_response::Response::Error(error))) => {
                let error = cairn_proto::RpcError::from(tonic::Status::from(*error));
                assert_eq!(error.kind, ErrorKind::PermissionDenied, "call {id}");
            }
            (_, other) => panic!("call {id} was answered {other:?}"),
        }
    }
    assert_eq!(nn.state.lock().batch_sizes, [150]);
}

#[tokio::test]
async fn a_lone_call_goes_at_once_in_a_batch_of_its_own() {
    let nn = FakeNamenode::start().await;
    let client = client_for(&nn, 16).await;
    // No other call comes to keep it company: it must not wait for one.
    assert_eq!(client.get_file_info("/a").await.unwrap(), None);
    assert_eq!(client.get_file_info("/b").await.unwrap(), None);
    assert_eq!(nn.state.lock().batch_sizes, [1, 1]);
}

#[tokio::test]
async fn calls_queued_together_go_as_one_batch() {
    let (queue, queued) = tokio::sync::mpsc::unbounded_channel();
    let mut outgoing = Outgoing::new(queued);
    for call_id in 0..300 {
        queue
            .send(pb::CallRequest {
                call_id,
                user: "alice".into(),
                request: Some(stat("/a")),
            })
            .unwrap();
    }
    // Capped per batch; the rest go in the next, in order.
    let first = outgoing.next().await.unwrap();
    let second = outgoing.next().await.unwrap();
    let ids: Vec<u64> = first
        .calls
        .iter()
        .chain(&second.calls)
        .map(|c| c.call_id)
        .collect();
    assert_eq!((first.calls.len(), second.calls.len()), (256, 44));
    assert_eq!(ids, (0..300).collect::<Vec<_>>());
    drop(queue);
    assert!(outgoing.next().await.is_none());
}

#[tokio::test]
async fn an_empty_batch_is_nothing_and_a_malformed_one_ends_only_its_stream() {
    let nn = FakeNamenode::start().await;
    let mut raw = raw_client(&nn).await;
    let one = pb::CallBatch {
        calls: vec![pb::CallRequest {
            call_id: 1,
            user: "alice".into(),
            request: Some(stat("/a")),
        }],
    };
    let seen = answers_to(&mut raw, vec![pb::CallBatch::default(), one]).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, 1);

    // A message that is not a `CallBatch` (field 1 a number, not calls).
    #[derive(Clone, PartialEq, prost::Message)]
    struct NotABatch {
        #[prost(uint64, tag = "1")]
        calls: u64,
    }
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", nn.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = cairn_proto::codec::PbCodec::<NotABatch, pb::AnswerBatch>::default();
    let mut answers = grpc
        .streaming(
            tonic::Request::new(tokio_stream::iter([NotABatch { calls: 5 }])),
            tonic::codegen::http::uri::PathAndQuery::from_static("/cairn.ClientProtocol/Call"),
            codec,
        )
        .await
        .unwrap()
        .into_inner();
    let ended = match answers.next().await {
        Some(Ok(batch)) => panic!("a malformed batch was answered: {batch:?}"),
        Some(Err(status)) => status,
        None => panic!("the stream ended without saying why"),
    };
    assert_eq!(ended.code(), tonic::Code::Internal, "{ended}");
    // The namenode serves the next client as before.
    let client = client_for(&nn, 16).await;
    assert_eq!(client.get_file_info("/a").await.unwrap(), None);
}
