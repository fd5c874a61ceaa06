//! `cairn dfsadmin`: Hadoop's `DFSAdmin` for the commands Cairn's namenode
//! answers: `-report [-live] [-dead] [-decommissioning]`,
//! `-safemode enter|leave|get|wait|forceExit`, `-decommission host:port`,
//! `-recommission host:port`, `-printTopology` and `-help [cmd]` (HDFS
//! decommissions through its exclude file and `-refreshNodes`; Cairn's
//! namenode keeps that file itself and takes the node's address directly). Output and messages follow HDFS; the report's text is
//! built in `dfsadmin/report.rs`.

mod report;

use std::time::Duration;

use cairn_client::{
    ClientConfig, DatanodeAdminAction, DatanodeReportType, DfsClient, DfsError, SafeModeAction,
};

use crate::generic_options;
use crate::human;
use report::NodeSection;

/// How often `-safemode wait` asks again (HDFS: 5 s; shorter answers a
/// small cluster sooner).
const SAFE_MODE_POLL: Duration = Duration::from_secs(1);

/// The commands, as `-help` and the usage list them.
const USAGE_SUMMARY: &str = "\t[-report [-live] [-dead] [-decommissioning]]
\t[-safemode <enter | leave | get | wait | forceExit>]
\t[-decommission <host:port>]
\t[-recommission <host:port>]
\t[-printTopology]
\t[-help [cmd]]
";

/// `cairn dfsadmin ARGS...`; returns the exit code.
pub async fn run(base: ClientConfig, args: Vec<String>) -> i32 {
    let options = match generic_options::parse(base, args) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("{err}");
            eprint!("{}", usage(""));
            return 1;
        }
    };
    generic_options::warn_ignored(&options);
    let args = options.rest;
    let Some(cmd) = args.first().cloned() else {
        eprint!("{}", usage(""));
        return 1;
    };
    // Argument counts are checked before connecting, as DFSAdmin does.
    let count_ok = match cmd.as_str() {
        "-safemode" => args.len() == 2,
        "-report" => args.len() <= 6,
        "-printTopology" => args.len() == 1,
        "-decommission" | "-recommission" => args.len() == 2,
        _ => true,
    };
    if !count_ok {
        eprint!("{}", usage(&cmd));
        return 1;
    }
    if cmd == "-help" || cmd == "--help" || cmd == "-h" {
        print!("{}", help(args.get(1).map(String::as_str).unwrap_or("")));
        return 0;
    }
    let client = match DfsClient::connect(options.config).await {
        Ok(client) => client,
        Err(err) => {
            eprintln!("{}: {err}", name_of(&cmd));
            return 1;
        }
    };
    let result = match cmd.as_str() {
        "-report" => report(&client, &args[1..]).await,
        "-safemode" => safe_mode(&client, &args[1]).await,
        "-printTopology" => print_topology(&client).await,
        "-decommission" => {
            set_admin_state(&client, &args[1], DatanodeAdminAction::Decommission).await
        }
        "-recommission" => {
            set_admin_state(&client, &args[1], DatanodeAdminAction::Recommission).await
        }
        _ => {
            eprintln!("{}: Unknown command", name_of(&cmd));
            eprint!("{}", usage(""));
            return 1;
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let message = err.to_string();
            eprintln!(
                "{}: {}",
                name_of(&cmd),
                message.lines().next().unwrap_or("")
            );
            1
        }
    }
}

/// The command without its dash, as DFSAdmin prefixes messages.
fn name_of(cmd: &str) -> &str {
    cmd.strip_prefix('-').unwrap_or(cmd)
}

/// `DFSAdmin.printUsage(cmd)`.
fn usage(cmd: &str) -> String {
    match cmd {
        "-report" => "Usage: cairn dfsadmin [-report] [-live] [-dead] [-decommissioning]\n".into(),
        "-safemode" => {
            "Usage: cairn dfsadmin [-safemode enter | leave | get | wait | forceExit]\n".into()
        }
        "-printTopology" => "Usage: cairn dfsadmin [-printTopology]\n".into(),
        "-decommission" => "Usage: cairn dfsadmin [-decommission <host:port>]\n".into(),
        "-recommission" => "Usage: cairn dfsadmin [-recommission <host:port>]\n".into(),
        _ => format!(
            "Usage: cairn dfsadmin\nNote: Administrative commands can only be run as the Cairn superuser.\n{USAGE_SUMMARY}\n{}",
            generic_options::USAGE
        ),
    }
}

