//! Every command end to end over the in-memory namespace: the exact
//! stdout, stderr and exit code a script would see.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use super::Shell;
use super::fake_fs::FakeFs;

/// A `Write` whose bytes the test reads afterwards.
#[derive(Clone, Default)]
struct Captured(Rc<RefCell<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

struct Outcome {
    code: i32,
    out: String,
    err: String,
}

async fn dfs_with_stdin(fs: &FakeFs, args: &[&str], stdin: &'static [u8]) -> Outcome {
    let out = Captured::default();
    let err = Captured::default();
    let mut shell = Shell::new(
        fs.clone(),
        Box::new(out.clone()),
        Box::new(err.clone()),
        Box::new(stdin),
        "/user/alice".to_string(),
        "cairn://nn:8020".to_string(),
    );
    let code = shell
        .run(args.iter().map(|a| a.to_string()).collect())
        .await;
    Outcome {
        code,
        out: out.text(),
        err: err.text(),
    }
}

async fn dfs(fs: &FakeFs, args: &[&str]) -> Outcome {
    dfs_with_stdin(fs, args, b"").await
}

/// Runs a command that must succeed quietly on stderr.
async fn ok(fs: &FakeFs, args: &[&str]) -> String {
    let outcome = dfs(fs, args).await;
    assert_eq!(outcome.code, 0, "{args:?}: {}{}", outcome.out, outcome.err);
    assert_eq!(outcome.err, "", "{args:?}");
    outcome.out
}

/// Runs a command that must fail with exactly this stderr.
async fn fails(fs: &FakeFs, args: &[&str], stderr: &str) -> String {
    let outcome = dfs(fs, args).await;
    assert_eq!(outcome.code, 1, "{args:?}: {}{}", outcome.out, outcome.err);
    assert_eq!(outcome.err, stderr, "{args:?}");
    outcome.out
}

fn tree() -> FakeFs {
    let fs = FakeFs::new("alice");
    fs.put("/d/a.txt", b"hello");
    fs.put("/d/b.txt", b"");
    fs.mkdir_p("/d/sub/deeper");
    fs.put("/d/sub/c.bin", &[7u8; 3000]);
    fs.put("/f", b"just a file");
    fs
}

#[tokio::test]
async fn ls_lists_a_directory_with_its_header() {
    let fs = tree();
    let out = ok(&fs, &["-ls", "/d"]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Found 3 items");
    assert!(
        lines[1].starts_with("-rw-r--r--   3 alice supergroup          5 "),
        "{out}"
    );
    assert!(lines[1].ends_with(" /d/a.txt"));
    assert!(lines[3].starts_with("drwxr-xr-x   - alice supergroup          0 "));
    assert!(lines[3].ends_with(" /d/sub"));
}

#[tokio::test]
async fn ls_recursive_has_no_headers_and_descends_in_place() {
    let fs = tree();
    let out = ok(&fs, &["-ls", "-R", "/d"]).await;
    let names: Vec<&str> = out.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "/d/a.txt",
            "/d/b.txt",
            "/d/sub",
            "/d/sub/c.bin",
            "/d/sub/deeper"
        ]
    );
    assert!(!out.contains("Found"));
}

#[tokio::test]
async fn ls_variants() {
    let fs = tree();
    let out = ok(&fs, &["-ls", "-d", "/d"]).await;
    assert_eq!(out.lines().count(), 1);
    assert!(out.starts_with("drwxr-xr-x   - alice supergroup          0 "));
    assert_eq!(
        ok(&fs, &["-ls", "-C", "/d"]).await,
        "/d/a.txt\n/d/b.txt\n/d/sub\n"
    );
    assert_eq!(
        ok(&fs, &["-ls", "-C", "-S", "/d"]).await,
        "/d/a.txt\n/d/b.txt\n/d/sub\n"
    );
    assert_eq!(
        ok(&fs, &["-ls", "-C", "-r", "/d"]).await,
        "/d/sub\n/d/b.txt\n/d/a.txt\n"
    );
    // A file lists as itself, without a header.
    let out = ok(&fs, &["-ls", "/f"]).await;
    assert!(
        out.starts_with("-rw-r--r--   3 alice supergroup         11 ") && out.ends_with(" /f\n")
    );
    // Relative paths are under /user/alice and print relative.
    fs.put("/user/alice/mine", b"x");
    let out = ok(&fs, &["-ls", "-C"]).await;
    assert_eq!(out, "mine\n");
    let out = ok(&fs, &["-ls", "-C", "cairn://nn:8020/d/a.txt"]).await;
    assert_eq!(out, "cairn://nn:8020/d/a.txt\n");
}

