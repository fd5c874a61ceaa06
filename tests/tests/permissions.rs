//! POSIX permissions checked by the namenode, with HDFS's message naming the
//! user, the access and the inode.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use cairn_tests::{ClusterOptions, MiniCluster, superuser, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cannot_create_in_another_users_directory() {
    let cluster = MiniCluster::start(ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let root = superuser();
    for args in [
        vec!["-mkdir", "-p", "/user/alice"],
        vec!["-chown", "alice", "/user/alice"],
        vec!["-chmod", "755", "/user/alice"],
    ] {
        let out = cluster.dfs(&root, &args);
        assert!(out.status.success(), "{args:?}: {:?}", text(&out));
    }

    let denied = cluster.dfs("bob", &["-mkdir", "/user/alice/x"]);
    let (_, err) = text(&denied);
    assert_eq!(denied.status.code(), Some(1), "{err}");
    assert!(err.starts_with("mkdir: Permission denied: "), "{err}");
    assert!(err.contains("user=bob"), "{err}");
    assert!(err.contains("access=WRITE"), "{err}");
    assert!(err.contains("inode=\"/user/alice\":alice:"), "{err}");
    assert!(err.contains("drwxr-xr-x"), "{err}");
    let ls = cluster.dfs(&root, &["-test", "-e", "/user/alice/x"]);
    assert_eq!(ls.status.code(), Some(1), "nothing was created");

    let put = cluster.dfs("bob", &["-touchz", "/user/alice/f"]);
    assert_eq!(put.status.code(), Some(1));
    assert!(text(&put).1.contains("user=bob"), "{:?}", text(&put));

    // The owner and the superuser can.
    let alice = cluster.dfs("alice", &["-mkdir", "/user/alice/x"]);
    assert!(alice.status.success(), "{:?}", text(&alice));
    let admin = cluster.dfs(&root, &["-mkdir", "/user/alice/y"]);
    assert!(admin.status.success(), "{:?}", text(&admin));
    let ls = cluster.dfs(&root, &["-ls", "/user/alice"]);
    let (out, _) = text(&ls);
    assert!(
        out.contains(" alice ") && out.contains("/user/alice/x"),
        "{out}"
    );
    assert!(
        out.contains(&format!(" {root} ")) && out.contains("/user/alice/y"),
        "{out}"
    );
}
