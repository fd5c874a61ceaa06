//! WebHDFS with real clients: HdfsCLI (the Python `hdfs` package) and
//! fsspec's `webhdfs` file system upload, list, read, rename and delete
//! through the namenode's HTTP port and the datanodes' redirects; a missing
//! path gives their own FileNotFoundError. Plus the wire shapes that those
//! clients do not look at (RemoteException, FileStatuses).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use cairn_tests::http::{get, request};
use cairn_tests::{MiniCluster, superuser, text};

/// `$CAIRN_TEST_PYTHON`, the virtual environment's interpreter that
/// scripts/install-test-deps fills from scripts/test-requirements.txt.
fn python() -> PathBuf {
    let python = std::env::var_os("CAIRN_TEST_PYTHON").map(PathBuf::from);
    match python {
        Some(p) if p.exists() => p,
        _ => panic!(
            "CAIRN_TEST_PYTHON is not set to a Python with the test packages: \
             run scripts/install-test-deps and export \
             CAIRN_TEST_PYTHON=/var/tmp/cairn-test-venv/bin/python (scripts/test does both)"
        ),
    }
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("webhdfs")
        .join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn hdfscli_and_fsspec_round_trip() {
    let cluster = MiniCluster::start(Default::default()).await.unwrap();
    let http = cluster.namenode_http().to_string();
    let user = superuser();

    let out = Command::new(python())
        .arg(script("hdfscli_roundtrip.py"))
        .arg(format!("http://{http}"))
        .arg(&user)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "HdfsCLI failed: {:?}\n{}",
        text(&out),
        cluster.logs()
    );

    let (host, port) = http.split_once(':').unwrap();
    let out = Command::new(python())
        .arg(script("fsspec_roundtrip.py"))
        .args([host, port, &user])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fsspec failed: {:?}\n{}",
        text(&out),
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_remote_exceptions_and_listings_have_hadoops_shape() {
    let cluster = MiniCluster::start(cairn_tests::ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let base = format!("http://{}/webhdfs/v1", cluster.namenode_http());
    let me = superuser();

    let missing = get(&format!("{base}/nope?op=GETFILESTATUS&user.name={me}")).unwrap();
    assert_eq!(missing.status, 404);
    let json: serde_json::Value = serde_json::from_slice(&missing.body).unwrap();
    assert_eq!(
        json["RemoteException"]["exception"],
        "FileNotFoundException"
    );
    assert_eq!(
        json["RemoteException"]["javaClassName"],
        "java.io.FileNotFoundException"
    );

    let made = request(
        "PUT",
        &format!("{base}/d/e?op=MKDIRS&permission=750&user.name={me}"),
        b"",
    )
    .unwrap();
    assert_eq!(made.text(), r#"{"boolean":true}"#);
    let list = get(&format!("{base}/d?op=LISTSTATUS&user.name={me}")).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    let entry = &json["FileStatuses"]["FileStatus"][0];
    assert_eq!(entry["pathSuffix"], "e");
    assert_eq!(entry["type"], "DIRECTORY");
    assert_eq!(entry["permission"], "750");
    assert_eq!(entry["owner"], me.as_str());

    // Another user may not write into the superuser's 750 directory.
    let denied = request(
        "PUT",
        &format!("{base}/d/e/x?op=MKDIRS&user.name=mallory"),
        b"",
    )
    .unwrap();
    assert_eq!(denied.status, 403, "{}", denied.text());
    let json: serde_json::Value = serde_json::from_slice(&denied.body).unwrap();
    assert_eq!(
        json["RemoteException"]["exception"],
        "AccessControlException"
    );

    let not_empty = request(
        "DELETE",
        &format!("{base}/d?op=DELETE&recursive=false&user.name={me}"),
        b"",
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&not_empty.body).unwrap();
    assert_eq!(
        json["RemoteException"]["exception"],
        "PathIsNotEmptyDirectoryException",
        "{}",
        not_empty.text()
    );

    let bad_op = get(&format!("{base}/d?op=FROB")).unwrap();
    assert_eq!(bad_op.status, 400);
    let json: serde_json::Value = serde_json::from_slice(&bad_op.body).unwrap();
    assert_eq!(
        json["RemoteException"]["exception"],
        "IllegalArgumentException"
    );

    // CREATE is two steps: a redirect to a datanode, which takes the bytes.
    let step1 = request(
        "PUT",
        &format!("{base}/d/f.txt?op=CREATE&user.name={me}"),
        b"",
    )
    .unwrap();
    assert_eq!(step1.status, 307);
    let location = step1.header("location").unwrap().to_string();
    assert!(location.contains("namenoderpcaddress="), "{location}");
    let step2 = request("PUT", &location, b"two steps\n").unwrap();
    assert_eq!(step2.status, 201, "{}", step2.text());
    let again = request("PUT", &location, b"x").unwrap();
    let json: serde_json::Value = serde_json::from_slice(&again.body).unwrap();
    assert_eq!(
        json["RemoteException"]["exception"],
        "FileAlreadyExistsException"
    );
    let home = get(&format!("{base}/?op=GETHOMEDIRECTORY&user.name=alice")).unwrap();
    assert_eq!(home.text(), r#"{"Path":"/user/alice"}"#);
}