/// `DFSAdmin.printHelp(cmd)`.
fn help(cmd: &str) -> String {
    let report = "-report [-live] [-dead] [-decommissioning]:\n\
\tReports basic filesystem information and statistics. \n\
\tThe dfs usage can be different from \"du\" usage, because it\n\
\tmeasures raw space used by replication, checksums, snapshots\n\
\tand etc. on all the DNs.\n\
\tOptional flags may be used to filter the list of displayed DNs.\n";
    let safemode = "-safemode <enter|leave|get|wait|forceExit>:  Safe mode maintenance command.\n\
\t\tSafe mode is a Namenode state in which it\n\
\t\t\t1.  does not accept changes to the name space (read-only)\n\
\t\t\t2.  does not replicate or delete blocks.\n\
\t\tSafe mode is entered automatically at Namenode startup, and\n\
\t\tleaves safe mode automatically when the configured minimum\n\
\t\tpercentage of blocks satisfies the minimum replication\n\
\t\tcondition.  Safe mode can also be entered manually, but then\n\
\t\tit can only be turned off manually as well.\n";
    let decommission = "-decommission <host:port>: Start decommissioning the datanode whose\n\
\t\tdata transfer address is host:port (as -report names it).\n\
\t\tIt takes no new blocks; its replicas are copied to other\n\
\t\tdatanodes; once none is needed any more -report shows it\n\
\t\t\"Decommissioned\" and it can be stopped. Survives a\n\
\t\tnamenode restart.\n";
    let recommission = "-recommission <host:port>: Put a decommissioning or decommissioned\n\
\t\tdatanode back in service; replicas that became excess\n\
\t\tare removed.\n";
    let topology = "-printTopology: Print a tree of the racks and their\n\
\t\tnodes as reported by the Namenode\n";
    let help = "-help [cmd]: \tDisplays help for the given command or all commands if none\n\
\t\tis specified.\n";
    match cmd.strip_prefix('-').unwrap_or(cmd) {
        "report" => format!("{report}\n"),
        "safemode" => format!("{safemode}\n"),
        "printTopology" => format!("{topology}\n"),
        "decommission" => format!("{decommission}\n"),
        "recommission" => format!("{recommission}\n"),
        "help" => format!("{help}\n"),
        _ => format!(
            "cairn dfsadmin performs DFS administrative commands.\n\
Note: Administrative commands can only be run with superuser permission.\n\
The full syntax is: \n\ncairn dfsadmin\n{USAGE_SUMMARY}\n{report}\n{safemode}\n{decommission}\n{recommission}\n{topology}\n{help}\n\n{}",
            generic_options::USAGE
        ),
    }
}

/// `-report`: the cluster's capacity and block counts, then the datanodes.
async fn report(client: &DfsClient, flags: &[String]) -> Result<i32, DfsError> {
    let stats = client.fs_stats().await?;
    let (safe_mode, _) = client.set_safe_mode(SafeModeAction::SafemodeGet).await?;
    let live = flags.iter().any(|f| f == "-live");
    let dead = flags.iter().any(|f| f == "-dead");
    let decommissioning = flags.iter().any(|f| f == "-decommissioning");
    let all = !live && !dead && !decommissioning;
    let mut sections = Vec::new();
    for (wanted, kind, label) in [
        (live, DatanodeReportType::Live, "Live"),
        (dead, DatanodeReportType::Dead, "Dead"),
        (
            decommissioning,
            DatanodeReportType::Decommissioning,
            "Decommissioning",
        ),
    ] {
        if all || wanted {
            let mut nodes = client.datanode_report(kind).await?;
            nodes.sort_by(|a, b| (&a.host, a.xfer_port).cmp(&(&b.host, b.xfer_port)));
            sections.push(NodeSection {
                label,
                nodes,
                listed: wanted,
            });
        }
    }
    print!(
        "{}",
        report::format_report(&stats, safe_mode, &sections, &human::java_date_local)
    );
    Ok(0)
}

/// `-safemode enter|leave|get|wait|forceExit`.
async fn safe_mode(client: &DfsClient, action: &str) -> Result<i32, DfsError> {
    let (request, wait) = match action.to_ascii_lowercase().as_str() {
        "enter" => (SafeModeAction::SafemodeEnter, false),
        // Cairn has no blocks "from the future" to guard: a forced exit is
        // a plain leave.
        "leave" | "forceexit" => (SafeModeAction::SafemodeLeave, false),
        "get" => (SafeModeAction::SafemodeGet, false),
        "wait" => (SafeModeAction::SafemodeGet, true),
        _ => {
            eprint!("{}", usage("-safemode"));
            return Ok(1);
        }
    };
    let (mut on, _) = client.set_safe_mode(request).await?;
    while wait && on {
        tokio::time::sleep(SAFE_MODE_POLL).await;
        on = client.set_safe_mode(SafeModeAction::SafemodeGet).await?.0;
    }
    println!("Safe mode is {}", if on { "ON" } else { "OFF" });
    Ok(0)
}

/// `-decommission` / `-recommission host:port`.
async fn set_admin_state(
    client: &DfsClient,
    datanode: &str,
    action: DatanodeAdminAction,
) -> Result<i32, DfsError> {
    let node = client.set_datanode_admin_state(datanode, action).await?;
    let state = report::decommission_status(node.map_or(0, |n| n.admin_state));
    let verb = match action {
        DatanodeAdminAction::Decommission => "Decommission",
        DatanodeAdminAction::Recommission => "Recommission",
    };
    println!("{verb} of {datanode} successful; Decommission Status : {state}");
    Ok(0)
}

/// `-printTopology`.
async fn print_topology(client: &DfsClient) -> Result<i32, DfsError> {
    let nodes = client.datanode_report(DatanodeReportType::Live).await?;
    print!("{}", report::format_topology(&nodes));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_names_each_command() {
        assert_eq!(
            usage("-safemode"),
            "Usage: cairn dfsadmin [-safemode enter | leave | get | wait | forceExit]\n"
        );
        let all = usage("");
        assert!(all.starts_with("Usage: cairn dfsadmin\n"));
        assert!(all.contains("\t[-report [-live] [-dead] [-decommissioning]]\n"));
        assert!(all.contains("Generic options supported are:"));
    }

    #[test]
    fn help_per_command_and_for_all() {
        assert!(help("safemode").starts_with("-safemode <enter|leave|get|wait|forceExit>:"));
        assert!(help("-report").starts_with("-report [-live]"));
        let all = help("");
        assert!(all.contains("-printTopology:"));
        assert!(all.contains("-help [cmd]:"));
    }

    #[test]
    fn messages_use_the_name_without_dash() {
        assert_eq!(name_of("-report"), "report");
        assert_eq!(name_of("x"), "x");
    }
}
