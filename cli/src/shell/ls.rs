//! `-ls` (Hadoop's `Ls`): one line per path,
//! `drwxr-xr-x   - alice supergroup          0 2024-01-02 03:04 /d`.
//!
//! As in Ls.java the column widths only ever grow during one command: they
//! start at 3 (replication) and 10 (size) and widen to the widest value seen
//! in each batch of lines (a whole directory, or 100 entries at a time under
//! `-R`), so columns line up within a listing.

use super::command_format::{CommandFormat, UNLIMITED};
use super::path_data::PathData;
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};
use crate::human;

/// Entries per batch of a recursive listing (`getListingGroupSize`).
const LISTING_GROUP_SIZE: usize = 100;

/// The switches of one `-ls`.
#[derive(Debug, Clone, Default)]
pub(crate) struct LsOptions {
    pub(crate) path_only: bool,
    pub(crate) dir_recurse: bool,
    pub(crate) recursive: bool,
    pub(crate) human: bool,
    pub(crate) hide_non_printable: bool,
    pub(crate) reverse: bool,
    pub(crate) order_time: bool,
    pub(crate) order_size: bool,
    pub(crate) use_atime: bool,
}

/// The running column widths and how a line is laid out (`lineFormat`).
#[derive(Debug, Clone)]
pub(crate) struct LsFormat {
    pub(crate) options: LsOptions,
    max_repl: usize,
    max_len: usize,
    max_owner: usize,
    max_group: usize,
    /// Dates in the local time zone unless a test fixes one.
    pub(crate) date: fn(u64) -> String,
}

impl LsFormat {
    pub(crate) fn new(options: LsOptions) -> Self {
        Self {
            options,
            max_repl: 3,
            max_len: 10,
            max_owner: 0,
            max_group: 0,
            date: human::ls_date_local,
        }
    }

    /// `adjustColumnWidths`: widen the columns for a batch of entries.
    /// Widths count the raw values (the size's digits even under `-h`).
    pub(crate) fn adjust(&mut self, items: &[PathData]) {
        for stat in items.iter().filter_map(|i| i.stat.as_ref()) {
            self.max_repl = self.max_repl.max(stat.replication.to_string().len());
            self.max_len = self.max_len.max(stat.length.to_string().len());
            self.max_owner = self.max_owner.max(stat.owner.chars().count());
            self.max_group = self.max_group.max(stat.group.chars().count());
        }
    }

    /// One line of the listing.
    pub(crate) fn line(&self, item: &PathData) -> String {
        let Some(stat) = item.stat.as_ref() else {
            return item.display.clone();
        };
        let kind = if item.is_dir() { "d" } else { "-" };
        let permission = human::permission_string(stat.permission);
        let replication = if item.is_file() {
            stat.replication.to_string()
        } else {
            "-".to_string()
        };
        let size = if self.options.human {
            human::human_size(stat.length)
        } else {
            stat.length.to_string()
        };
        let time = if self.options.use_atime {
            stat.access_time_ms
        } else {
            stat.modification_time_ms
        };
        let name = if self.options.hide_non_printable {
            printable(&item.display)
        } else {
            item.display.clone()
        };
        format!(
            "{kind}{permission} {replication:>repl$} {owner}{group}{size:>len$} {date} {name}",
            repl = self.max_repl,
            owner = pad_column(&stat.owner, self.max_owner),
            group = pad_column(&stat.group, self.max_group),
            len = self.max_len,
            date = (self.date)(time),
        )
    }
}

/// `%-Ns ` for a column of width N, or `%s` when the column is empty
/// (Java's formatter has no zero width).
fn pad_column(value: &str, width: usize) -> String {
    if width == 0 {
        value.to_string()
    } else {
        let pad = width.saturating_sub(value.chars().count());
        format!("{value}{} ", " ".repeat(pad))
    }
}

/// `PrintableString`: non-printable characters as `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Sorts a directory's entries as `-t`, `-S`, `-r` ask (name order by
/// default, newest or largest first).
pub(crate) fn sort_entries(items: &mut [PathData], options: &LsOptions) {
    let key = |item: &PathData| -> (u64, u64) {
        let stat = item.stat.as_ref();
        let time = stat.map_or(0, |s| {
            if options.use_atime {
                s.access_time_ms
            } else {
                s.modification_time_ms
            }
        });
        (time, stat.map_or(0, |s| s.length))
    };
    items.sort_by(|a, b| {
        let order = if options.order_time {
            key(b).0.cmp(&key(a).0)
        } else if options.order_size {
            key(b).1.cmp(&key(a).1)
        } else {
            a.path.cmp(&b.path)
        };
        if options.reverse {
            order.reverse()
        } else {
            order
        }
    });
}