#[tokio::test]
async fn ls_globs_and_missing_paths() {
    let fs = tree();
    assert_eq!(
        ok(&fs, &["-ls", "-C", "/d/*.txt"]).await,
        "/d/a.txt\n/d/b.txt\n"
    );
    assert_eq!(
        ok(&fs, &["-ls", "-C", "-d", "/d/{a,b}.txt", "/?"]).await,
        "/d/a.txt\n/d/b.txt\n/d\n/f\n"
    );
    assert_eq!(
        ok(&fs, &["-ls", "-C", "-d", "/d/s*/d*"]).await,
        "/d/sub/deeper\n"
    );
    fails(
        &fs,
        &["-ls", "/nope"],
        "ls: `/nope': No such file or directory\n",
    )
    .await;
    let out = fails(
        &fs,
        &["-ls", "-C", "/logs/2024-*", "/f"],
        "ls: `/logs/2024-*': No such file or directory\n",
    )
    .await;
    assert_eq!(out, "/f\n", "other paths are still listed");
    let outcome = dfs(&fs, &["-ls", "cairn://other:1/"]).await;
    assert_eq!(outcome.code, 1);
    assert_eq!(
        outcome.err,
        "ls: Wrong FS: cairn://other:1/, expected: cairn://nn:8020\n"
    );
}

#[tokio::test]
async fn usage_errors_print_the_usage_and_exit_1() {
    let fs = tree();
    let outcome = dfs(&fs, &["-ls", "-x", "/"]).await;
    assert_eq!(outcome.code, 1);
    assert!(
        outcome
            .err
            .starts_with("-ls: Illegal option -x\nUsage: cairn dfs [generic options]\n")
    );
    assert!(outcome.err.ends_with(
        "Usage: cairn dfs [generic options] -ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...]\n"
    ));
    let outcome = dfs(&fs, &["-mkdir"]).await;
    assert!(
        outcome
            .err
            .starts_with("-mkdir: Not enough arguments: expected 1 but got 0\n")
    );
    let outcome = dfs(&fs, &["-nope"]).await;
    assert_eq!(outcome.code, 1);
    assert!(
        outcome
            .err
            .starts_with("-nope: Unknown command\nUsage: cairn dfs")
    );
    let outcome = dfs(&fs, &["ls", "/"]).await;
    assert!(
        outcome.err.starts_with(
            "ls: Unknown command\nDid you mean -ls?  This command begins with a dash.\n"
        )
    );
    let outcome = dfs(&fs, &[]).await;
    assert_eq!(outcome.code, 1);
    assert!(
        outcome
            .err
            .contains("\t[-put [-f] [-p] [-l] [-d] <localsrc> ... <dst>]\n")
    );
}

#[tokio::test]
async fn help_and_usage() {
    let fs = FakeFs::new("alice");
    let out = ok(&fs, &["-help", "ls"]).await;
    assert!(out.starts_with("-ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...] :\n"));
    assert_eq!(
        ok(&fs, &["-usage", "mkdir"]).await,
        "Usage: cairn dfs [generic options] -mkdir [-p] <path> ...\n"
    );
    let out = ok(&fs, &["-rm", "--help"]).await;
    assert!(out.starts_with("-rm [-f] [-r|-R] [-skipTrash] <src> ... :\n"));
    let out = ok(&fs, &["--help"]).await;
    assert!(out.contains("-setrep [-R] [-w] <rep> <path> ... :\n"));
    let outcome = dfs(&fs, &["-help", "nope"]).await;
    assert_eq!(outcome.code, 1);
    assert!(outcome.err.starts_with("-help: `nope': Unknown command\n"));
}

