//! `-du` and `-df` (Hadoop's `FsUsage`), printed through `TableBuilder`:
//! columns as wide as their widest cell, two spaces apart, the last
//! left-aligned column without trailing spaces.

use std::io::Write;

use cairn_client::FsStats;

use super::command_format::{CommandFormat, UNLIMITED};
use super::path_data::PathData;
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};
use crate::human;

/// Hadoop's `FsUsage.TableBuilder`.
#[derive(Debug, Default)]
pub(crate) struct TableBuilder {
    has_header: bool,
    rows: Vec<Vec<String>>,
    widths: Vec<usize>,
    right_align: Vec<bool>,
    hidden: Vec<bool>,
}

impl TableBuilder {
    pub(crate) fn new(columns: usize) -> Self {
        Self {
            has_header: false,
            rows: Vec::new(),
            widths: vec![0; columns],
            right_align: vec![false; columns],
            hidden: vec![false; columns],
        }
    }

    pub(crate) fn with_header(headers: &[&str]) -> Self {
        let mut table = Self::new(headers.len());
        table.add_row(headers.iter().map(|h| h.to_string()).collect());
        table.has_header = true;
        table
    }

    pub(crate) fn right_align(&mut self, columns: &[usize]) {
        for &c in columns {
            self.right_align[c] = true;
        }
    }

    pub(crate) fn hide(&mut self, column: usize) {
        self.hidden[column] = true;
    }

    pub(crate) fn add_row(&mut self, row: Vec<String>) {
        for (width, cell) in self.widths.iter_mut().zip(&row) {
            *width = (*width).max(cell.chars().count());
        }
        self.rows.push(row);
    }

    /// Rows other than the header.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.len() == usize::from(self.has_header)
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            return out;
        }
        let last = self.widths.len() - 1;
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if self.hidden[i] {
                    continue;
                }
                if !line.is_empty() {
                    line.push_str("  ");
                }
                let width = self.widths[i];
                if self.right_align[i] {
                    line.push_str(&format!("{cell:>width$}"));
                } else if i != last {
                    line.push_str(&format!("{cell:<width$}"));
                } else {
                    line.push_str(cell);
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

fn size_text(size: u64, human_readable: bool) -> String {
    if human_readable {
        human::human_size(size)
    } else {
        size.to_string()
    }
}

/// `-df [-h] [<path> ...]`: capacity, used and available space of the
/// cluster, one row per path.
pub(crate) async fn df<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(0, UNLIMITED, &["h"]);
    cf.parse(&mut args)?;
    let human_readable = cf.flag("h");
    if args.is_empty() {
        args.push("/".to_string());
    }
    let mut table = df_table();
    for item in shell.expand_arguments(&args).await {
        if !item.exists() {
            shell.display_error(ShellError::not_found(&item.display));
            continue;
        }
        match shell.fs.fs_stats().await {
            Ok(stats) => df_row(&mut table, &shell.fs_uri, &stats, human_readable),
            Err(err) => shell.display_error(ShellError::from(err)),
        }
    }
    if let Err(err) = write_table(shell, &table) {
        shell.display_error(err);
    }
    Ok(0)
}

pub(crate) fn df_table() -> TableBuilder {
    let mut table = TableBuilder::with_header(&[
        "Filesystem",
        "Size",
        "Used",
        "Available",
        "Use%",
        "Mounted on",
    ]);
    table.right_align(&[1, 2, 3, 4]);
    // "Mounted on" only means something for a ViewFs mount table.
    table.hide(5);
    table
}

pub(crate) fn df_row(
    table: &mut TableBuilder,
    fs_uri: &str,
    stats: &FsStats,
    human_readable: bool,
) {
    let used_fraction = stats.used as f64 / stats.capacity as f64;
    table.add_row(vec![
        fs_uri.to_string(),
        size_text(stats.capacity, human_readable),
        size_text(stats.used, human_readable),
        size_text(stats.remaining, human_readable),
        human::format_percent(used_fraction, 0),
        "/".to_string(),
    ]);
}

