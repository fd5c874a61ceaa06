//! `cairn s3`: the S3 gateway as a daemon of its own, and the access keys
//! it (and `cairn server`) accepts: from flags or $CAIRN_S3_ACCESS_KEY /
//! $CAIRN_S3_SECRET_KEY (acting as `--user`), the config file's `[s3]`
//! section, or, for `cairn server` alone, a development pair made once and
//! kept in the data directory.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, bail};
use cairn_s3::{AccessKey, BaseDomain, GatewayOptions, S3Gateway};
use clap::Args;
use rand::Rng;

use crate::config::Settings;
use crate::daemon::{bind, shutdown_signal};

#[derive(Args, Debug)]
pub struct S3Args {
    /// Serve S3 on this address. Default: the config file's `s3.address`,
    /// else 127.0.0.1:9000.
    #[arg(long, value_name = "IP:PORT")]
    pub address: Option<String>,
    /// The namenode. Default: $CAIRN_NAMENODE, else the config file's
    /// `client.namenode`, else 127.0.0.1:8020.
    #[arg(long, value_name = "HOST:PORT")]
    pub namenode: Option<String>,
    /// An access key whose requests act as the user running the gateway
    /// (`--user`).
    #[arg(
        long,
        env = "CAIRN_S3_ACCESS_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub access_key: Option<String>,
    /// The secret of `--access-key`.
    #[arg(
        long,
        env = "CAIRN_S3_SECRET_KEY",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Requests to `BUCKET.DOMAIN:PORT` address BUCKET (virtual-hosted
    /// style); "" turns it off. Default: the config file's `s3.domain`,
    /// else localhost.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
}

pub async fn run(mut settings: Settings, args: S3Args) -> anyhow::Result<()> {
    if let Some(domain) = args.domain {
        settings.file.s3.domain = domain;
    }
    let keys = configured_keys(&settings, args.access_key, args.secret_key)?;
    if keys.is_empty() {
        bail!(
            "no S3 access keys: set CAIRN_S3_ACCESS_KEY and CAIRN_S3_SECRET_KEY, pass \
             --access-key and --secret-key, or add them to the [s3] section of the \
             config file (see cairn.example.toml)"
        );
    }
    let address = args
        .address
        .unwrap_or_else(|| settings.file.s3.address.clone());
    let namenode = args.namenode.unwrap_or_else(|| settings.namenode_address());
    let listener = bind(&address, "S3 gateway").await?;
    let gateway = start(&settings, &namenode, keys, listener).await?;
    println!(
        "cairn s3: listening on {} (namenode {namenode})",
        gateway.local_addr()
    );
    println!(
        "try: aws --endpoint-url http://{} s3 ls",
        gateway.local_addr()
    );
    shutdown_signal().await?;
    gateway.shutdown().await?;
    Ok(())
}

/// Starts a gateway acting as the settings' user towards `namenode`.
pub async fn start(
    settings: &Settings,
    namenode: &str,
    keys: Vec<AccessKey>,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<S3Gateway> {
    let options = GatewayOptions {
        namenode: namenode.to_string(),
        admin_user: settings.user.clone(),
        keys,
        anonymous_user: settings.file.s3.anonymous_user.clone(),
        domain: match settings.file.s3.domain.as_str() {
            "" => None,
            domain => Some(BaseDomain::new(domain)?),
        },
    };
    Ok(S3Gateway::start(options, listener).await?)
}

/// The keys from flags or the environment (acting as the settings' user)
/// and from the config file.
pub fn configured_keys(
    settings: &Settings,
    access_key: Option<String>,
    secret_key: Option<String>,
) -> anyhow::Result<Vec<AccessKey>> {
    let section = &settings.file.s3;
    let mut keys = Vec::new();
    let main = match (access_key, secret_key) {
        (Some(access_key), Some(secret_key)) => Some((access_key, secret_key)),
        (None, None) => section.access_key.clone().zip(section.secret_key.clone()),
        _ => bail!(
            "an S3 access key needs its secret: give both CAIRN_S3_ACCESS_KEY and \
             CAIRN_S3_SECRET_KEY (or --access-key and --secret-key)"
        ),
    };
    if let Some((access_key, secret_key)) = main {
        keys.push(AccessKey {
            access_key,
            secret_key,
            user: settings.user.clone(),
        });
    }
    keys.extend(section.keys.iter().map(|k| AccessKey {
        access_key: k.access_key.clone(),
        secret_key: k.secret_key.clone(),
        user: k.user.clone(),
    }));
    Ok(keys)
}

/// The development key pair of `cairn server`: read from `data_dir`, or
/// made and kept there (readable by its owner only) the first time.
pub fn development_key(data_dir: &Path, user: &str) -> anyhow::Result<AccessKey> {
    let path = data_dir.join("s3-dev-key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut lines = text.lines().map(str::trim);
        if let (Some(access_key), Some(secret_key)) = (lines.next(), lines.next())
            && !access_key.is_empty()
            && !secret_key.is_empty()
        {
            return Ok(AccessKey {
                access_key: access_key.to_string(),
                secret_key: secret_key.to_string(),
                user: user.to_string(),
            });
        }
        bail!(
            "{} should hold an access key and a secret on two lines; delete it to make a new pair",
            path.display()
        );
    }
    let key = AccessKey {
        access_key: format!(
            "CAIRN{}",
            random_text(15, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        ),
        secret_key: random_text(
            40,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        ),
        user: user.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{}\n{}", key.access_key, key.secret_key)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

fn random_text(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .filter_map(|_| alphabet.get(rng.random_range(0..alphabet.len())))
        .map(|&b| char::from(b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = development_key(dir.path(), "alice").unwrap();
        assert!(first.access_key.starts_with("CAIRN"));
        assert_eq!(first.access_key.len(), 20);
        assert_eq!(first.secret_key.len(), 40);
        let again = development_key(dir.path(), "alice").unwrap();
        assert_eq!(first, again);
        let mode = std::fs::metadata(dir.path().join("s3-dev-key"))
            .unwrap()
            .permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }

    #[test]
    fn a_key_without_its_secret_is_refused() {
        let settings = Settings {
            file: Default::default(),
            user: "u".into(),
        };
        assert!(configured_keys(&settings, Some("k".into()), None).is_err());
        let keys = configured_keys(&settings, Some("k".into()), Some("s".into())).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].user, "u");
    }
}
