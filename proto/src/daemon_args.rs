//! The command lines of `cairn namenode` and `cairn datanode` for programs
//! that run Cairn's daemons as child processes — `cairn chaos`'s local
//! cluster and the tests' MiniCluster — so that the flags are spelled in
//! one place. Each daemon takes an ephemeral HTTP port; the caller reads
//! the addresses it prints once it listens.

use std::path::Path;

/// Where a daemon's HTTP server listens: any free port on loopback.
const EPHEMERAL_HTTP: &str = "127.0.0.1:0";

/// `namenode` serving RPC on `rpc_address` (port 0 for any free port).
pub fn namenode(rpc_address: &str) -> Vec<String> {
    [
        "namenode",
        "--rpc-address",
        rpc_address,
        "--http-address",
        EPHEMERAL_HTTP,
    ]
    .map(String::from)
    .to_vec()
}

/// `datanode` keeping its replicas in `data_dir` and serving DataTransfer
/// on `address`, registering with `namenode` when given (otherwise the one
/// its config file or `CAIRN_NAMENODE` names).
pub fn datanode(data_dir: &Path, address: &str, namenode: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "datanode".to_string(),
        "--data-dir".to_string(),
        data_dir.display().to_string(),
        "--address".to_string(),
        address.to_string(),
    ];
    if let Some(namenode) = namenode {
        args.extend(["--namenode".to_string(), namenode.to_string()]);
    }
    args.extend(["--http-address".to_string(), EPHEMERAL_HTTP.to_string()]);
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datanode_names_its_namenode_only_when_given() {
        let dir = Path::new("/data/dn0");
        let args = datanode(dir, "127.0.0.1:0", None);
        assert!(!args.iter().any(|a| a == "--namenode"));
        let args = datanode(dir, "127.0.0.1:9866", Some("127.0.0.1:8020"));
        let at = args.iter().position(|a| a == "--namenode").unwrap();
        assert_eq!(args[at + 1], "127.0.0.1:8020");
        assert_eq!(&args[..3], ["datanode", "--data-dir", "/data/dn0"]);
    }
}