#[tokio::test]
async fn mkdir_messages() {
    let fs = tree();
    let before = fs.paths();
    fails(&fs, &["-mkdir", "/d"], "mkdir: `/d': File exists\n").await;
    fails(&fs, &["-mkdir", "/f"], "mkdir: `/f': Is not a directory\n").await;
    fails(
        &fs,
        &["-mkdir", "/x/y"],
        "mkdir: `/x/y': No such file or directory\n",
    )
    .await;
    fails(
        &fs,
        &["-mkdir", "-p", "/f/x"],
        "mkdir: Parent path is not a directory: /f\n",
    )
    .await;
    assert_eq!(before, fs.paths(), "failed mkdirs changed nothing");
    ok(&fs, &["-mkdir", "-p", "/d", "/x/y/z"]).await;
    ok(&fs, &["-mkdir", "/x/w", "rel"]).await;
    assert!(fs.status("/x/y/z").is_some() && fs.status("/x/w").is_some());
    assert!(fs.status("/user/alice/rel").is_some());
}

#[tokio::test]
async fn permission_denied_prints_the_namenode_message() {
    let fs = tree();
    fs.mkdir_p("/user/bob");
    fs.deny_writes("/user/bob");
    let outcome = dfs(&fs, &["-mkdir", "/user/bob/x"]).await;
    assert_eq!(outcome.code, 1);
    assert_eq!(
        outcome.err,
        "mkdir: Permission denied: user=alice, access=WRITE, inode=\"/user/bob\":hdfs:supergroup:drwxr-xr-x\n"
    );
    let outcome = dfs(&fs, &["-chmod", "700", "/user/bob"]).await;
    assert!(
        outcome.err.starts_with(
            "chmod: changing permissions of '/user/bob': Permission denied: user=alice"
        )
    );
}

#[tokio::test]
async fn put_writes_through_a_copying_file() {
    let fs = tree();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.txt");
    std::fs::write(&local, b"some local bytes").unwrap();
    let local_arg = local.display().to_string();
    ok(&fs, &["-put", &local_arg, "/d/up.txt"]).await;
    assert_eq!(fs.data("/d/up.txt").unwrap(), b"some local bytes");
    assert!(fs.status("/d/up.txt._COPYING_").is_none());
    // Into a directory keeps the name.
    ok(&fs, &["-put", &local_arg, "/d/sub"]).await;
    assert_eq!(fs.data("/d/sub/local.txt").unwrap(), b"some local bytes");
    // An existing file needs -f.
    fails(&fs, &["-put", &local_arg, "/f"], "put: `/f': File exists\n").await;
    assert_eq!(fs.data("/f").unwrap(), b"just a file");
    ok(&fs, &["-copyFromLocal", "-f", &local_arg, "/f"]).await;
    assert_eq!(fs.data("/f").unwrap(), b"some local bytes");
    // A missing source, a missing destination parent.
    let missing = dir.path().join("nope").display().to_string();
    fails(
        &fs,
        &["-put", &missing, "/d/n"],
        &format!("put: `{missing}': No such file or directory\n"),
    )
    .await;
    fails(
        &fs,
        &["-put", &local_arg, "/no/such/x"],
        "put: `/no/such/x': No such file or directory\n",
    )
    .await;
}

#[tokio::test]
async fn put_below_a_file_fails_and_leaves_nothing() {
    let fs = tree();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("l");
    std::fs::write(&local, b"x").unwrap();
    let before = fs.paths();
    let outcome = dfs(&fs, &["-put", &local.display().to_string(), "/f/x"]).await;
    assert_eq!(outcome.code, 1);
    assert_eq!(outcome.err, "put: Parent path is not a directory: /f\n");
    assert_eq!(before, fs.paths());
}

#[tokio::test]
async fn put_directories_stdin_and_preserve() {
    let fs = tree();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tree");
    std::fs::create_dir_all(src.join("inner")).unwrap();
    std::fs::write(src.join("one"), b"1").unwrap();
    std::fs::write(src.join("inner/two"), b"22").unwrap();
    ok(&fs, &["-put", &src.display().to_string(), "/up"]).await;
    assert_eq!(fs.data("/up/one").unwrap(), b"1");
    assert_eq!(fs.data("/up/inner/two").unwrap(), b"22");

    let outcome = dfs_with_stdin(&fs, &["-put", "-", "/stdin.txt"], b"from stdin").await;
    assert_eq!(outcome.code, 0, "{}", outcome.err);
    assert_eq!(fs.data("/stdin.txt").unwrap(), b"from stdin");

    let file = src.join("one");
    let times = std::fs::FileTimes::new()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000));
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_times(times)
        .unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    ok(&fs, &["-put", "-p", &file.display().to_string(), "/kept"]).await;
    let status = fs.status("/kept").unwrap();
    assert_eq!(status.modification_time_ms, 1_600_000_000_000);
    assert_eq!(status.permission, 0o600);
}

