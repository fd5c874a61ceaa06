//! `-stat [format] <path> ...` (Hadoop's `Stat`).
//!
//! Format sequences: `%a` octal permission, `%A` symbolic permission, `%b`
//! length in bytes, `%F` type, `%g` group, `%n` name, `%o` block size, `%r`
//! replication, `%u` owner, `%x`/`%X` access time (UTC date / ms), `%y`/`%Y`
//! modification time (UTC date / ms). An unknown `%c` prints `c`; a trailing
//! `%` is dropped. The default format is `%y`.

use super::command_format::{CommandFormat, UNLIMITED};
use super::path_data::PathData;
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};
use crate::human;

pub(crate) async fn stat<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, UNLIMITED, &["R"]);
    cf.parse(&mut args)?;
    let recursive = cf.flag("R");
    let mut format = "%y".to_string();
    if args.first().is_some_and(|a| a.contains('%')) {
        format = args.remove(0);
    }
    // Hadoop parses again so that a format alone is "not enough arguments".
    CommandFormat::new(1, UNLIMITED, &["R"]).parse(&mut args)?;
    for item in shell.expand_arguments(&args).await {
        if !item.exists() {
            shell.display_error(ShellError::not_found(&item.display));
            continue;
        }
        stat_tree(shell, &format, item, recursive).await;
    }
    Ok(0)
}

/// One line for `item`, then its subtree under `-R`.
async fn stat_tree<F: FileSystem>(
    shell: &mut Shell<F>,
    format: &str,
    item: PathData,
    recursive: bool,
) {
    if let Err(err) = shell.println(format_stat(format, &item)) {
        shell.display_error(err);
        return;
    }
    if recursive && item.is_dir() {
        match shell.directory_contents(&item).await {
            Ok(children) => {
                for child in children {
                    Box::pin(stat_tree(shell, format, child, recursive)).await;
                }
            }
            Err(err) => shell.display_error(err),
        }
    }
}

/// The line `format` describes for `item`.
pub(crate) fn format_stat(format: &str, item: &PathData) -> String {
    let Some(stat) = item.stat.as_ref() else {
        return String::new();
    };
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(code) = chars.next() else {
            break;
        };
        match code {
            'a' => out.push_str(&human::permission_octal(stat.permission).to_string()),
            'A' => out.push_str(&human::permission_string(stat.permission)),
            'b' => out.push_str(&stat.length.to_string()),
            'F' => out.push_str(if item.is_dir() {
                "directory"
            } else if item.is_file() {
                "regular file"
            } else {
                "symlink"
            }),
            'g' => out.push_str(&stat.group),
            'n' => out.push_str(item.name()),
            'o' => out.push_str(&stat.block_size.to_string()),
            'r' => out.push_str(&stat.replication.to_string()),
            'u' => out.push_str(&stat.owner),
            'x' => out.push_str(&human::stat_date(stat.access_time_ms)),
            'X' => out.push_str(&stat.access_time_ms.to_string()),
            'y' => out.push_str(&human::stat_date(stat.modification_time_ms)),
            'Y' => out.push_str(&stat.modification_time_ms.to_string()),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_client::{FileStatus, FileType};

    fn item(path: &str, stat: FileStatus) -> PathData {
        PathData::new(path, path).with_stat(Some(stat))
    }

    #[test]
    fn golden_every_format_character() {
        let stat = FileStatus {
            name: "data.csv".into(),
            file_type: FileType::File as i32,
            length: 314_572_800,
            replication: 3,
            block_size: 134_217_728,
            permission: 0o640,
            owner: "alice".into(),
            group: "analysts".into(),
            modification_time_ms: 1_704_164_645_678,
            access_time_ms: 1_704_078_245_000,
            ..Default::default()
        };
        let file = item("/d/data.csv", stat);
        assert_eq!(
            format_stat("%a|%A|%b|%F|%g|%n|%o|%r|%u|%x|%X|%y|%Y", &file),
            "640|rw-r-----|314572800|regular file|analysts|data.csv|134217728|3|alice|\
2024-01-01 03:04:05|1704078245000|2024-01-02 03:04:05|1704164645678"
        );
        assert_eq!(format_stat("%y", &file), "2024-01-02 03:04:05");
        assert_eq!(format_stat("100%% %q %", &file), "100% q ");
    }

    #[test]
    fn golden_directories_and_sticky_bits() {
        let dir = item(
            "/tmp",
            FileStatus {
                name: "tmp".into(),
                file_type: FileType::Directory as i32,
                permission: 0o1777,
                owner: "hdfs".into(),
                group: "supergroup".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            format_stat("%F %a %A %u:%g %b %r %o %n", &dir),
            "directory 1777 rwxrwxrwt hdfs:supergroup 0 0 0 tmp"
        );
        let link = item(
            "/l",
            FileStatus {
                name: "l".into(),
                file_type: FileType::Symlink as i32,
                ..Default::default()
            },
        );
        assert_eq!(format_stat("%F", &link), "symlink");
        let root = item(
            "/",
            FileStatus {
                file_type: FileType::Directory as i32,
                ..Default::default()
            },
        );
        assert_eq!(format_stat("[%n]", &root), "[]");
    }
}
