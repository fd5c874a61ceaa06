//! The cluster `cairn chaos` works on: either a local one it starts itself
//! — a namenode and N datanodes, each a child process running this very
//! binary (`std::env::current_exe`), so it can SIGKILL, SIGSTOP and SIGCONT
//! them and reach their block files — or an existing one, driven through
//! the user's `--kill-cmd` / `--start-cmd` templates.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_proto::daemon_args;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::Rng;
use rand::rngs::StdRng;
use tokio::process::{Child, Command};

/// How long a daemon may take to print its "listening on" line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A byte flipped in a block file, and how to tell it was repaired.
#[derive(Debug, Clone)]
pub struct Corruption {
    pub datanode: usize,
    pub block_id: u64,
    pub path: PathBuf,
    pub offset: u64,
    pub original: u8,
}

impl Corruption {
    /// The replica was deleted, or rewritten with the right byte.
    pub fn repaired(&self) -> bool {
        use std::os::unix::fs::FileExt;
        let Ok(file) = std::fs::File::open(&self.path) else {
            return true;
        };
        let mut byte = [0u8];
        match file.read_exact_at(&mut byte, self.offset) {
            Ok(()) => byte[0] == self.original,
            Err(_) => true,
        }
    }
}

/// One daemon child process.
struct Daemon {
    child: Child,
    stdout: PathBuf,
}

impl Daemon {
    fn pid(&self) -> Option<Pid> {
        self.child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
    }

    fn signal(&self, signal: Signal) -> Result<()> {
        if let Some(pid) = self.pid() {
            kill(pid, signal).with_context(|| format!("cannot send {signal} to process {pid}"))?;
        }
        Ok(())
    }

    async fn sigkill(mut self) -> Result<()> {
        self.signal(Signal::SIGKILL)?;
        self.child.wait().await?;
        Ok(())
    }

    /// Waits for the "listening on ADDR" line and returns ADDR.
    async fn listening(&mut self, what: &str) -> Result<String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            if let Some(addr) = out
                .split("listening on ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
            {
                return Ok(addr.to_string());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{what} exited ({status}) before listening; see its log beside {}",
                    self.stdout.display()
                );
            }
            if Instant::now() > deadline {
                bail!("{what} did not start within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// How the local cluster's daemons are configured: short intervals, so
/// that deaths are noticed and repaired within seconds.
pub struct LocalSettings {
    pub replication: u32,
    pub block_size: u64,
    pub user: String,
}

/// A cluster of child processes under one directory.
pub struct LocalCluster {
    dir: PathBuf,
    config: PathBuf,
    bin: PathBuf,
    nn_addr: String,
    namenode: Option<Daemon>,
    datanodes: Vec<Option<Daemon>>,
    dn_addrs: Vec<String>,
    paused: Vec<bool>,
}

impl LocalCluster {
    /// Formats and starts a namenode and `datanodes` datanodes under `dir`.
    pub async fn start(dir: &Path, datanodes: usize, settings: &LocalSettings) -> Result<Self> {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)
            .with_context(|| format!("cannot create {}", logs.display()))?;
        let config = dir.join("cairn.toml");
        std::fs::write(&config, local_config(dir, settings))
            .with_context(|| format!("cannot write {}", config.display()))?;
        let mut cluster = LocalCluster {
            dir: dir.to_path_buf(),
            config,
            bin: std::env::current_exe().context("cannot find the cairn binary")?,
            nn_addr: "127.0.0.1:0".to_string(),
            namenode: None,
            datanodes: (0..datanodes).map(|_| None).collect(),
            dn_addrs: vec!["127.0.0.1:0".to_string(); datanodes],
            paused: vec![false; datanodes],
        };
        let format = cluster
            .command(&["namenode", "-format"])
            .output()
            .await
            .context("cannot run `cairn namenode -format`")?;
        if !format.status.success() {
            bail!(
                "namenode -format failed: {}",
                String::from_utf8_lossy(&format.stderr)
            );
        }
        cluster.start_namenode().await?;
        for i in 0..datanodes {
            cluster.start_datanode(i)?;
            if let Some(daemon) = cluster.datanodes[i].as_mut() {
                cluster.dn_addrs[i] = daemon.listening(&format!("datanode {i}")).await?;
            }
        }
        Ok(cluster)
    }

    pub fn namenode_addr(&self) -> &str {
        &self.nn_addr
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("CAIRN_NAMENODE")
            .env_remove("CAIRN_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    fn spawn(&self, name: &str, args: &[String]) -> Result<Daemon> {
        let logs = self.dir.join("logs");
        let stdout = logs.join(format!("{name}.out"));
        let stderr = logs.join(format!("{name}.log"));
        let child = self
            .command(&[])
            .args(args)
            .stdout(std::fs::File::create(&stdout)?)
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&stderr)?,
            )
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Daemon { child, stdout })
    }