#[tokio::test]
async fn get_copies_files_and_trees_to_local() {
    let fs = tree();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("a.txt");
    ok(&fs, &["-get", "/d/a.txt", &target.display().to_string()]).await;
    assert_eq!(std::fs::read(&target).unwrap(), b"hello");
    let again = target.display().to_string();
    fails(
        &fs,
        &["-get", "/d/a.txt", &again],
        &format!("get: `{again}': File exists\n"),
    )
    .await;
    ok(&fs, &["-copyToLocal", "-f", "/f", &again]).await;
    assert_eq!(std::fs::read(&target).unwrap(), b"just a file");
    let local_dir = dir.path().join("copy");
    ok(&fs, &["-get", "/d", &local_dir.display().to_string()]).await;
    assert_eq!(
        std::fs::read(local_dir.join("sub/c.bin")).unwrap(),
        vec![7u8; 3000]
    );
    assert!(local_dir.join("sub/deeper").is_dir());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with("._COPYING_"))
        .collect();
    assert!(leftovers.is_empty());
    // Several sources need a directory.
    let file_dst = target.display().to_string();
    fails(
        &fs,
        &["-get", "/f", "/d/a.txt", &file_dst],
        &format!("get: `{file_dst}': Is not a directory\n"),
    )
    .await;
}

#[tokio::test]
async fn cat_head_and_tail() {
    let fs = tree();
    assert_eq!(
        ok(&fs, &["-cat", "/d/a.txt", "/f"]).await,
        "hellojust a file"
    );
    assert_eq!(ok(&fs, &["-cat", "/d/*.txt"]).await, "hello");
    fails(&fs, &["-cat", "/d"], "cat: `/d': Is a directory\n").await;
    let long: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
    fs.put("/long", &long);
    let tail = ok(&fs, &["-tail", "/long"]).await;
    assert_eq!(tail.as_bytes(), &long[3000 - 1024..]);
    let head = ok(&fs, &["-head", "/long"]).await;
    assert_eq!(head.as_bytes(), &long[..1024]);
    assert_eq!(ok(&fs, &["-tail", "/d/a.txt"]).await, "hello");
}

#[tokio::test]
async fn rm_and_rmdir() {
    let fs = tree();
    let before = fs.paths();
    fails(&fs, &["-rm", "/d"], "rm: `/d': Is a directory\n").await;
    fails(
        &fs,
        &["-rmdir", "/d"],
        "rmdir: `/d': Directory is not empty\n",
    )
    .await;
    fails(&fs, &["-rmdir", "/f"], "rmdir: `/f': Is not a directory\n").await;
    fails(
        &fs,
        &["-rm", "/nope"],
        "rm: `/nope': No such file or directory\n",
    )
    .await;
    assert_eq!(before, fs.paths());
    assert_eq!(ok(&fs, &["-rm", "-f", "/nope", "/nope*"]).await, "");
    assert_eq!(ok(&fs, &["-rm", "/d/a.txt"]).await, "Deleted /d/a.txt\n");
    assert_eq!(
        ok(&fs, &["-rm", "-r", "-skipTrash", "/d/sub"]).await,
        "Deleted /d/sub\n"
    );
    ok(&fs, &["-rmdir", "--ignore-fail-on-non-empty", "/d"]).await;
    ok(&fs, &["-rm", "/d/b.txt"]).await;
    ok(&fs, &["-rmdir", "/d"]).await;
    assert!(fs.status("/d").is_none());
}

