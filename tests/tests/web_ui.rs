//! The namenode's web UI in a real headless browser (Debian's chromium):
//! the overview shows 3 live datanodes, then 2 live and 1 dead after one is
//! SIGKILLed; the file browser lists a directory and shows a file's blocks
//! and locations; the download link gives the file's bytes. Screenshots are
//! kept under `target/test-artifacts/web_ui/` (or `$CAIRN_TEST_ARTIFACTS`).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cairn_client::CreateOptions;
use cairn_tests::http::{get, get_following};
use cairn_tests::{MiniCluster, random_bytes, sha256, superuser};

/// Where screenshots go: `$CAIRN_TEST_ARTIFACTS/web_ui`, else
/// `target/test-artifacts/web_ui` beside the test executable's profile dir.
fn artifacts() -> PathBuf {
    let dir = match std::env::var_os("CAIRN_TEST_ARTIFACTS") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().unwrap();
            // target/<profile>/deps/<test> -> target/test-artifacts
            exe.ancestors().nth(3).unwrap().join("test-artifacts")
        }
    };
    let dir = dir.join("web_ui");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless chromium with a fresh profile on `url`; `extra` says what
/// to do (`--dump-dom`, `--screenshot=FILE`).
fn chromium(extra: &str, url: &str) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--timeout=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(extra)
        .arg(url)
        .output();
    match output {
        Ok(output) => output,
        Err(e) => panic!(
            "cannot run chromium ({e}): install the test dependencies with scripts/install-test-deps"
        ),
    }
}

/// The page as the browser built it.
fn dom(url: &str) -> String {
    let out = chromium("--dump-dom", url);
    assert!(
        out.status.success(),
        "chromium --dump-dom {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screenshot(url: &str, name: &str) {
    let file = artifacts().join(name);
    let out = chromium(&format!("--screenshot={}", file.display()), url);
    assert!(
        out.status.success() && file.exists(),
        "chromium --screenshot {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls the page over plain HTTP until it contains `text` (the browser is
/// too slow to poll with), failing after a minute.
fn wait_for(url: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = get(url).unwrap().text();
        if page.contains(text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never showed {text:?}; last:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn href_of_download(dom: &str) -> String {
    let at = dom.find("id=\"download\"").expect("a download link");
    let rest = &dom[at..];
    let start = rest.find("href=\"").unwrap() + 6;
    let end = rest[start..].find('"').unwrap();
    rest[start..start + end].replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread")]
async fn overview_browser_and_download_in_a_real_browser() {
    let mut cluster = MiniCluster::start(Default::default()).await.unwrap();
    let base = format!("http://{}", cluster.namenode_http());

    let data = random_bytes(700_000, 11);
    let client = cluster.client(&superuser()).await.unwrap();
    client.mkdirs("/web/dir", None).await.unwrap();
    for (name, bytes) in [("hello.bin", &data[..]), ("<b>tag&.txt", b"x".as_slice())] {
        let mut writer = client
            .create(&format!("/web/dir/{name}"), CreateOptions::default())
            .await
            .unwrap();
        writer.write(bytes).await.unwrap();
        writer.close().await.unwrap();
    }

    // Overview: three live datanodes.
    wait_for(&format!("{base}/"), "Datanodes: 3 live, 0 dead");
    let overview = dom(&format!("{base}/"));
    assert!(overview.contains("Datanodes: 3 live, 0 dead"), "{overview}");
    assert!(overview.contains("class=\"bar\""), "{overview}");
    screenshot(&format!("{base}/"), "overview-3-live.png");

    // The file browser lists the directory (names escaped, not markup).
    let listing = dom(&format!("{base}/explorer?path=/web/dir"));
    assert!(listing.contains("hello.bin"), "{listing}");
    assert!(listing.contains("&lt;b&gt;tag&amp;.txt"), "{listing}");
    assert!(!listing.contains("<b>tag"), "{listing}");
    screenshot(
        &format!("{base}/explorer?path=/web/dir"),
        "browser-directory.png",
    );

    // A file shows its block, generation stamp and replica locations.
    let located = client
        .get_block_locations("/web/dir/hello.bin", 0, u64::MAX)
        .await
        .unwrap();
    let block = located.blocks[0].block.unwrap();
    let file_url = format!("{base}/explorer?path=/web/dir/hello.bin");
    let file_page = dom(&file_url);
    assert!(
        file_page.contains(&format!("blk_{}", block.id)),
        "{file_page}"
    );
    assert!(
        file_page.contains(&format!("<td>{}</td>", block.generation_stamp)),
        "{file_page}"
    );
    for location in &located.blocks[0].locations {
        let addr = format!("{}:{}", location.host, location.xfer_port);
        assert!(file_page.contains(&addr), "{addr} missing from {file_page}");
    }
    screenshot(&file_url, "browser-file.png");

    // The download link (WebHDFS OPEN, redirected to a datanode) gives the
    // file's bytes.
    let href = href_of_download(&file_page);
    let download = get_following(&format!("{base}{href}")).unwrap();
    assert_eq!(download.status, 200);
    assert_eq!(sha256(&download.body), sha256(&data));

    // One datanode dies: the overview says so.
    cluster.kill_datanode(2);
    wait_for(&format!("{base}/"), "Datanodes: 2 live, 1 dead");
    let overview = dom(&format!("{base}/"));
    assert!(overview.contains("Datanodes: 2 live, 1 dead"), "{overview}");
    screenshot(&format!("{base}/"), "overview-2-live-1-dead.png");
    let datanodes = dom(&format!("{base}/datanodes"));
    assert_eq!(
        datanodes
            .matches("<span class=\"dead\">dead</span>")
            .count(),
        1
    );
    screenshot(&format!("{base}/datanodes"), "datanodes.png");
    assert!(Path::new(&artifacts().join("overview-2-live-1-dead.png")).exists());
}
