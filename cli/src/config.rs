//! Settings of the `cairn` binary: one TOML file with a section per part,
//! under `CAIRN_*` environment variables, under command-line flags.
//!
//! The daemons' own sections are their crates' config structs, so a key
//! means the same thing whether Cairn runs as `cairn server` or as separate
//! daemons.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn_client::ClientConfig;
use cairn_datanode::DatanodeConfig;
use cairn_namenode::NamenodeConfig;
use serde::{Deserialize, Serialize};

mod defaults;
pub use defaults::print_default;

/// Where clients look for the namenode when nothing else says (HDFS's port).
pub const DEFAULT_NAMENODE: &str = "127.0.0.1:8020";

/// Where the S3 gateway listens when nothing else says (MinIO's port).
pub const DEFAULT_S3_ADDRESS: &str = "127.0.0.1:9000";

/// The whole configuration file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// How `cairn dfs`, `fsck` and `dfsadmin` reach the cluster.
    pub client: ClientSection,
    /// The namenode daemon (`cairn namenode`, and inside `cairn server`).
    pub namenode: NamenodeConfig,
    /// The datanode daemon (`cairn datanode`, and inside `cairn server`).
    pub datanode: DatanodeConfig,
    /// The S3 gateway (`cairn s3`, and inside `cairn server`).
    pub s3: S3Section,
}

/// Where the S3 gateway listens and which access keys it accepts.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct S3Section {
    /// The gateway's HTTP address, `IP:PORT`.
    pub address: String,
    /// An access key acting as the user running the gateway (also
    /// $CAIRN_S3_ACCESS_KEY, or `--access-key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// Its secret (also $CAIRN_S3_SECRET_KEY, or `--secret-key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// The Cairn user that anonymous reads of public-read buckets act as.
    pub anonymous_user: String,
    /// Requests to `bucket.DOMAIN` address that bucket (virtual-hosted
    /// style); empty: path-style only.
    pub domain: String,
    /// More access keys, each acting as its own Cairn user.
    pub keys: Vec<S3KeySection>,
}

impl Default for S3Section {
    fn default() -> Self {
        Self {
            address: DEFAULT_S3_ADDRESS.to_string(),
            access_key: None,
            secret_key: None,
            anonymous_user: "nobody".to_string(),
            domain: "localhost".to_string(),
            keys: Vec::new(),
        }
    }
}

/// One `[[s3.keys]]` entry.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct S3KeySection {
    pub access_key: String,
    pub secret_key: String,
    /// The Cairn user whose permissions requests signed with this key get.
    pub user: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientSection {
    /// The namenode's RPC address, `host:port` or `cairn://host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namenode: Option<String>,
    /// The user to act as, when neither `--user` nor `CAIRN_USER` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Replication of new files (default: the namenode's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<u32>,
    /// Block size of new files in bytes (default: the namenode's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u64>,
    /// Checksums of new blocks (HDFS's `dfs.checksum.type`): CRC32C, CRC32
    /// or NULL (default: CRC32C).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<cairn_proto::ChecksumType>,
}

/// Everything a subcommand needs to know before its own flags.
#[derive(Debug)]
pub struct Settings {
    pub file: FileConfig,
    pub user: String,
}

impl Settings {
    /// Reads the configuration file (`--config`, else `$CAIRN_CONFIG`) and
    /// resolves the acting user (`--user`, else `$CAIRN_USER`, else the
    /// file's `client.user`, else the OS user).
    pub fn load(config: Option<&Path>, user: Option<&str>) -> anyhow::Result<Settings> {
        let source = config_source(config);
        let file = match &source {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        let user = user
            .map(str::to_string)
            .or_else(|| non_empty_env("CAIRN_USER"))
            .or_else(|| file.client.user.clone())
            .unwrap_or_else(os_user);
        Ok(Settings { file, user })
    }

    /// The namenode address for clients: `$CAIRN_NAMENODE`, else the file's
    /// `client.namenode`, else 127.0.0.1:8020. (`-fs` on the tool's command
    /// line overrides it later.)
    pub fn namenode_address(&self) -> String {
        non_empty_env("CAIRN_NAMENODE")
            .or_else(|| self.file.client.namenode.clone())
            .unwrap_or_else(|| DEFAULT_NAMENODE.to_string())
    }

    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.namenode_address(), self.user.clone());
        config.replication = self.file.client.replication;
        config.block_size = self.file.client.block_size;
        if let Some(kind) = self.file.client.checksum_type {
            config.checksum_type = kind;
        }
        config
    }
}

/// The configuration file in force: `--config`, else `$CAIRN_CONFIG`.
pub fn config_source(config: Option<&Path>) -> Option<PathBuf> {
    config
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CAIRN_CONFIG").map(PathBuf::from))
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let invalid = || format!("invalid configuration file {}", path.display());
    let document = toml::Deserializer::parse(&text).with_context(invalid)?;
    // The path names the key (`namenode.heartbeat-interval`) in the
    // first words of the message, before TOML's excerpt of the line.
    let config: FileConfig = serde_path_to_error::deserialize(document).map_err(|err| {
        let key = err.path().to_string();
        anyhow::anyhow!("{}: key `{key}': {}", invalid(), err.into_inner())
    })?;
    config.namenode.validate().with_context(invalid)?;
    config.datanode.validate().with_context(invalid)?;
    Ok(config)
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The name of the user running this process, as HDFS's simple
/// authentication takes it from the OS.
pub fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| non_empty_env("USER"))
        .unwrap_or_else(|| "nobody".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, "[client]\nnamenod = \"x:1\"\n").unwrap();
        let err = Settings::load(Some(&path), Some("u")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("cairn.toml"), "{text}");
        assert!(text.contains("unknown field `namenod`"), "{text}");
    }

    #[test]
    fn values_that_fail_validation_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, "[namenode]\nmin-replication = 0\n").unwrap();
        let err = Settings::load(Some(&path), Some("u")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("cairn.toml"), "{text}");
        assert!(
            text.contains("min-replication must be at least 1"),
            "{text}"
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_file_the_key_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, "[namenode]\nheartbeat-interval = \"3parsecs\"\n").unwrap();
        let err = Settings::load(Some(&path), Some("u")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("cairn.toml"), "{text}");
        assert!(text.contains("key `namenode.heartbeat-interval'"), "{text}");
        assert!(text.contains("unknown unit \"parsecs\""), "{text}");
    }

    #[test]
    fn the_example_file_is_valid_and_says_the_defaults() {
        let example: FileConfig = toml::from_str(include_str!("../../cairn.example.toml")).unwrap();
        example.namenode.validate().unwrap();
        example.datanode.validate().unwrap();
        let defaults = FileConfig::default();
        assert_eq!(example.datanode, defaults.datanode);
        assert_eq!(example.s3, defaults.s3);
        assert_eq!(
            format!(
                "{:?}",
                NamenodeConfig {
                    superuser: defaults.namenode.superuser.clone(),
                    ..example.namenode
                }
            ),
            format!("{:?}", defaults.namenode)
        );
    }

    #[test]
    fn file_sets_the_client_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(
            &path,
            "[client]\nnamenode = \"10.0.0.1:9000\"\nuser = \"carol\"\nreplication = 2\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&path), None).unwrap();
        if std::env::var_os("CAIRN_USER").is_none() {
            assert_eq!(settings.user, "carol");
        }
        assert_eq!(settings.client_config().replication, Some(2));
        if std::env::var_os("CAIRN_NAMENODE").is_none() {
            assert_eq!(settings.namenode_address(), "10.0.0.1:9000");
        }
    }
}
