//! `cairn config --print-default`: every key of the configuration file with
//! its default and what it means. The values come from the daemons' own
//! `Default`s (serialized, so they cannot drift); the comments from
//! [`KEYS`], which a test checks covers every key the structs have.
//! `cairn.example.toml` in the repository is exactly this output (tested).

use std::fmt::Write;
use std::time::Duration;

use super::FileConfig;

/// How a value is written for people.
#[derive(Clone, Copy)]
enum Kind {
    /// As TOML writes it.
    Plain,
    /// Milliseconds, written as "3s", "10m 30s".
    Duration,
    /// Bytes, written as "128MiB".
    Size,
    /// No default: shown commented out, with this example value.
    Example(&'static str),
}

/// (section, key, kind, comment lines). Sections in file order.
const KEYS: &[(&str, &str, Kind, &str)] = &[
    (
        "client",
        "namenode",
        Kind::Example("\"127.0.0.1:8020\""),
        "The namenode's RPC address (also $CAIRN_NAMENODE, or `-fs` on dfs commands).\n\
         Default: 127.0.0.1:8020.",
    ),
    (
        "client",
        "user",
        Kind::Example("\"alice\""),
        "The user to act as when neither --user nor $CAIRN_USER is given.\n\
         Default: the user running the command.",
    ),
    (
        "client",
        "replication",
        Kind::Example("3"),
        "Replication of new files. Default: the namenode's default-replication.",
    ),
    (
        "client",
        "block-size",
        Kind::Example("134217728"),
        "Block size of new files in bytes. Default: the namenode's default-block-size.",
    ),
    (
        "client",
        "checksum-type",
        Kind::Example("\"CRC32C\""),
        "Checksums of new blocks, one per 512 bytes (HDFS's dfs.checksum.type): CRC32C\n\
         (computed in hardware), CRC32, or NULL (none: nothing detects corruption).\n\
         Blocks keep the type they were written with. Default: CRC32C.",
    ),
    (
        "namenode",
        "name-dir",
        Kind::Plain,
        "Checkpoints and the edit log. Put it on a disk that honours fsync.",
    ),
    (
        "namenode",
        "default-replication",
        Kind::Plain,
        "Replicas of a new file when the writer does not ask for a number.",
    ),
    (
        "namenode",
        "min-replication",
        Kind::Plain,
        "Replicas a block needs before its file can be closed, and to count as safe\n\
         when leaving safe mode.",
    ),
    (
        "namenode",
        "max-replication",
        Kind::Plain,
        "Largest replication a file may ask for.",
    ),
    (
        "namenode",
        "default-block-size",
        Kind::Size,
        "Block size of a new file when the writer does not ask for one (a multiple of 512).",
    ),
    (
        "namenode",
        "heartbeat-interval",
        Kind::Duration,
        "How often datanodes heartbeat.",
    ),
    (
        "namenode",
        "stale-interval",
        Kind::Duration,
        "Silence after which a datanode is stale: still used, but last choice.",
    ),
    (
        "namenode",
        "dead-interval",
        Kind::Duration,
        "Silence after which a datanode is dead: its blocks are re-replicated elsewhere.",
    ),
    (
        "namenode",
        "safemode-threshold",
        Kind::Plain,
        "Share of blocks with min-replication reported replicas needed to leave safe mode.",
    ),
    (
        "namenode",
        "safemode-extension",
        Kind::Duration,
        "How long safe mode lasts once the threshold is reached.",
    ),
    (
        "namenode",
        "replication-interval",
        Kind::Duration,
        "Period of the replication monitor (re-replication, excess deletion).",
    ),
    (
        "namenode",
        "pending-replication-timeout",
        Kind::Duration,
        "A transfer not seen through after this long is scheduled again.",
    ),
    (
        "namenode",
        "max-replication-streams",
        Kind::Plain,
        "Transfers handed to one source datanode per monitor round.",
    ),
    (
        "namenode",
        "checkpoint-period",
        Kind::Duration,
        "Longest time between two checkpoints.",
    ),
    (
        "namenode",
        "checkpoint-txns",
        Kind::Plain,
        "Transactions after which a checkpoint is taken without waiting for the period.",
    ),
    (
        "namenode",
        "edit-log-commit-delay-us",
        Kind::Plain,
        "Microseconds the edit log waits before an fsync while busy, so one fsync\n\
         makes more transactions durable (PostgreSQL's commit_delay); 0 turns it off.",
    ),
    (
        "namenode",
        "edit-log-commit-siblings",
        Kind::Plain,
        "The commit delay applies only while at least this many RPCs wait for the\n\
         edit log (PostgreSQL's commit_siblings; at least 2: a lone client never waits).",
    ),
    (
        "namenode",
        "lease-soft-limit",
        Kind::Duration,
        "Lease age after which another writer may take a file over.",
    ),
    (
        "namenode",
        "lease-hard-limit",
        Kind::Duration,
        "Lease age after which the namenode closes the file itself.",
    ),
    (
        "namenode",
        "listing-limit",
        Kind::Plain,
        "Entries per page of a directory listing.",
    ),
    (
        "namenode",
        "superuser",
        Kind::Example("\"hdfs\""),
        "The user that bypasses every permission check.\n\
         Default: the user running the namenode, as in HDFS.",
    ),
    (
        "namenode",
        "supergroup",
        Kind::Plain,
        "Members of this group are superusers too.",
    ),
    (
        "namenode.groups",
        "alice",
        Kind::Example("[\"staff\", \"analysts\"]"),
        "User -> groups; a user not listed is in a group of its own name.",
    ),
    (
        "namenode.racks",
        "\"10.0.0.11\"",
        Kind::Example("\"/rack1\""),
        "Host (or host:port) -> rack; unlisted nodes are on \"/default-rack\".",
    ),
    (
        "datanode",
        "data-dirs",
        Kind::Plain,
        "One or more data directories (volumes).",
    ),
    (
        "datanode",
        "namenode",
        Kind::Plain,
        "The namenode to join (also $CAIRN_NAMENODE or --namenode).",
    ),
    (
        "datanode",
        "host",
        Kind::Plain,
        "The host other nodes and clients reach this datanode at.",
    ),
    (
        "datanode",
        "heartbeat-interval",
        Kind::Duration,
        "Time between two heartbeats.",
    ),
    (
        "datanode",
        "block-report-interval",
        Kind::Duration,
        "Time between two full block reports.",
    ),
    (
        "datanode",
        "reserved-bytes",
        Kind::Size,
        "Bytes per volume kept free for other uses.",
    ),
    (
        "datanode",
        "incremental-report-delay",
        Kind::Duration,
        "How long received and deleted replicas are batched before being reported\n\
         (at most 100ms: a writer's close waits for the report).",
    ),
    (
        "datanode",
        "scan-period",
        Kind::Duration,
        "The block scanner verifies every replica once per scan period (\"0s\" turns\n\
         it off).",
    ),
    (
        "datanode",
        "scanner-bandwidth",
        Kind::Size,
        "Bytes per second per volume the block scanner may read.",
    ),
    (
        "datanode",
        "drop-cache-behind-writes",
        Kind::Plain,
        "Drop written blocks from the page cache once on disk, and start writing\n\
         them back early (saves CPU; turn off if readers follow writers closely).",
    ),
    (
        "s3",
        "address",
        Kind::Plain,
        "The S3 gateway's address (`cairn s3`, also started by `cairn server`).",
    ),
    (
        "s3",
        "access-key",
        Kind::Example("\"AKIAIOSFODNN7EXAMPLE\""),
        "An access key acting as the user running the gateway; also\n\
         $CAIRN_S3_ACCESS_KEY. Without any key, `cairn server` makes a development\n\
         pair once and keeps it in its data directory.",
    ),
    (
        "s3",
        "secret-key",
        Kind::Example("\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\""),
        "Its secret; also $CAIRN_S3_SECRET_KEY.",
    ),
    (
        "s3",
        "anonymous-user",
        Kind::Plain,
        "The Cairn user that anonymous reads of public-read buckets act as.",
    ),
    (
        "s3",
        "domain",
        Kind::Plain,
        "Virtual-hosted-style requests: http://BUCKET.DOMAIN:PORT/KEY addresses BUCKET\n\
         (path-style, http://HOST:PORT/BUCKET/KEY, always works). \"\" turns it off.",
    ),
    (
        "s3",
        "keys",
        Kind::Example(
            "[{ access-key = \"AKIABOB\", secret-key = \"bob-secret\", user = \"bob\" }]",
        ),
        "More access keys, each acting as its own Cairn user (whose permissions apply).",
    ),
];

const HEADER: &str = "\
# Cairn's configuration file: pass it with `--config FILE` or $CAIRN_CONFIG.
# One file for every daemon; `cairn config --print-default` prints this.
# Every key is optional; the values shown are the defaults. Flags override
# environment variables (CAIRN_*), which override this file.
# Durations: \"500ms\", \"3s\", \"10m 30s\", \"6h\" (a bare number is milliseconds).
# Sizes: bytes, or \"128MiB\", \"64k\", \"1g\".
";

/// The defaults, commented, as a configuration file.
pub fn print_default() -> String {
    let defaults = defaults_table();
    let mut out = String::from(HEADER);
    let mut section = "";
    for &(sect, key, kind, doc) in KEYS {
        if sect != section {
            let _ = write!(out, "\n[{sect}]\n");
            section = sect;
        }
        for line in doc.lines() {
            let _ = writeln!(out, "# {}", line.trim());
        }
        match kind {
            Kind::Example(example) => {
                let _ = writeln!(out, "# {key} = {example}");
            }
            _ => {
                let value = lookup(&defaults, sect, key)
                    .map(|v| render(v, kind))
                    .unwrap_or_default();
                let _ = writeln!(out, "{key} = {value}");
            }
        }
    }
    out
}

/// The default configuration as a TOML table, with the namenode's
/// superuser left out (it is whoever runs the namenode).
fn defaults_table() -> toml::Table {
    let mut defaults = FileConfig::default();
    defaults.namenode.superuser = String::new();
    toml::Table::try_from(&defaults).unwrap_or_default()
}

fn lookup<'a>(table: &'a toml::Table, section: &str, key: &str) -> Option<&'a toml::Value> {
    let mut current = table;
    for part in section.split('.') {
        current = current.get(part)?.as_table()?;
    }
    current.get(key)
}