#[tokio::test]
async fn mv_renames_and_refuses_its_own_subtree() {
    let fs = tree();
    let before = fs.paths();
    let outcome = dfs(&fs, &["-mv", "/d", "/d/sub/deeper"]).await;
    assert_eq!(outcome.code, 1);
    assert_eq!(
        outcome.err,
        "mv: `/d' to `/d/sub/deeper/d': is a subdirectory of itself\n"
    );
    fails(&fs, &["-mv", "/d/a.txt", "/f"], "mv: `/f': File exists\n").await;
    fails(
        &fs,
        &["-mv", "/d/a.txt", "/f", "/nowhere"],
        "mv: `/nowhere': No such file or directory\n",
    )
    .await;
    fails(
        &fs,
        &["-mv", "/d/a.txt", "/d/b.txt", "/f"],
        "mv: `/f': Is not a directory\n",
    )
    .await;
    assert_eq!(before, fs.paths());
    ok(&fs, &["-mv", "/d/a.txt", "/d/b.txt", "/d/sub"]).await;
    assert!(fs.status("/d/sub/a.txt").is_some() && fs.status("/d/sub/b.txt").is_some());
    ok(&fs, &["-mv", "/f", "/g"]).await;
    assert_eq!(fs.data("/g").unwrap(), b"just a file");
    ok(&fs, &["-mv", "/d/sub", "/moved"]).await;
    assert!(fs.status("/moved/c.bin").is_some());
}

#[tokio::test]
async fn cp_copies_files_and_trees() {
    let fs = tree();
    fs.edit("/d/a.txt", |s| {
        s.permission = 0o600;
        s.modification_time_ms = 42;
    });
    ok(&fs, &["-cp", "/d/a.txt", "/copy.txt"]).await;
    assert_eq!(fs.data("/copy.txt").unwrap(), b"hello");
    assert_eq!(fs.status("/copy.txt").unwrap().permission, 0o644);
    ok(&fs, &["-cp", "-p", "/d/a.txt", "/kept.txt"]).await;
    let kept = fs.status("/kept.txt").unwrap();
    assert_eq!((kept.permission, kept.modification_time_ms), (0o600, 42));
    ok(&fs, &["-cp", "/d", "/e"]).await;
    assert_eq!(fs.data("/e/sub/c.bin").unwrap(), vec![7u8; 3000]);
    assert!(fs.status("/e/sub/deeper").is_some());
    fails(&fs, &["-cp", "/d/a.txt", "/f"], "cp: `/f': File exists\n").await;
    fails(
        &fs,
        &["-cp", "/d", "/d/sub"],
        "cp: `/d' to `/d/sub/d': is a subdirectory of itself\n",
    )
    .await;
    ok(&fs, &["-cp", "-f", "/d/a.txt", "/f"]).await;
    assert_eq!(fs.data("/f").unwrap(), b"hello");
    assert!(fs.paths().iter().all(|p| !p.ends_with("._COPYING_")));
}

#[tokio::test]
async fn append_to_file_creates_and_appends() {
    let fs = tree();
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    std::fs::write(&one, b"1").unwrap();
    std::fs::write(&two, b"22").unwrap();
    let (one, two) = (one.display().to_string(), two.display().to_string());
    ok(&fs, &["-appendToFile", &one, &two, "/log"]).await;
    assert_eq!(fs.data("/log").unwrap(), b"122");
    ok(&fs, &["-appendToFile", &one, "/log"]).await;
    assert_eq!(fs.data("/log").unwrap(), b"1221");
    let outcome = dfs_with_stdin(&fs, &["-appendToFile", "-", "/log"], b"+in").await;
    assert_eq!(outcome.code, 0);
    assert_eq!(fs.data("/log").unwrap(), b"1221+in");
    let missing = dir.path().join("nope").display().to_string();
    fails(
        &fs,
        &["-appendToFile", &missing, "/new"],
        &format!("appendToFile: `{missing}': No such file or directory\n"),
    )
    .await;
    assert!(
        fs.status("/new").is_none(),
        "a failed append creates nothing"
    );
    fails(
        &fs,
        &["-appendToFile", "/only"],
        "appendToFile: missing destination argument\n",
    )
    .await;
}