    /// Starts the namenode (on the address it had, after the first start)
    /// and waits until it listens.
    pub async fn start_namenode(&mut self) -> Result<()> {
        let addr = self.nn_addr.clone();
        let mut daemon = self.spawn("namenode", &daemon_args::namenode(&addr))?;
        self.nn_addr = daemon.listening("the namenode").await?;
        self.namenode = Some(daemon);
        Ok(())
    }

    pub async fn kill_namenode(&mut self) -> Result<()> {
        match self.namenode.take() {
            Some(daemon) => daemon.sigkill().await,
            None => Ok(()),
        }
    }

    /// Starts datanode `i` without waiting for it: while the namenode is
    /// down a datanode only listens once it could register.
    pub fn start_datanode(&mut self, i: usize) -> Result<()> {
        let args = daemon_args::datanode(
            &self.datanode_dir(i),
            &self.dn_addrs[i],
            Some(&self.nn_addr),
        );
        let daemon = self.spawn(&format!("datanode{i}"), &args)?;
        self.datanodes[i] = Some(daemon);
        self.paused[i] = false;
        Ok(())
    }

    pub async fn kill_datanode(&mut self, i: usize) -> Result<()> {
        self.paused[i] = false;
        match self.datanodes[i].take() {
            Some(daemon) => daemon.sigkill().await,
            None => Ok(()),
        }
    }

    pub fn pause_datanode(&mut self, i: usize) -> Result<()> {
        if let Some(daemon) = &self.datanodes[i] {
            daemon.signal(Signal::SIGSTOP)?;
            self.paused[i] = true;
        }
        Ok(())
    }

    pub fn resume_datanode(&mut self, i: usize) -> Result<()> {
        if let Some(daemon) = &self.datanodes[i] {
            daemon.signal(Signal::SIGCONT)?;
        }
        self.paused[i] = false;
        Ok(())
    }

    fn datanode_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("dn{i}"))
    }

    /// Flips one byte of a finalized replica of one of `blocks` held by
    /// datanode `i`; `None` when it holds none of them.
    pub fn corrupt(
        &self,
        i: usize,
        blocks: &[u64],
        rng: &mut StdRng,
    ) -> Result<Option<Corruption>> {
        let root = self.datanode_dir(i).join("current").join("finalized");
        let mut files = Vec::new();
        find_block_files(&root, &mut files);
        let wanted: std::collections::HashSet<u64> = blocks.iter().copied().collect();
        let candidates: Vec<(u64, PathBuf, u64)> = files
            .into_iter()
            .filter(|(id, _, len)| wanted.contains(id) && *len > 0)
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let (block_id, path, len) = candidates[rng.random_range(0..candidates.len())].clone();
        let offset = rng.random_range(0..len);
        let original = flip_byte(&path, offset)?;
        Ok(Some(Corruption {
            datanode: i,
            block_id,
            path,
            offset,
            original,
        }))
    }
}

/// XORs the byte at `offset` with 0xff; returns its old value.
fn flip_byte(path: &Path, offset: u64) -> Result<u8> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset)?;
    file.write_all_at(&[byte[0] ^ 0xff], offset)?;
    file.sync_all()?;
    Ok(byte[0])
}