pub(crate) async fn ls<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(0, UNLIMITED, &["C", "d", "h", "q", "R", "r", "t", "S", "u"]);
    cf.parse(&mut args)?;
    let dir_recurse = !cf.flag("d");
    let order_time = cf.flag("t");
    let options = LsOptions {
        path_only: cf.flag("C"),
        dir_recurse,
        recursive: cf.flag("R") && dir_recurse,
        human: cf.flag("h"),
        hide_non_printable: cf.flag("q"),
        reverse: cf.flag("r"),
        order_time,
        order_size: !order_time && cf.flag("S"),
        use_atime: cf.flag("u"),
    };
    if args.is_empty() {
        args.push(".".to_string());
    }
    let mut format = LsFormat::new(options);
    let items = shell.expand_arguments(&args).await;
    for item in items {
        if !item.exists() {
            shell.display_error(ShellError::not_found(&item.display));
            continue;
        }
        if let Err(err) = list_argument(shell, &mut format, item).await {
            shell.display_error(err);
        }
    }
    Ok(0)
}

/// `processPathArgument`: a directory on the command line lists its
/// children, anything else lists itself.
async fn list_argument<F: FileSystem>(
    shell: &mut Shell<F>,
    format: &mut LsFormat,
    item: PathData,
) -> Result<(), ShellError> {
    if format.options.dir_recurse && item.is_dir() {
        recurse(shell, format, &item).await
    } else {
        list_paths(shell, format, None, vec![item]).await;
        Ok(())
    }
}

/// `recursePath`: the children of a directory, all at once when they are
/// to be sorted or counted ("Found N items"), else in batches.
async fn recurse<F: FileSystem>(
    shell: &mut Shell<F>,
    format: &mut LsFormat,
    dir: &PathData,
) -> Result<(), ShellError> {
    let children = shell.directory_contents(dir).await?;
    if format.options.recursive {
        let group = if format.options.path_only {
            1
        } else {
            LISTING_GROUP_SIZE
        };
        let mut children = children.into_iter().peekable();
        while children.peek().is_some() {
            let batch: Vec<PathData> = children.by_ref().take(group).collect();
            Box::pin(list_paths(shell, format, Some(dir), batch)).await;
        }
    } else {
        Box::pin(list_paths(shell, format, Some(dir), children)).await;
    }
    Ok(())
}

