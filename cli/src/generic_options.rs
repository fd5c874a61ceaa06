//! Hadoop's generic options (`GenericOptionsParser`), which may precede the
//! command of `cairn dfs`, `fsck` and `dfsadmin`:
//!
//! * `-fs cairn://HOST:PORT` (or `-fs HOST:PORT`): the namenode to use;
//! * `-D key=value` (or `-Dkey=value`): a configuration property. Known keys
//!   are `fs.defaultFS` (as `-fs`), `dfs.replication`, `dfs.blocksize`
//!   (`128m`, `1g`), `dfs.client.write.packet.size`, `dfs.checksum.type`
//!   (`CRC32C`, `CRC32`, `NULL`) and `fs.permissions.umask-mode` (octal); others are accepted and ignored
//!   with a warning.
//!
//! As in Hadoop, parsing stops at the first argument that is not a generic
//! option, so `cairn dfs -D dfs.replication=1 -put a /b` works and a `-D`
//! after the command is the command's business.

use cairn_client::ClientConfig;

use crate::human::parse_size;

/// The scheme of Cairn file system URIs (`cairn://host:port/path`).
pub const SCHEME: &str = "cairn";

/// What the generic options made of the configuration, and what is left.
#[derive(Debug)]
pub struct GenericOptions {
    /// The base configuration with the options applied.
    pub config: ClientConfig,
    /// The arguments after the generic options: the command and its own.
    pub rest: Vec<String>,
    /// Properties that were given but mean nothing to Cairn, for a warning.
    pub ignored: Vec<String>,
}

/// A generic option that cannot be applied; the tool prints it and its usage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenericOptionError {
    #[error("Missing argument for option: {0}")]
    MissingArgument(&'static str),
    #[error("property '{0}' must be given as key=value")]
    NotKeyValue(String),
    #[error("invalid value '{value}' for {key}: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("Wrong FS: {0}, expected: {SCHEME}://host:port")]
    WrongFs(String),
}

/// The help text of the generic options, as `ToolRunner` prints it under a
/// tool's usage.
pub const USAGE: &str = "Generic options supported are:
-D <property=value>               define a value for a given property
-fs <cairn://namenode:port>       specify default filesystem URL to use, overrides 'fs.defaultFS' property from configurations.

The general command line syntax is:
command [genericOptions] [commandOptions]
";

/// Applies the leading generic options of `args` to `base`.
pub fn parse(base: ClientConfig, args: Vec<String>) -> Result<GenericOptions, GenericOptionError> {
    let mut config = base;
    let mut ignored = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next_if(|a| is_generic_option(a)) {
        if arg == "-fs" {
            let value = args
                .next()
                .ok_or(GenericOptionError::MissingArgument("fs"))?;
            config.namenode = namenode_of(&value)?;
        } else {
            // `-D key=value` or `-Dkey=value`.
            let property = if arg == "-D" {
                args.next()
                    .ok_or(GenericOptionError::MissingArgument("D"))?
            } else {
                arg["-D".len()..].to_string()
            };
            let (key, value) = property
                .split_once('=')
                .ok_or_else(|| GenericOptionError::NotKeyValue(property.clone()))?;
            if !apply_property(&mut config, key.trim(), value.trim())? {
                ignored.push(key.trim().to_string());
            }
        }
    }
    Ok(GenericOptions {
        config,
        rest: args.collect(),
        ignored,
    })
}

/// Prints one warning per ignored property, as the tools do before running.
pub fn warn_ignored(options: &GenericOptions) {
    for key in &options.ignored {
        eprintln!("WARN: ignoring unknown property {key}");
    }
}

fn is_generic_option(arg: &str) -> bool {
    arg == "-fs" || arg.starts_with("-D")
}

/// The `host:port` of a file system URI: `cairn://h:p`, `cairn://h:p/`, `h:p`.
pub fn namenode_of(uri: &str) -> Result<String, GenericOptionError> {
    let rest = match uri.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case(SCHEME) => rest,
        Some(_) => return Err(GenericOptionError::WrongFs(uri.to_string())),
        None => uri,
    };
    let authority = rest.trim_end_matches('/');
    let valid = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !valid || authority.contains('/') {
        return Err(GenericOptionError::WrongFs(uri.to_string()));
    }
    Ok(authority.to_string())
}