#[tokio::test]
async fn touchz_and_touch() {
    let fs = tree();
    ok(&fs, &["-touchz", "/d/new", "/d/b.txt"]).await;
    assert_eq!(fs.status("/d/new").unwrap().length, 0);
    fails(
        &fs,
        &["-touchz", "/f"],
        "touchz: `/f': Not a zero-length file\n",
    )
    .await;
    fails(&fs, &["-touchz", "/d"], "touchz: `/d': Is a directory\n").await;
    fails(
        &fs,
        &["-touchz", "/no/f"],
        "touchz: `/no/f': No such file or directory: `cairn://nn:8020/no/f'\n",
    )
    .await;
    ok(&fs, &["-touch", "-m", "-t", "20200101:000000", "/f"]).await;
    let status = fs.status("/f").unwrap();
    assert_ne!(status.modification_time_ms, super::fake_fs::NOW_MS);
    assert_eq!(status.access_time_ms, super::fake_fs::NOW_MS);
    ok(&fs, &["-touch", "-c", "/d/never"]).await;
    assert!(fs.status("/d/never").is_none());
}

#[tokio::test]
async fn test_answers_with_the_exit_code_only() {
    let fs = tree();
    for (args, code) in [
        (["-test", "-e", "/f"], 0),
        (["-test", "-e", "/nope"], 1),
        (["-test", "-d", "/d"], 0),
        (["-test", "-d", "/f"], 1),
        (["-test", "-f", "/f"], 0),
        (["-test", "-s", "/f"], 0),
        (["-test", "-s", "/d/b.txt"], 1),
        (["-test", "-z", "/d/b.txt"], 0),
        (["-test", "-z", "/f"], 1),
    ] {
        let outcome = dfs(&fs, &args).await;
        assert_eq!(outcome.code, code, "{args:?}");
        assert_eq!(outcome.out, "");
        assert_eq!(outcome.err, "");
    }
    let outcome = dfs(&fs, &["-test", "/f"]).await;
    assert!(outcome.err.starts_with("-test: No test flag given\n"));
    let outcome = dfs(&fs, &["-test", "-e", "-d", "/f"]).await;
    assert!(
        outcome
            .err
            .starts_with("-test: Only one test flag is allowed\n")
    );
}

#[tokio::test]
async fn setrep_sets_and_waits() {
    let fs = tree();
    assert_eq!(
        ok(&fs, &["-setrep", "2", "/f"]).await,
        "Replication 2 set: /f\n"
    );
    assert_eq!(fs.status("/f").unwrap().replication, 2);
    let out = ok(&fs, &["-setrep", "-R", "1", "/d"]).await;
    assert_eq!(
        out,
        "Replication 1 set: /d/a.txt\nReplication 1 set: /d/b.txt\nReplication 1 set: /d/sub/c.bin\n"
    );
    let out = ok(&fs, &["-setrep", "-w", "3", "/f"]).await;
    assert_eq!(out, "Replication 3 set: /f\nWaiting for /f ... done\n");
    let outcome = dfs(&fs, &["-setrep", "0", "/f"]).await;
    assert_eq!(outcome.code, 1);
    assert!(
        outcome
            .err
            .starts_with("-setrep: replication must be >= 1\n")
    );
    assert_eq!(fs.status("/f").unwrap().replication, 3);
    let outcome = dfs(&fs, &["-setrep", "x", "/f"]).await;
    assert!(outcome.err.starts_with(
        "setrep: Illegal replication, a positive integer expected\n-setrep: For input string: \"x\"\n"
    ));
}

#[tokio::test]
async fn chmod_chown_chgrp() {
    let fs = tree();
    ok(&fs, &["-chmod", "u+x,go-w", "/f"]).await;
    assert_eq!(fs.status("/f").unwrap().permission, 0o744);
    ok(&fs, &["-chmod", "-R", "700", "/d"]).await;
    assert_eq!(fs.status("/d/sub/c.bin").unwrap().permission, 0o700);
    ok(&fs, &["-chmod", "+t", "/d"]).await;
    assert_eq!(fs.status("/d").unwrap().permission, 0o1700);
    let outcome = dfs(&fs, &["-chmod", "bogus", "/f"]).await;
    assert!(
        outcome
            .err
            .starts_with("-chmod: chmod : mode 'bogus' does not match the expected pattern.\n")
    );
    ok(&fs, &["-chown", "bob:staff", "/f"]).await;
    let status = fs.status("/f").unwrap();
    assert_eq!(
        (status.owner.as_str(), status.group.as_str()),
        ("bob", "staff")
    );
    ok(&fs, &["-chgrp", "-R", "ops", "/d"]).await;
    assert_eq!(fs.status("/d/sub/deeper").unwrap().group, "ops");
    let outcome = dfs(&fs, &["-chgrp", "a:b", "/f"]).await;
    assert!(
        outcome
            .err
            .starts_with("-chgrp: 'a:b' does not match expected pattern for group\n")
    );
}

