//! `cairn dfs` on a real cluster: the commands a script written for
//! `hdfs dfs` uses, with HDFS's output formats (golden lines).

// Test code: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use cairn_tests::{ClusterOptions, MiniCluster, random_bytes, superuser, text};

fn ok(cluster: &MiniCluster, args: &[&str]) -> String {
    let output = cluster.dfs(&superuser(), args);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{args:?}: {out}{err}");
    out
}

/// The `-ls` line of one entry, without its date (which depends on the clock).
fn ls_line_without_date(line: &str) -> String {
    // "-rw-r--r--   3 root supergroup        300 2026-11-21 23:52 /d/f300"
    let fields: Vec<&str> = line.split_whitespace().collect();
    format!(
        "{} {} {} {} {} {}",
        fields[0], fields[1], fields[2], fields[3], fields[4], fields[7]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdfs_dfs_commands_and_formats() {
    let cluster = MiniCluster::start(ClusterOptions::default()).await.unwrap();
    let root = superuser();
    let local = cluster.dir().join("local");
    std::fs::create_dir_all(local.join("tree/sub")).unwrap();
    let big = random_bytes(3 * 1024 * 1024 + 5, 9);
    std::fs::write(local.join("tree/big.bin"), &big).unwrap();
    std::fs::write(local.join("tree/sub/small.txt"), b"0123456789").unwrap();
    std::fs::write(local.join("a.txt"), b"first line\n").unwrap();
    let tree = local.join("tree").display().to_string();
    let a_txt = local.join("a.txt").display().to_string();

    ok(&cluster, &["-mkdir", "-p", "/w"]);
    ok(&cluster, &["-put", &tree, "/w/"]);
    ok(&cluster, &["-put", &a_txt, "/w/a.txt"]);

    // -ls: HDFS's columns, widths computed over the listing.
    let ls = ok(&cluster, &["-ls", "/w"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines[0], "Found 2 items");
    assert_eq!(
        ls_line_without_date(lines[1]),
        format!("-rw-r--r-- 3 {root} supergroup 11 /w/a.txt")
    );
    assert_eq!(
        ls_line_without_date(lines[2]),
        format!("drwxr-xr-x - {root} supergroup 0 /w/tree")
    );
    // The size column is right-aligned to the widest entry of the listing.
    let date = regex_like_date(lines[1]);
    assert!(date, "{}", lines[1]);

    // -du, -du -s -h, -count: HDFS's exact layout.
    let du = ok(&cluster, &["-du", "/w/tree"]);
    assert_eq!(
        du,
        "3145733  9437199  /w/tree/big.bin\n10       30       /w/tree/sub\n"
    );
    assert_eq!(
        ok(&cluster, &["-du", "-s", "-h", "/w"]),
        "3.0 M  9.0 M  /w\n"
    );
    assert_eq!(
        ok(&cluster, &["-count", "/w"]),
        "           3            3            3145754 /w\n"
    );
    assert_eq!(
        ok(&cluster, &["-stat", "%n %b %F %r %o %a %u:%g", "/w/a.txt"]),
        format!("a.txt 11 regular file 3 134217728 644 {root}:supergroup\n")
    );
    assert_eq!(ok(&cluster, &["-stat", "%F", "/w/tree"]), "directory\n");

    // Contents: -cat, -tail, -get of a directory, -appendToFile.
    assert_eq!(
        ok(&cluster, &["-cat", "/w/tree/sub/small.txt"]),
        "0123456789"
    );
    ok(&cluster, &["-appendToFile", &a_txt, "/w/a.txt"]);
    assert_eq!(
        ok(&cluster, &["-cat", "/w/a.txt"]),
        "first line\nfirst line\n"
    );
    let tail = cluster.dfs(&root, &["-tail", "/w/tree/big.bin"]);
    assert!(tail.status.success());
    assert!(
        tail.stdout == big[big.len() - 1024..],
        "-tail is the last KiB"
    );
    let back = cluster.dir().join("back");
    ok(&cluster, &["-get", "/w/tree", &back.display().to_string()]);
    assert!(std::fs::read(back.join("big.bin")).unwrap() == big);
    assert_eq!(
        std::fs::read(back.join("sub/small.txt")).unwrap(),
        b"0123456789"
    );

    // Globs, -cp, -mv, -rm -r.
    ok(&cluster, &["-cp", "/w/tree/sub/small.txt", "/w/copy.txt"]);
    ok(&cluster, &["-mv", "/w/copy.txt", "/w/moved.txt"]);
    let listed = ok(&cluster, &["-ls", "-C", "/w/*.txt"]);
    assert_eq!(listed, "/w/a.txt\n/w/moved.txt\n");
    ok(&cluster, &["-rm", "-r", "/w/tree"]);
    let test = cluster.dfs(&root, &["-test", "-e", "/w/tree"]);
    assert_eq!(test.status.code(), Some(1));

    // Metadata: -chmod, -chown, -touchz, -test.
    ok(&cluster, &["-chmod", "-R", "go-r", "/w"]);
    ok(&cluster, &["-chown", "alice:staff", "/w/moved.txt"]);
    assert_eq!(
        ok(&cluster, &["-stat", "%A %u %g", "/w/moved.txt"]),
        "rw------- alice staff\n"
    );
    ok(&cluster, &["-touchz", "/w/empty"]);
    assert_eq!(
        cluster
            .dfs(&root, &["-test", "-z", "/w/empty"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        cluster
            .dfs(&root, &["-test", "-d", "/w/empty"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        cluster
            .dfs(&root, &["-test", "-f", "/w/empty"])
            .status
            .code(),
        Some(0)
    );

    // Standard input.
    let mut put = cluster
        .command(&["--user", &root, "dfs", "-put", "-", "/w/stdin.txt"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    put.stdin.take().unwrap().write_all(b"from stdin").unwrap();
    assert!(put.wait().unwrap().success());
    assert_eq!(ok(&cluster, &["-cat", "/w/stdin.txt"]), "from stdin");
}

/// True when the line carries a `yyyy-MM-dd HH:mm` date, as HDFS prints.
fn regex_like_date(line: &str) -> bool {
    line.split_whitespace().any(|f| {
        f.len() == 10
            && f.chars().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            })
    }) && line.split_whitespace().any(|f| {
        f.len() == 5
            && f.chars()
                .enumerate()
                .all(|(i, c)| if i == 2 { c == ':' } else { c.is_ascii_digit() })
    })
}
