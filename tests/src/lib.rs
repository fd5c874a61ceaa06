//! `MiniCluster`: a real Cairn cluster for end-to-end tests.
//!
//! Every daemon is a separate `cairn` process on 127.0.0.1 with its own
//! temporary directory, so a test can kill one with SIGKILL exactly as a
//! crash would. Readiness is polled (the daemon's "listening on" line, then
//! the namenode's view of live datanodes), never slept for.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub mod replicas;
use cairn_client::{ClientConfig, DatanodeReportType, DfsClient, SafeModeAction};
use cairn_proto::daemon_args;

pub mod fuse;
pub use fuse::{Mount, fuse_available, is_mounted};
pub mod http;

/// How long a daemon may take to come up before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The superuser of every MiniCluster: the namenode runs as whoever runs the
/// tests, and HDFS makes that user the superuser.
pub fn superuser() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".to_string())
}

/// The `cairn` binary under test: `$CAIRN_BIN`, else the one cargo built
/// beside the test executable (`target/<profile>/cairn`).
pub fn cairn_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAIRN_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> -> target/<profile>/cairn
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("cairn"))
        .expect("the test executable lives in target/<profile>/deps");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --bin cairn` (scripts/test does)",
        bin.display()
    );
    bin
}

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub datanodes: usize,
    /// Extra lines for the `[namenode]` section of the daemons' config file
    /// (`default-replication` is already set: 3, or fewer with fewer
    /// datanodes, as `cairn server` does).
    pub namenode_toml: String,
    /// Extra lines for the `[datanode]` section.
    pub datanode_toml: String,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            datanodes: 3,
            namenode_toml: String::new(),
            datanode_toml: String::new(),
        }
    }
}

impl ClusterOptions {
    /// `datanodes` datanodes, everything else default.
    pub fn with_datanodes(datanodes: usize) -> Self {
        Self {
            datanodes,
            ..Default::default()
        }
    }
}

/// One daemon process and where its output goes.
struct Daemon {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Daemon {
    fn kill(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }

    fn logs(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr (last 4000 bytes) ---\n{}",
            fs::read_to_string(&self.stdout).unwrap_or_default(),
            tail(&fs::read_to_string(&self.stderr).unwrap_or_default(), 4000)
        )
    }
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

pub struct MiniCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    config: PathBuf,
    nn_addr: String,
    nn_http: String,
    namenode: Option<Daemon>,
    datanodes: Vec<Option<Daemon>>,
    dn_addrs: Vec<String>,
}

impl MiniCluster {
    /// Formats a namespace, starts the namenode and the datanodes, and
    /// returns once every datanode is live and safe mode is off.
    pub async fn start(options: ClusterOptions) -> Result<MiniCluster> {
        let dir = tempfile::Builder::new().prefix("cairn-test-").tempdir()?;
        let config = dir.path().join("cairn.toml");
        fs::write(
            &config,
            format!(
                "[namenode]\nname-dir = \"{}\"\ndefault-replication = {}\n{}\n{}\n[datanode]\n{}\n{}\n",
                dir.path().join("name").display(),
                options.datanodes.clamp(1, 3),
                FAST_NAMENODE,
                options.namenode_toml,
                FAST_DATANODE,
                options.datanode_toml
            ),
        )?;
        let mut cluster = MiniCluster {
            bin: cairn_bin(),
            config,
            nn_addr: String::new(),
            nn_http: String::new(),
            namenode: None,
            datanodes: Vec::new(),
            dn_addrs: Vec::new(),
            dir,
        };
        let format = cluster.command(&["namenode", "-format"]).output()?;
        if !format.status.success() {
            bail!(
                "namenode -format failed: {}",
                String::from_utf8_lossy(&format.stderr)
            );
        }
        cluster.start_namenode_at("127.0.0.1:0")?;
        for i in 0..options.datanodes {
            cluster.datanodes.push(None);
            cluster.dn_addrs.push("127.0.0.1:0".to_string());
            cluster.start_datanode(i)?;
        }
        cluster.wait_active().await?;
        Ok(cluster)
    }

    /// [`MiniCluster::start`] and a client of the superuser: how most
    /// tests begin.
    pub async fn start_with_superuser(options: ClusterOptions) -> Result<(MiniCluster, DfsClient)> {
        let cluster = Self::start(options).await?;
        let client = cluster.client(&superuser()).await?;
        Ok((cluster, client))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn name_dir(&self) -> PathBuf {
        self.dir.path().join("name")
    }

    pub fn datanode_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("dn{i}"))
    }

    /// The namenode's RPC address, `127.0.0.1:PORT`.
    pub fn namenode_addr(&self) -> &str {
        &self.nn_addr
    }

    /// The namenode's HTTP address (web UI, API, /metrics, WebHDFS),
    /// `127.0.0.1:PORT`.
    pub fn namenode_http(&self) -> &str {
        &self.nn_http
    }

    pub fn datanode_addr(&self, i: usize) -> &str {
        &self.dn_addrs[i]
    }

    pub fn datanode_count(&self) -> usize {
        self.datanodes.len()
    }

    /// A `cairn` command with this cluster's config and namenode.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("CAIRN_NAMENODE", &self.nn_addr)
            .env_remove("CAIRN_USER")
            .env_remove("CAIRN_CONFIG")
            .stdin(Stdio::null());
        command
    }

    /// Runs `cairn --user USER dfs ARGS...` and returns its output.
    pub fn dfs(&self, user: &str, args: &[&str]) -> Output {
        self.tool(user, "dfs", args)
    }

    /// Runs `cairn --user USER TOOL ARGS...` (dfs, fsck, dfsadmin).
    pub fn tool(&self, user: &str, tool: &str, args: &[&str]) -> Output {
        let mut all = vec!["--user", user, tool];
        all.extend_from_slice(args);
        self.command(&all).output().expect("the cairn binary runs")
    }

    pub async fn client(&self, user: &str) -> Result<DfsClient> {
        Ok(DfsClient::connect(ClientConfig::new(self.nn_addr.clone(), user)).await?)
    }

    fn spawn<S: AsRef<std::ffi::OsStr>>(&self, name: &str, args: &[S]) -> Result<Daemon> {
        let stdout = self.dir.path().join(format!("{name}.out"));
        let stderr = self.dir.path().join(format!("{name}.log"));
        let child = self
            .command(&[])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(fs::File::create(&stdout)?)
            .stderr(
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&stderr)?,
            )
            .spawn()
            .context("cannot start the cairn binary")?;
        Ok(Daemon {
            child,
            stdout,
            stderr,
        })
    }

    /// Waits for the daemon's "listening on ADDR" line and returns ADDR.
    fn wait_listening(daemon: &mut Daemon, what: &str) -> Result<String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let out = fs::read_to_string(&daemon.stdout).unwrap_or_default();
            if let Some(rest) = out.split("listening on ").nth(1)
                && let Some(addr) = rest.split_whitespace().next()
            {
                return Ok(addr.to_string());
            }
            if let Some(status) = daemon.child.try_wait()? {
                bail!(
                    "{what} exited ({status}) before listening\n{}",
                    daemon.logs()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{what} did not listen within {START_TIMEOUT:?}\n{}",
                    daemon.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn start_namenode_at(&mut self, addr: &str) -> Result<()> {
        let mut daemon = self.spawn("namenode", &daemon_args::namenode(addr))?;
        self.nn_addr = Self::wait_listening(&mut daemon, "the namenode")?;
        let out = fs::read_to_string(&daemon.stdout).unwrap_or_default();
        self.nn_http = out
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_string();
        self.namenode = Some(daemon);
        Ok(())
    }

    /// Kills the namenode with SIGKILL, as a crash would.
    pub fn kill_namenode(&mut self) {
        if let Some(mut daemon) = self.namenode.take() {
            daemon.kill();
        }
    }

    /// Starts the namenode again on the same address (the datanodes keep
    /// trying it) without waiting for safe mode to end.
    pub fn restart_namenode(&mut self) -> Result<()> {
        self.kill_namenode();
        let addr = self.nn_addr.clone();
        self.start_namenode_at(&addr)
    }

    /// Starts the namenode and returns its output if it exits within the
    /// start timeout instead of listening (for tests of refused start-ups).
    pub fn start_namenode_expecting_failure(&mut self) -> Result<String> {
        self.kill_namenode();
        let addr = self.nn_addr.clone();
        let mut daemon = self.spawn("namenode", &daemon_args::namenode(&addr))?;
        match Self::wait_listening(&mut daemon, "the namenode") {
            Ok(_) => {
                self.namenode = Some(daemon);
                bail!("the namenode started when it should have refused to")
            }
            Err(_) => Ok(format!(
                "{}{}",
                fs::read_to_string(&daemon.stdout).unwrap_or_default(),
                fs::read_to_string(&daemon.stderr).unwrap_or_default()
            )),
        }
    }

    /// Starts datanode `i` on the port it had, as a restarted datanode
    /// does; if another process took that port meanwhile (an outgoing
    /// connection's ephemeral port can be any free one), on a new port: a
    /// datanode is known by its uuid, not its address.
    pub fn start_datanode(&mut self, i: usize) -> Result<()> {
        let what = format!("datanode {i}");
        let args = daemon_args::datanode(&self.datanode_dir(i), &self.dn_addrs[i], None);
        let mut daemon = self.spawn(&format!("datanode{i}"), &args)?;
        let addr = match Self::wait_listening(&mut daemon, &what) {
            Err(e) if format!("{e:#}").contains("Address already in use") => {
                let args = daemon_args::datanode(&self.datanode_dir(i), "127.0.0.1:0", None);
                daemon = self.spawn(&format!("datanode{i}"), &args)?;
                Self::wait_listening(&mut daemon, &what)?
            }
            other => other?,
        };
        self.dn_addrs[i] = addr;
        self.datanodes[i] = Some(daemon);
        Ok(())
    }

    /// Starts one more datanode (with a new directory); returns its index.
    pub fn add_datanode(&mut self) -> Result<usize> {
        let i = self.datanodes.len();
        self.datanodes.push(None);
        self.dn_addrs.push("127.0.0.1:0".to_string());
        self.start_datanode(i)?;
        Ok(i)
    }

    /// Starts a datanode on `data_dir` that is expected to refuse to start;
    /// returns everything it printed. Fails if it is still running after
    /// the start timeout.
    pub fn datanode_expecting_failure(&self, data_dir: &Path) -> Result<String> {
        let args = daemon_args::datanode(data_dir, "127.0.0.1:0", None);
        let mut daemon = self.spawn("refused-datanode", &args)?;
        let deadline = Instant::now() + START_TIMEOUT;
        while daemon.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                daemon.kill();
                bail!("the datanode kept running\n{}", daemon.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(daemon.logs())
    }

    /// Sends SIGTERM to the namenode and waits for it to exit; returns its
    /// exit status and everything it logged.
    pub fn terminate_namenode(&mut self) -> Result<(std::process::ExitStatus, String)> {
        let mut daemon = self
            .namenode
            .take()
            .context("the namenode is not running")?;
        let pid = nix::unistd::Pid::from_raw(daemon.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let status = daemon.child.wait()?;
        Ok((status, daemon.logs()))
    }

    /// Sends SIGTERM to datanode `i` and waits for it to exit; returns its
    /// exit status and everything it logged.
    pub fn terminate_datanode(&mut self, i: usize) -> Result<(std::process::ExitStatus, String)> {
        let mut daemon = self.datanodes[i]
            .take()
            .with_context(|| format!("datanode {i} is not running"))?;
        let pid = nix::unistd::Pid::from_raw(daemon.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let status = daemon.child.wait()?;
        Ok((status, daemon.logs()))
    }

    /// The configuration file every daemon of this cluster reads.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn kill_datanode(&mut self, i: usize) {
        if let Some(mut daemon) = self.datanodes[i].take() {
            daemon.kill();
        }
    }

    /// Waits until every running datanode is live and safe mode is off.
    pub async fn wait_active(&self) -> Result<()> {
        let expected = self.datanodes.iter().filter(|d| d.is_some()).count();
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.active_state(expected).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(err) => last = format!("{err:#}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let logs = self.namenode.as_ref().map(Daemon::logs).unwrap_or_default();
        bail!(
            "the cluster did not become active within {START_TIMEOUT:?} (last error: {last})\n{logs}"
        )
    }

    async fn active_state(&self, expected: usize) -> Result<bool> {
        let client = self.client(&superuser()).await?;
        let live = client.datanode_report(DatanodeReportType::Live).await?;
        let (safe_mode, _) = client.set_safe_mode(SafeModeAction::SafemodeGet).await?;
        Ok(live.len() == expected && !safe_mode)
    }

    /// The cluster index of each live replica of the file's first block.
    pub async fn replica_nodes(&self, client: &DfsClient, path: &str) -> Result<Vec<usize>> {
        let located = client.get_block_locations(path, 0, u64::MAX).await?;
        let first = located.blocks.first().context("the file has no block")?;
        Ok(first
            .locations
            .iter()
            .filter_map(|d| {
                let addr = format!("{}:{}", d.host, d.xfer_port);
                (0..self.datanode_count()).find(|&i| self.datanode_addr(i) == addr)
            })
            .collect())
    }

    /// The log (stderr) of datanode `i`.
    pub fn datanode_log(&self, i: usize) -> String {
        fs::read_to_string(self.dir.path().join(format!("datanode{i}.log"))).unwrap_or_default()
    }

    /// The logs of every daemon, for a failing test's message.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        if let Some(nn) = &self.namenode {
            all.push_str(&format!("=== namenode ===\n{}\n", nn.logs()));
        }
        for (i, dn) in self.datanodes.iter().enumerate() {
            if let Some(dn) = dn {
                all.push_str(&format!("=== datanode {i} ===\n{}\n", dn.logs()));
            }
        }
        all
    }
}

/// An access key of a test S3 gateway and the Cairn user it acts as.
#[derive(Debug, Clone)]
pub struct S3Key {
    pub access_key: String,
    pub secret_key: String,
    pub user: String,
}

impl S3Key {
    pub fn new(access_key: &str, secret_key: &str, user: &str) -> Self {
        Self {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            user: user.to_string(),
        }
    }
}

/// A `cairn s3` process in front of a [`MiniCluster`]; killed on drop.
pub struct S3Gateway {
    daemon: Daemon,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub keys: Vec<S3Key>,
}

impl S3Gateway {
    /// Runs a Python script of `tests/s3/` with `$CAIRN_TEST_PYTHON` (boto3
    /// installed by scripts/install-test-deps), the endpoint and keys in
    /// its environment (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, and
    /// S3_KEY<n>_ACCESS/_SECRET for the others), and `args`.
    pub fn python(&self, script: &str, args: &[&str]) -> Output {
        let python = std::env::var_os("CAIRN_TEST_PYTHON").unwrap_or_else(|| {
            panic!(
                "CAIRN_TEST_PYTHON is not set: run scripts/install-test-deps, then \
                 export CAIRN_TEST_PYTHON=/var/tmp/cairn-test-venv/bin/python \
                 (scripts/test does both)"
            )
        });
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("s3")
            .join(script);
        let mut command = Command::new(&python);
        command
            .arg(&path)
            .args(args)
            .env("S3_ENDPOINT", &self.endpoint);
        for (i, key) in self.keys.iter().enumerate() {
            if i == 0 {
                command
                    .env("S3_ACCESS_KEY", &key.access_key)
                    .env("S3_SECRET_KEY", &key.secret_key);
            }
            command
                .env(format!("S3_KEY{i}_ACCESS"), &key.access_key)
                .env(format!("S3_KEY{i}_SECRET"), &key.secret_key);
        }
        command
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}): run scripts/install-test-deps",
                    Path::new(&python).display()
                )
            })
    }

    /// The gateway's own output, for a failing test's message.
    pub fn logs(&self) -> String {
        self.daemon.logs()
    }
}

impl Drop for S3Gateway {
    fn drop(&mut self) {
        self.daemon.kill();
    }
}

impl MiniCluster {
    /// Starts `cairn s3` on a free port, as the superuser, accepting
    /// `keys` (each acting as its user), and waits until it listens.
    pub fn start_s3(&self, keys: &[S3Key]) -> Result<S3Gateway> {
        let mut toml = String::from("\n[s3]\n");
        for key in keys {
            toml.push_str(&format!(
                "[[s3.keys]]\naccess-key = \"{}\"\nsecret-key = \"{}\"\nuser = \"{}\"\n",
                key.access_key, key.secret_key, key.user
            ));
        }
        let config = self.dir.path().join("s3.toml");
        fs::write(&config, toml)?;
        let stdout = self.dir.path().join("s3.out");
        let stderr = self.dir.path().join("s3.log");
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(&config)
            .args(["--user", &superuser(), "s3", "--address", "127.0.0.1:0"])
            .args(["--namenode", &self.nn_addr])
            .env_remove("CAIRN_S3_ACCESS_KEY")
            .env_remove("CAIRN_S3_SECRET_KEY")
            .env_remove("CAIRN_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout)?)
            .stderr(fs::File::create(&stderr)?)
            .spawn()
            .context("cannot start the cairn binary")?;
        let mut daemon = Daemon {
            child,
            stdout,
            stderr,
        };
        let addr = Self::wait_listening(&mut daemon, "the S3 gateway")?;
        Ok(S3Gateway {
            daemon,
            endpoint: format!("http://{addr}"),
            keys: keys.to_vec(),
        })
    }
}

impl Drop for MiniCluster {
    fn drop(&mut self) {
        for daemon in self.datanodes.iter_mut().flatten() {
            daemon.kill();
        }
        self.kill_namenode();
    }
}

/// Intervals in seconds rather than HDFS's minutes, so tests see
/// heartbeats, re-replication and dead nodes quickly.
const FAST_NAMENODE: &str = "heartbeat-interval = \"500ms\"\nreplication-interval = \"500ms\"\nstale-interval = \"5s\"\ndead-interval = \"10s\"\npending-replication-timeout = \"10s\"\n";
const FAST_DATANODE: &str = "heartbeat-interval = \"500ms\"\n";

/// The block file `blk_<id>` somewhere under a datanode's directory.
pub fn block_file(dir: &Path, block_id: u64) -> Option<PathBuf> {
    let name = format!("blk_{block_id}");
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()? {
            let path = entry.ok()?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == name.as_str()) {
                return Some(path);
            }
        }
    }
    None
}

/// Flips (XOR 0xff) the byte at `offset` of a file on disk, as bit rot would.
pub fn flip_byte(file: &Path, offset: usize) -> Result<()> {
    let mut bytes = fs::read(file)?;
    let byte = bytes
        .get_mut(offset)
        .with_context(|| format!("{} is shorter than {offset} bytes", file.display()))?;
    *byte ^= 0xff;
    fs::write(file, &bytes)?;
    Ok(())
}

/// A whole file, read through the client.
pub async fn read_all(client: &DfsClient, path: &str) -> Vec<u8> {
    let mut reader = client.open(path).await.expect("the file opens");
    let mut data = Vec::new();
    while let Some(chunk) = reader.read_chunk().await.expect("the file reads") {
        data.extend_from_slice(&chunk);
    }
    data
}

/// Random bytes of a given length from a seed, for files whose content the
/// test checks afterwards.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut data = vec![0u8; len];
    rng.fill_bytes(&mut data);
    data
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The text a command printed on stdout and stderr, for assertions and
/// failure messages.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `cairn bench --quick --json --dir DIR ARGS...` (no config file),
/// failing the test if it fails; returns its JSON report and its stdout
/// (for failure messages).
pub fn quick_bench(dir: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let output = Command::new(cairn_bin())
        .args(["bench", "--quick", "--json", "--dir"])
        .arg(dir)
        .args(args)
        .env_remove("CAIRN_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run cairn bench: {e}"));
    let (out, err) = text(&output);
    assert!(output.status.success(), "{out}{err}");
    let report = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("cairn bench printed no JSON report ({e}): {out}"));
    (report, out)
}