#[tokio::test]
async fn du_df_count_stat() {
    let fs = tree();
    assert_eq!(
        ok(&fs, &["-du", "/d"]).await,
        "5     15    /d/a.txt\n0     0     /d/b.txt\n3000  9000  /d/sub\n"
    );
    assert_eq!(
        ok(&fs, &["-du", "-s", "-h", "/d"]).await,
        "2.9 K  8.8 K  /d\n"
    );
    assert_eq!(
        ok(&fs, &["-count", "/d"]).await,
        "           3            3               3005 /d\n"
    );
    assert_eq!(
        ok(&fs, &["-stat", "%F %u:%g %b %r %n", "/f", "/d"]).await,
        "regular file alice:supergroup 11 3 f\ndirectory alice:supergroup 0 0 d\n"
    );
    assert_eq!(ok(&fs, &["-stat", "/f"]).await, "2024-01-02 03:04:05\n");
    let out = ok(&fs, &["-df", "-h"]).await;
    assert_eq!(
        out,
        "Filesystem       Size  Used  Available  Use%\ncairn://nn:8020   3 G     0        3 G    0%\n"
    );
}

#[tokio::test]
async fn truncate_shortens_files() {
    let fs = tree();
    assert_eq!(
        ok(&fs, &["-truncate", "4", "/f"]).await,
        "Truncating /f to length: 4. Wait for block recovery to complete before further updating this file.\n"
    );
    assert_eq!(fs.data("/f").unwrap(), b"just");
    assert_eq!(
        ok(&fs, &["-truncate", "0", "/d/a.txt"]).await,
        "Truncated /d/a.txt to length: 0\n"
    );
    fails(
        &fs,
        &["-truncate", "100", "/f"],
        "truncate: `/f': Cannot truncate to a larger file size. Current size: 4, truncate size: 100.\n",
    )
    .await;
}

#[tokio::test]
async fn golden_ls_recursive_and_directory_forms() {
    let fs = tree();
    fs.edit("/d/sub/c.bin", |s| s.owner = "a-long-owner".into());
    let date = crate::human::ls_date_local(super::fake_fs::NOW_MS);
    // The owner column widens when the recursion reaches c.bin, and stays
    // wide for the lines after it.
    let expected = format!(
        "\
drwxr-xr-x   - alice supergroup          0 {date} /d
-rw-r--r--   3 alice supergroup          5 {date} /d/a.txt
-rw-r--r--   3 alice supergroup          0 {date} /d/b.txt
drwxr-xr-x   - alice supergroup          0 {date} /d/sub
-rw-r--r--   3 a-long-owner supergroup       3000 {date} /d/sub/c.bin
drwxr-xr-x   - alice        supergroup          0 {date} /d/sub/deeper
-rw-r--r--   3 alice        supergroup         11 {date} /f
drwxr-xr-x   - alice        supergroup          0 {date} /user
drwxr-xr-x   - alice        supergroup          0 {date} /user/alice
"
    );
    assert_eq!(ok(&fs, &["-ls", "-R", "/"]).await, expected);
    assert_eq!(
        ok(&fs, &["-ls", "-d", "-h", "/d", "/d/sub/c.bin"]).await,
        format!(
            "\
drwxr-xr-x   - alice supergroup          0 {date} /d
-rw-r--r--   3 a-long-owner supergroup      2.9 K {date} /d/sub/c.bin
"
        )
    );
}

#[tokio::test]
async fn a_closed_stdout_ends_quietly() {
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }
    let fs = tree();
    let err = Captured::default();
    let mut shell = Shell::new(
        fs,
        Box::new(Closed),
        Box::new(err.clone()),
        Box::new(&b""[..]),
        "/user/alice".to_string(),
        "cairn://nn:8020".to_string(),
    );
    let code = shell
        .run(vec!["-cat".into(), "/f".into(), "/d/a.txt".into()])
        .await;
    assert_eq!(code, 0);
    assert_eq!(err.text(), "");
}