/// `processPaths`: the header, the sort and the widths of a batch, then one
/// line per entry, descending into directories under `-R`.
async fn list_paths<F: FileSystem>(
    shell: &mut Shell<F>,
    format: &mut LsFormat,
    parent: Option<&PathData>,
    mut items: Vec<PathData>,
) {
    if parent.is_some() && !format.options.recursive && !items.is_empty() {
        if !format.options.path_only {
            let header = format!("Found {} items", items.len());
            if let Err(err) = shell.println(header) {
                shell.display_error(err);
            }
        }
        sort_entries(&mut items, &format.options);
    }
    if !format.options.path_only {
        format.adjust(&items);
    }
    for item in items {
        let line = if format.options.path_only {
            if format.options.hide_non_printable {
                printable(&item.display)
            } else {
                item.display.clone()
            }
        } else {
            format.line(&item)
        };
        if let Err(err) = shell.println(line) {
            shell.display_error(err);
            continue;
        }
        if format.options.recursive
            && item.is_dir()
            && let Err(err) = recurse(shell, format, &item).await
        {
            shell.display_error(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_client::{FileStatus, FileType};

    const MS: u64 = 1_704_164_645_678; // 2024-01-02 03:04:05 UTC

    fn utc(ms: u64) -> String {
        human::ls_date(ms, &chrono::Utc)
    }

    pub(crate) fn dir(name: &str, owner: &str, group: &str) -> FileStatus {
        FileStatus {
            name: name.into(),
            file_type: FileType::Directory as i32,
            permission: 0o755,
            owner: owner.into(),
            group: group.into(),
            modification_time_ms: MS,
            access_time_ms: 0,
            ..Default::default()
        }
    }

    pub(crate) fn file(name: &str, len: u64, repl: u32, owner: &str, group: &str) -> FileStatus {
        FileStatus {
            name: name.into(),
            file_type: FileType::File as i32,
            length: len,
            replication: repl,
            block_size: 128 << 20,
            permission: 0o644,
            owner: owner.into(),
            group: group.into(),
            modification_time_ms: MS,
            access_time_ms: MS - 60_000,
            ..Default::default()
        }
    }

    fn batch(entries: &[(&str, FileStatus)]) -> Vec<PathData> {
        entries
            .iter()
            .map(|(d, s)| PathData::new(*d, *d).with_stat(Some(s.clone())))
            .collect()
    }

    fn render(format: &mut LsFormat, items: &[PathData]) -> String {
        format.adjust(items);
        items.iter().map(|i| format.line(i) + "\n").collect()
    }

    #[test]
    fn golden_directory_listing() {
        let mut format = LsFormat::new(LsOptions::default());
        format.date = utc;
        let items = batch(&[
            ("/d/a.txt", file("a.txt", 12, 3, "alice", "supergroup")),
            (
                "/d/big.bin",
                file("big.bin", 314_572_800, 3, "alice", "supergroup"),
            ),
            ("/d/sub", dir("sub", "bob", "staff")),
        ]);
        assert_eq!(
            render(&mut format, &items),
            "\
-rw-r--r--   3 alice supergroup         12 2024-01-02 03:04 /d/a.txt
-rw-r--r--   3 alice supergroup  314572800 2024-01-02 03:04 /d/big.bin
drwxr-xr-x   - bob   staff               0 2024-01-02 03:04 /d/sub
"
        );
    }

    #[test]
    fn golden_widths_grow_and_never_shrink() {
        let mut format = LsFormat::new(LsOptions::default());
        format.date = utc;
        let wide = batch(&[(
            "/huge",
            file("huge", 12_345_678_901_234, 10, "averylongowner", "g"),
        )]);
        let narrow = batch(&[("/x", file("x", 1, 1, "a", "g"))]);
        let text = render(&mut format, &wide) + &render(&mut format, &narrow);
        assert_eq!(
            text,
            "\
-rw-r--r--  10 averylongowner g 12345678901234 2024-01-02 03:04 /huge
-rw-r--r--   1 a              g              1 2024-01-02 03:04 /x
"
        );
    }

    #[test]
    fn golden_human_sizes_and_sticky_dirs() {
        let mut format = LsFormat::new(LsOptions {
            human: true,
            ..Default::default()
        });
        format.date = utc;
        let mut tmp = dir("tmp", "hdfs", "supergroup");
        tmp.permission = 0o1777;
        let items = batch(&[
            ("/f", file("f", 44 * 1024 * 1024, 3, "hdfs", "supergroup")),
            ("/g", file("g", 1536, 2, "hdfs", "supergroup")),
            ("/tmp", tmp),
        ]);
        assert_eq!(
            render(&mut format, &items),
            "\
-rw-r--r--   3 hdfs supergroup       44 M 2024-01-02 03:04 /f
-rw-r--r--   2 hdfs supergroup      1.5 K 2024-01-02 03:04 /g
drwxrwxrwt   - hdfs supergroup          0 2024-01-02 03:04 /tmp
"
        );
    }

    #[test]
    fn access_time_and_non_printable_names() {
        let mut format = LsFormat::new(LsOptions {
            use_atime: true,
            hide_non_printable: true,
            ..Default::default()
        });
        format.date = utc;
        let items = batch(&[("/a\u{7}b", file("a\u{7}b", 0, 1, "u", "g"))]);
        assert_eq!(
            render(&mut format, &items),
            "-rw-r--r--   1 u g          0 2024-01-02 03:03 /a?b\n"
        );
    }

    #[test]
    fn sorting_by_time_size_and_reverse() {
        let mut old = file("old", 5, 1, "u", "g");
        old.modification_time_ms = 1;
        let new = file("new", 1, 1, "u", "g");
        let big = file("big", 100, 1, "u", "g");
        let mut items = batch(&[("/old", old), ("/new", new), ("/big", big)]);
        let names =
            |items: &[PathData]| items.iter().map(|i| i.display.clone()).collect::<Vec<_>>();
        sort_entries(&mut items, &LsOptions::default());
        assert_eq!(names(&items), ["/big", "/new", "/old"]);
        sort_entries(
            &mut items,
            &LsOptions {
                order_size: true,
                ..Default::default()
            },
        );
        assert_eq!(names(&items), ["/big", "/old", "/new"]);
        sort_entries(
            &mut items,
            &LsOptions {
                order_time: true,
                ..Default::default()
            },
        );
        assert_eq!(names(&items)[2], "/old");
        sort_entries(
            &mut items,
            &LsOptions {
                reverse: true,
                ..Default::default()
            },
        );
        assert_eq!(names(&items), ["/old", "/new", "/big"]);
    }
}