/// `-du [-s] [-h] [-v] [-x] <path> ...`: length and space consumed with all
/// replicas, of each path or, for a directory without `-s`, of each child.
pub(crate) async fn du<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(0, UNLIMITED, &["h", "s", "v", "x"]);
    cf.parse(&mut args)?;
    let human_readable = cf.flag("h");
    let summary = cf.flag("s");
    if args.is_empty() {
        args.push(".".to_string());
    }
    let mut table = if cf.flag("v") {
        TableBuilder::with_header(&[
            "SIZE",
            "DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS",
            "FULL_PATH_NAME",
        ])
    } else {
        TableBuilder::new(3)
    };
    for item in shell.expand_arguments(&args).await {
        if !item.exists() {
            shell.display_error(ShellError::not_found(&item.display));
            continue;
        }
        // One level deep into a directory given on the command line.
        let entries = if !summary && item.is_dir() {
            match shell.directory_contents(&item).await {
                Ok(children) => children,
                Err(err) => {
                    shell.display_error(err);
                    continue;
                }
            }
        } else {
            vec![item]
        };
        for entry in entries {
            if let Err(err) = du_row(shell, &mut table, &entry, human_readable).await {
                shell.display_error(err);
            }
        }
    }
    if let Err(err) = write_table(shell, &table) {
        shell.display_error(err);
    }
    Ok(0)
}

async fn du_row<F: FileSystem>(
    shell: &Shell<F>,
    table: &mut TableBuilder,
    item: &PathData,
    human_readable: bool,
) -> Result<(), ShellError> {
    let summary = shell.fs.content_summary(&item.path).await?;
    table.add_row(vec![
        size_text(summary.length, human_readable),
        size_text(summary.space_consumed, human_readable),
        item.display.clone(),
    ]);
    Ok(())
}

fn write_table<F: FileSystem>(
    shell: &mut Shell<F>,
    table: &TableBuilder,
) -> Result<(), ShellError> {
    let text = table.render();
    shell
        .out
        .write_all(text.as_bytes())
        .map_err(ShellError::stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn du_table(header: bool, rows: &[(u64, u64, &str)], human_readable: bool) -> String {
        let mut table = if header {
            TableBuilder::with_header(&[
                "SIZE",
                "DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS",
                "FULL_PATH_NAME",
            ])
        } else {
            TableBuilder::new(3)
        };
        for (len, consumed, path) in rows {
            table.add_row(vec![
                size_text(*len, human_readable),
                size_text(*consumed, human_readable),
                path.to_string(),
            ]);
        }
        table.render()
    }

    #[test]
    fn golden_du() {
        let rows = [
            (12, 36, "/d/a.txt"),
            (314_572_800, 943_718_400, "/d/big.bin"),
            (0, 0, "/d/sub"),
        ];
        assert_eq!(
            du_table(false, &rows, false),
            "\
12         36         /d/a.txt
314572800  943718400  /d/big.bin
0          0          /d/sub
"
        );
        assert_eq!(
            du_table(true, &rows, true),
            "\
SIZE   DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS  FULL_PATH_NAME
12     36                                     /d/a.txt
300 M  900 M                                  /d/big.bin
0      0                                      /d/sub
"
        );
    }

    #[test]
    fn golden_du_summary_human() {
        assert_eq!(
            du_table(false, &[(314_572_812, 943_718_436, "/d")], true),
            "300.0 M  900.0 M  /d\n"
        );
        assert_eq!(du_table(false, &[], false), "");
        assert_eq!(du_table(true, &[], false), "");
    }

    #[test]
    fn golden_df() {
        let stats = FsStats {
            capacity: 3 * 107_374_182_400,
            used: 943_718_400,
            remaining: 3 * 107_374_182_400 - 943_718_400 - 1_000_000,
            non_dfs_used: 1_000_000,
            ..Default::default()
        };
        let mut table = df_table();
        df_row(&mut table, "cairn://127.0.0.1:8020", &stats, false);
        assert_eq!(
            table.render(),
            "\
Filesystem                      Size       Used     Available  Use%
cairn://127.0.0.1:8020  322122547200  943718400  321177828800    0%
"
        );
        let mut table = df_table();
        df_row(&mut table, "cairn://127.0.0.1:8020", &stats, true);
        assert_eq!(
            table.render(),
            "\
Filesystem               Size   Used  Available  Use%
cairn://127.0.0.1:8020  300 G  900 M    299.1 G    0%
"
        );
        let mut empty = df_table();
        df_row(&mut empty, "cairn://h:1", &FsStats::default(), false);
        assert!(
            empty.render().ends_with("     0  NaN%\n"),
            "{}",
            empty.render()
        );
    }
}
