//! `cairn server`, the README's first command: a whole cluster in one
//! process that stops cleanly on Ctrl-C and comes back with every file.

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_tests::{cairn_bin, superuser, text};

/// Starts `cairn server` and returns it with the namenode address it printed.
fn start_server(data_dir: &std::path::Path) -> (Child, String, Vec<String>) {
    let mut child = Command::new(cairn_bin())
        .args(["server", "--namenode-address", "127.0.0.1:0"])
        .args([
            "--http-address",
            "127.0.0.1:0",
            "--s3-address",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("CAIRN_CONFIG")
        .env_remove("CAIRN_S3_ACCESS_KEY")
        .env_remove("CAIRN_S3_SECRET_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Drain stdout on a thread for the server's whole life, so that what it
    // prints at shutdown never meets a closed pipe.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut namenode = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        if let Some(rest) = line.split("cairn://").nth(1) {
            namenode = rest.split_whitespace().next().map(str::to_string);
        }
        let done = line.starts_with("Press Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    let namenode = namenode.unwrap_or_else(|| panic!("no namenode address in {lines:?}"));
    // The S3 gateway starts too, with a development key kept in the data
    // directory (the same on every start).
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("try: aws --endpoint-url http://127.0.0.1:")),
        "{lines:?}"
    );
    let kept = std::fs::read_to_string(data_dir.join("s3-dev-key")).unwrap();
    let access_key = kept.lines().next().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("AWS_ACCESS_KEY_ID={access_key}"))),
        "{lines:?}"
    );
    (child, namenode, lines)
}

fn dfs(namenode: &str, args: &[&str]) -> std::process::Output {
    Command::new(cairn_bin())
        .args([
            "--user",
            &superuser(),
            "dfs",
            "-fs",
            &format!("cairn://{namenode}"),
        ])
        .args(args)
        .env_remove("CAIRN_CONFIG")
        .output()
        .unwrap()
}

/// Retries a command while the cluster is still leaving safe mode.
fn dfs_when_ready(namenode: &str, args: &[&str]) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = dfs(namenode, args);
        let (_, err) = text(&output);
        if output.status.success() || !err.contains("safe mode") || Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// GETs the status page whose address the banner printed.
fn status_page(banner: &str) -> String {
    use std::io::{Read, Write};
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no web UI address in {banner}"));
    // The datanodes register with the first heartbeat: poll until all are in.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut page = String::new();
        stream.read_to_string(&mut page).unwrap();
        if page.contains("3 live") || Instant::now() > deadline {
            return page;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn interrupt(mut child: Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "cairn server exited with {status} on Ctrl-C"
    );
}

#[test]
fn server_starts_stops_on_ctrl_c_and_comes_back_with_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("cairn-data");
    let (server, namenode, lines) = start_server(&data_dir);
    let banner = lines.join("\n");
    assert!(banner.contains("try: cairn dfs -ls /"), "{banner}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.trim_start().starts_with("datanode "))
            .count(),
        3,
        "{banner}"
    );

    let page = status_page(&banner);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Cairn namenode"), "{page}");
    assert!(page.contains("3 live, 0 dead"), "{page}");

    let local = dir.path().join("hello.txt");
    std::fs::write(&local, b"hello, cairn\n").unwrap();
    let put = dfs_when_ready(
        &namenode,
        &["-put", &local.display().to_string(), "/hello.txt"],
    );
    assert!(put.status.success(), "{:?}", text(&put));
    interrupt(server);

    let (server, namenode, _) = start_server(&data_dir);
    let cat = dfs_when_ready(&namenode, &["-cat", "/hello.txt"]);
    assert_eq!(text(&cat).0, "hello, cairn\n", "{:?}", text(&cat));
    interrupt(server);
}