/// Every `blk_<id>` file under `dir`, with its id and length.
fn find_block_files(dir: &Path, out: &mut Vec<(u64, PathBuf, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.is_dir() {
            find_block_files(&path, out);
            continue;
        }
        let id = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("blk_"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(id) = id {
            out.push((id, path, meta.len()));
        }
    }
}

/// The local cluster's configuration file.
fn local_config(dir: &Path, settings: &LocalSettings) -> String {
    format!(
        r#"# Written by `cairn chaos`: intervals in seconds, so that faults are
# noticed and repaired while the run lasts.
[namenode]
name-dir = "{name}"
superuser = "{user}"
default-replication = {replication}
default-block-size = {block_size}
heartbeat-interval = "500ms"
stale-interval = "3s"
dead-interval = "6s"
replication-interval = "500ms"
pending-replication-timeout = "10s"
safemode-extension = "0s"

[datanode]
heartbeat-interval = "500ms"
scan-period = "5s"
scanner-bandwidth = "64MiB"
"#,
        name = dir.join("name").display(),
        user = settings.user,
        replication = settings.replication,
        block_size = settings.block_size,
    )
}

/// An existing cluster whose datanodes are killed and started by the
/// user's commands; `{i}` in a template is the datanode's number.
pub struct CommandCluster {
    pub namenode: String,
    pub kill_cmd: String,
    pub start_cmd: String,
}

impl CommandCluster {
    pub async fn run(&self, template: &str, i: usize) -> Result<()> {
        let command = template.replace("{i}", &i.to_string());
        let status = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .status()
            .await
            .with_context(|| format!("cannot run `{command}`"))?;
        if !status.success() {
            bail!("`{command}` failed ({status})");
        }
        Ok(())
    }
}

/// Either kind of cluster, as the run drives it.
pub enum Cluster {
    Local(Box<LocalCluster>),
    Commands(CommandCluster),
}

impl Cluster {
    pub fn namenode_addr(&self) -> String {
        match self {
            Cluster::Local(c) => c.namenode_addr().to_string(),
            Cluster::Commands(c) => c.namenode.clone(),
        }
    }

    pub async fn kill_datanode(&mut self, i: usize) -> Result<()> {
        match self {
            Cluster::Local(c) => c.kill_datanode(i).await,
            Cluster::Commands(c) => c.run(&c.kill_cmd, i).await,
        }
    }

    pub async fn start_datanode(&mut self, i: usize) -> Result<()> {
        match self {
            Cluster::Local(c) => c.start_datanode(i),
            Cluster::Commands(c) => c.run(&c.start_cmd, i).await,
        }
    }

    /// Stops every child process (a local cluster's), SIGCONT first so a
    /// paused one can die.
    pub async fn stop(&mut self) {
        if let Cluster::Local(c) = self {
            for i in 0..c.datanodes.len() {
                let _ = c.resume_datanode(i);
                let _ = c.kill_datanode(i).await;
            }
            let _ = c.kill_namenode().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn corruption_flips_a_byte_of_a_wanted_block_and_sees_repair() {
        let tmp = tempfile::tempdir().unwrap();
        let finalized = tmp.path().join("dn0/current/finalized/subdir0/subdir1");
        std::fs::create_dir_all(&finalized).unwrap();
        std::fs::write(finalized.join("blk_1073741825"), [7u8; 100]).unwrap();
        std::fs::write(finalized.join("blk_1073741825_1001.meta"), [0u8; 11]).unwrap();
        std::fs::write(finalized.join("blk_1073741826"), [7u8; 100]).unwrap();
        let cluster = LocalCluster {
            dir: tmp.path().to_path_buf(),
            config: PathBuf::new(),
            bin: PathBuf::new(),
            nn_addr: String::new(),
            namenode: None,
            datanodes: vec![None],
            dn_addrs: vec![String::new()],
            paused: vec![false],
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert!(cluster.corrupt(0, &[5], &mut rng).unwrap().is_none());
        let c = cluster
            .corrupt(0, &[1073741825], &mut rng)
            .unwrap()
            .unwrap();
        assert_eq!(c.block_id, 1073741825);
        let data = std::fs::read(&c.path).unwrap();
        assert_eq!(data[c.offset as usize], 7 ^ 0xff);
        assert!(!c.repaired());
        std::fs::remove_file(&c.path).unwrap();
        assert!(c.repaired());
    }
}