fn render(value: &toml::Value, kind: Kind) -> String {
    match (kind, value.as_integer().and_then(|v| u64::try_from(v).ok())) {
        (Kind::Duration, Some(ms)) => {
            format!("\"{}\"", duration_text(Duration::from_millis(ms)))
        }
        (Kind::Size, Some(bytes)) => size_text(bytes),
        _ => value.to_string(),
    }
}

/// "3s", "10m 30s", "1h", "500ms": the largest units that add up exactly.
fn duration_text(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_string();
    }
    let mut parts = Vec::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            parts.push(format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    parts.join(" ")
}

/// "128MiB" when the size is a whole number of a binary unit; else bytes.
fn size_text(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("\"{}{unit}\"", bytes / size);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the config structs have must be documented here: a key
    /// added to a daemon's config without a line in KEYS fails this test.
    #[test]
    fn every_key_is_documented() {
        let defaults = defaults_table();
        for (section, value) in &defaults {
            let Some(table) = value.as_table() else {
                continue;
            };
            for (key, value) in table {
                if value.is_table() {
                    let nested = format!("{section}.{key}");
                    assert!(
                        KEYS.iter().any(|(s, _, _, _)| *s == nested),
                        "[{nested}] has no entry in KEYS"
                    );
                    continue;
                }
                assert!(
                    KEYS.iter().any(|(s, k, _, _)| s == section && k == key),
                    "{section}.{key} has no entry in KEYS (cli/src/config/defaults.rs)"
                );
            }
        }
    }

    #[test]
    fn printed_defaults_read_back_as_the_defaults() {
        let printed: FileConfig = toml::from_str(&print_default()).unwrap();
        let defaults = FileConfig::default();
        assert_eq!(printed.datanode, defaults.datanode);
        let mut namenode = printed.namenode;
        namenode.superuser = defaults.namenode.superuser.clone();
        assert_eq!(namenode, defaults.namenode);
        assert!(printed.client.namenode.is_none());
    }

    #[test]
    fn the_example_file_is_exactly_the_printed_defaults() {
        assert_eq!(
            include_str!("../../../cairn.example.toml"),
            print_default(),
            "regenerate it: cargo run --bin cairn -- config --print-default > cairn.example.toml"
        );
    }

    #[test]
    fn durations_and_sizes_read_well() {
        assert_eq!(duration_text(Duration::from_secs(630)), "10m 30s");
        assert_eq!(duration_text(Duration::from_millis(20)), "20ms");
        assert_eq!(duration_text(Duration::ZERO), "0s");
        assert_eq!(size_text(128 << 20), "\"128MiB\"");
        assert_eq!(size_text(0), "0");
        assert_eq!(size_text(1000), "1000");
    }
}