/// Sets one property; `Ok(false)` when Cairn does not know the key.
fn apply_property(
    config: &mut ClientConfig,
    key: &str,
    value: &str,
) -> Result<bool, GenericOptionError> {
    let invalid = |reason: String| GenericOptionError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason,
    };
    match key {
        "fs.defaultFS" | "fs.default.name" => config.namenode = namenode_of(value)?,
        "dfs.replication" => {
            let replication = value
                .parse::<u32>()
                .map_err(|_| invalid("expected a positive integer".to_string()))?;
            if replication == 0 {
                return Err(invalid("replication must be >= 1".to_string()));
            }
            config.replication = Some(replication);
        }
        "dfs.blocksize" | "dfs.block.size" => {
            let size = parse_size(value).map_err(invalid)?;
            if size == 0 {
                return Err(invalid("block size must be > 0".to_string()));
            }
            config.block_size = Some(size);
        }
        "dfs.client.write.packet.size" => {
            let size = parse_size(value).map_err(invalid)?;
            config.write_packet_size = usize::try_from(size)
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| invalid("packet size must be > 0".to_string()))?;
        }
        "dfs.checksum.type" => {
            config.checksum_type = value.parse().map_err(|e| invalid(format!("{e}")))?;
        }
        "fs.permissions.umask-mode" => {
            config.umask = u16::from_str_radix(value, 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| invalid("expected an octal umask such as 022".to_string()))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ClientConfig {
        ClientConfig::new("127.0.0.1:8020", "alice")
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fs_accepts_uri_and_host_port() {
        let parsed = parse(base(), args(&["-fs", "cairn://nn:9000", "-ls", "/"])).unwrap();
        assert_eq!(parsed.config.namenode, "nn:9000");
        assert_eq!(parsed.rest, ["-ls", "/"]);
        let parsed = parse(base(), args(&["-fs", "10.0.0.1:8020", "-ls"])).unwrap();
        assert_eq!(parsed.config.namenode, "10.0.0.1:8020");
        let parsed = parse(base(), args(&["-fs", "cairn://nn:9000/", "-ls"])).unwrap();
        assert_eq!(parsed.config.namenode, "nn:9000");
    }

    #[test]
    fn fs_refuses_other_file_systems() {
        assert!(matches!(
            parse(base(), args(&["-fs", "file:///", "-ls"])),
            Err(GenericOptionError::WrongFs(_))
        ));
        assert!(matches!(
            parse(base(), args(&["-fs", "nn", "-ls"])),
            Err(GenericOptionError::WrongFs(_))
        ));
        assert_eq!(
            parse(base(), args(&["-fs"])).unwrap_err(),
            GenericOptionError::MissingArgument("fs")
        );
    }

    #[test]
    fn d_sets_known_properties() {
        let parsed = parse(
            base(),
            args(&[
                "-D",
                "dfs.replication=2",
                "-Ddfs.blocksize=128m",
                "-D",
                "dfs.client.write.packet.size=65536",
                "-D",
                "fs.defaultFS=cairn://other:1",
                "-D",
                "fs.permissions.umask-mode=077",
                "-D",
                "dfs.checksum.type=NULL",
                "-put",
                "a",
                "-D",
                "dfs.replication=3",
            ]),
        )
        .unwrap();
        assert_eq!(parsed.config.replication, Some(2));
        assert_eq!(parsed.config.block_size, Some(128 * 1024 * 1024));
        assert_eq!(parsed.config.write_packet_size, 65536);
        assert_eq!(parsed.config.namenode, "other:1");
        assert_eq!(parsed.config.umask, 0o077);
        assert_eq!(parsed.config.checksum_type, cairn_proto::ChecksumType::Null);
        // Parsing stops at the command.
        assert_eq!(parsed.rest, ["-put", "a", "-D", "dfs.replication=3"]);
        assert!(parsed.ignored.is_empty());
    }

    #[test]
    fn unknown_properties_are_ignored_and_reported() {
        let parsed = parse(base(), args(&["-D", "mapreduce.job.name=x", "-ls"])).unwrap();
        assert_eq!(parsed.ignored, ["mapreduce.job.name"]);
        assert_eq!(parsed.rest, ["-ls"]);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(matches!(
            parse(base(), args(&["-D", "dfs.replication=zero"])),
            Err(GenericOptionError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse(base(), args(&["-D", "dfs.replication=0"])),
            Err(GenericOptionError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse(base(), args(&["-D", "dfs.checksum.type=MD5"])),
            Err(GenericOptionError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse(base(), args(&["-D", "dfs.blocksize=12q"])),
            Err(GenericOptionError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse(base(), args(&["-D", "novalue"])),
            Err(GenericOptionError::NotKeyValue(_))
        ));
        assert_eq!(
            parse(base(), args(&["-D"])).unwrap_err(),
            GenericOptionError::MissingArgument("D")
        );
    }
}
