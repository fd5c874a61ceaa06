//! The command table and FsShell's `-help` / `-usage`: the synopsis of every
//! command (`Usage: cairn dfs [generic options]` then one `[-cmd ...]` line
//! each, sorted by name as Hadoop's `CommandFactory` sorts them), and each
//! command's description, wrapped at 80 columns with option lines set out
//! as a two-column table.

use std::io::Write;

use super::path_exceptions::UsageError;
use super::{FileSystem, Shell};
use crate::generic_options;

/// First words of every usage line.
pub(crate) const USAGE_PREFIX: &str = "Usage: cairn dfs [generic options]";

/// Where long help text wraps.
const MAX_LINE_WIDTH: usize = 80;

/// A command's name (without the dash), its switches and arguments, and
/// what it does.
#[derive(Debug)]
pub(crate) struct CommandInfo {
    pub(crate) name: &'static str,
    pub(crate) usage: &'static str,
    pub(crate) description: &'static str,
}

/// Every command, sorted by name.
pub(crate) const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "appendToFile",
        usage: "<localsrc> ... <dst>",
        description: "Appends the contents of all the given local files to the given dst file. \
The dst file will be created if it does not exist. If <localSrc> is -, then the input is \
read from stdin.",
    },
    CommandInfo {
        name: "cat",
        usage: "[-ignoreCrc] <src> ...",
        description: "Fetch all files that match the file pattern <src> and display their \
content on stdout.",
    },
    CommandInfo {
        name: "chgrp",
        usage: "[-R] GROUP PATH...",
        description: "This is equivalent to -chown ... :GROUP ...",
    },
    CommandInfo {
        name: "chmod",
        usage: "[-R] <MODE[,MODE]... | OCTALMODE> PATH...",
        description: "Changes permissions of a file. This works similar to the shell's chmod \
command with a few exceptions.\n\
-R: modifies the files recursively. This is the only option currently supported.\n\
<MODE>: Mode is the same as mode used for the shell's command. The only letters \
recognized are 'rwxXt', e.g. +t,a+r,g-w,+rwx,o=r.\n\
<OCTALMODE>: Mode specifed in 3 or 4 digits. If 4 digits, the first may be 1 or 0 to \
turn the sticky bit on or off, respectively.  Unlike the shell command, it is not \
possible to specify only part of the mode, e.g. 754 is same as u=rwx,g=rx,o=r.\n\n\
If none of 'augo' is specified, 'a' is assumed and unlike the shell command, no umask \
is applied.",
    },
    CommandInfo {
        name: "chown",
        usage: "[-R] [OWNER][:[GROUP]] PATH...",
        description: "Changes owner and group of a file. This is similar to the shell's chown \
command with a few exceptions.\n\
-R: modifies the files recursively. This is the only option currently supported.\n\n\
If only the owner or group is specified, then only the owner or group is modified. \
The owner and group names may only consist of digits, alphabet, and any of \
[-_./@a-zA-Z0-9]. The names are case sensitive.\n\n\
WARNING: Avoid using '.' to separate user name and group though Linux allows it. If \
user names have dots in them and you are using local file system, you might see \
surprising results since the shell command 'chown' is used for local files.",
    },
    CommandInfo {
        name: "copyFromLocal",
        usage: "[-f] [-p] [-l] [-d] <localsrc> ... <dst>",
        description: "Identical to the -put command.",
    },
    CommandInfo {
        name: "copyToLocal",
        usage: "[-f] [-p] [-ignoreCrc] <src> ... <localdst>",
        description: "Identical to the -get command.",
    },
    CommandInfo {
        name: "count",
        usage: "[-q] [-h] [-v] [-u] [-x] <path> ...",
        description: "Count the number of directories, files and bytes under the paths\n\
that match the specified file pattern.  The output columns are:\n\
DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME\n\
or, with the -q option:\n\
QUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA\n      \
DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME\n\
The -h option shows file sizes in human readable format.\n\
The -v option displays a header line.\n\
The -x option excludes snapshots from being calculated. \n\
The -u option shows the quota and \n\
the usage against the quota without the detailed content summary.",
    },
    CommandInfo {
        name: "cp",
        usage: "[-f] [-p | -p[topax]] [-d] <src> ... <dst>",
        description: "Copy files that match the file pattern <src> to a destination.  When \
copying multiple files, the destination must be a directory. Passing -p preserves status \
[topax] (timestamps, ownership, permission, ACLs, XAttr). If -p is specified with no \
<arg>, then preserves timestamps, ownership, permission. If -pa is specified, then \
preserves permission also because ACL is a super-set of permission. Passing -f \
overwrites the destination if it already exists. Passing -d will skip creation of \
temporary file(<dst>._COPYING_).",
    },
    CommandInfo {
        name: "df",
        usage: "[-h] [<path> ...]",
        description: "Shows the capacity, free and used space of the filesystem. If the \
filesystem has multiple partitions, and no path to a particular partition is specified, \
then the status of the root partitions will be shown.\n\
-h: Formats the sizes of files in a human-readable fashion rather than a number of bytes.",
    },
    CommandInfo {
        name: "du",
        usage: "[-s] [-h] [-v] [-x] <path> ...",
        description: "Show the amount of space, in bytes, used by the files that match the \
specified file pattern. The following flags are optional:\n\
-s: Rather than showing the size of each individual file that matches the pattern, \
shows the total (summary) size.\n\
-h: Formats the sizes of files in a human-readable fashion rather than a number of bytes.\n\
-v: option displays a header line.\n\
-x: Excludes snapshots from being counted.\n\n\
Note that, even without the -s option, this only shows size summaries one level deep \
into a directory.\n\n\
The output is in the form \n\
\tsize\tdisk space consumed\tname(full path)",
    },
    CommandInfo {
        name: "get",
        usage: "[-f] [-p] [-ignoreCrc] <src> ... <localdst>",
        description: "Copy files that match the file pattern <src> to the local name.  <src> \
is kept.  When copying multiple files, the destination must be a directory. Passing -f \
overwrites the destination if it already exists and -p preserves access and \
modification times and the mode.",
    },
    CommandInfo {
        name: "head",
        usage: "<file>",
        description: "Show the first 1KB of the file.",
    },
    CommandInfo {
        name: "help",
        usage: "[cmd ...]",
        description: "Displays help for given command or all commands if none is specified.",
    },
    CommandInfo {
        name: "ls",
        usage: "[-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...]",
        description: "List the contents that match the specified file pattern. If path is not \
specified, the contents of /user/<currentUser> will be listed. For a directory a list of \
its direct children is returned (unless -d option is specified).\n\n\
Directory entries are of the form:\n\
\tpermissions - userId groupId sizeOfDirectory(in bytes) modificationDate(yyyy-MM-dd HH:mm) directoryName\n\n\
and file entries are of the form:\n\
\tpermissions numberOfReplicas userId groupId sizeOfFile(in bytes) modificationDate(yyyy-MM-dd HH:mm) fileName\n\n\
  -C  Display the paths of files and directories only.\n\
  -d  Directories are listed as plain files.\n\
  -h  Formats the sizes of files in a human-readable fashion\n      \
rather than a number of bytes.\n\
  -q  Print ? instead of non-printable characters.\n\
  -R  Recursively list the contents of directories.\n\
  -t  Sort files by modification time (most recent first).\n\
  -S  Sort files by size.\n\
  -r  Reverse the order of the sort.\n\
  -u  Use time of last access instead of modification for\n      \
display and sorting.",
    },
    CommandInfo {
        name: "mkdir",
        usage: "[-p] <path> ...",
        description: "Create a directory in specified location.\n\
-p: Do not fail if the directory already exists",
    },
    CommandInfo {
        name: "moveFromLocal",
        usage: "[-f] [-p] [-l] [-d] <localsrc> ... <dst>",
        description: "Same as -put, except that the source is deleted after it's copied.",
    },
    CommandInfo {
        name: "mv",
        usage: "<src> ... <dst>",
        description: "Move files that match the specified file pattern <src> to a destination \
<dst>.  When moving multiple files, the destination must be a directory.",
    },
    CommandInfo {
        name: "put",
        usage: "[-f] [-p] [-l] [-d] <localsrc> ... <dst>",
        description: "Copy files from the local file system into fs. Copying fails if the file \
already exists, unless the -f flag is given.\n\
Flags:\n  \
-p : Preserves access and modification times and the mode.\n  \
-f : Overwrites the destination if it already exists.\n  \
-l : Forces replication factor of 1. This flag will result in reduced durability. Use with care.\n  \
-d : Skip creation of temporary file(<dst>._COPYING_).",
    },
    CommandInfo {
        name: "rm",
        usage: "[-f] [-r|-R] [-skipTrash] <src> ...",
        description: "Delete all files that match the specified file pattern. Equivalent to \
the Unix command \"rm <src>\"\n\
-f: If the file does not exist, do not display a diagnostic message or modify the exit \
status to reflect an error.\n\
-[rR]:  Recursively deletes directories.\n\
-skipTrash: option bypasses trash, if enabled, and immediately deletes <src>. Cairn has \
no trash, so deletion is always immediate.",
    },
    CommandInfo {
        name: "rmdir",
        usage: "[--ignore-fail-on-non-empty] <dir> ...",
        description: "Removes the directory entry specified by each directory argument, \
provided it is empty.",
    },
    CommandInfo {
        name: "setrep",
        usage: "[-R] [-w] <rep> <path> ...",
        description: "Set the replication level of a file. If <path> is a directory then the \
command recursively changes the replication factor of all files under the directory tree \
rooted at <path>.\n\
-w: It requests that the command waits for the replication to complete. This can \
potentially take a very long time.\n\
-R: It is accepted for backwards compatibility. It has no effect.",
    },
    CommandInfo {
        name: "stat",
        usage: "[format] <path> ...",
        description: "Print statistics about the file/directory at <path>\n\
in the specified format. Format accepts permissions in\n\
octal (%a) and symbolic (%A), filesize in\n\
bytes (%b), type (%F), group name of owner (%g),\n\
name (%n), block size (%o), replication (%r), user name\n\
of owner (%u), access date (%x, %X).\n\
modification date (%y, %Y).\n\
%x and %y show UTC date as \"yyyy-MM-dd HH:mm:ss\" and\n\
%X and %Y show milliseconds since January 1, 1970 UTC.\n\
If the format is not specified, %y is used by default.",
    },
    CommandInfo {
        name: "tail",
        usage: "[-f] [-s <sleep interval>] <file>",
        description: "Show the last 1KB of the file.\n\
-f: Shows appended data as the file grows.\n\
-s: With -f , defines the sleep interval between iterations in milliseconds.",
    },
    CommandInfo {
        name: "test",
        usage: "-[defsz] <path>",
        description: "Answer various questions about <path>, with result via exit status.\n  \
-d  return 0 if <path> is a directory.\n  \
-e  return 0 if <path> exists.\n  \
-f  return 0 if <path> is a file.\n  \
-s  return 0 if file <path> is greater than zero bytes in size.\n  \
-z  return 0 if file <path> is zero bytes in size, else return 1.",
    },
    CommandInfo {
        name: "touch",
        usage: "[-a] [-m] [-t TIMESTAMP (yyyyMMdd:HHmmss) ] [-c] <path> ...",
        description: "Updates the access and modification times of the file specified by the \
<path> to the current time. If the file does not exist, then a zero length file is \
created at <path> with current time as the timestamp of that <path>.\n\
-a Change only the access time \n\
-m Change only the modification time \n\
-t TIMESTAMP Use specified timestamp instead of current time\n\
TIMESTAMP format yyyyMMdd:HHmmss\n\
-c Do not create any files",
    },
    CommandInfo {
        name: "touchz",
        usage: "<path> ...",
        description: "Creates a file of zero length at <path> with current time as the \
timestamp of that <path>. An error is returned if the file exists with non-zero length",
    },
    CommandInfo {
        name: "truncate",
        usage: "[-w] <length> <path> ...",
        description: "Truncate all files that match the specified file pattern to the \
specified length.\n\
-w: Requests that the command wait for block recovery to complete, if necessary.",
    },
    CommandInfo {
        name: "usage",
        usage: "[cmd ...]",
        description: "Displays the usage for given command or all commands if none is specified.",
    },
];

/// The command of that name (without the dash).
pub(crate) fn find(name: &str) -> Option<&'static CommandInfo> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// `Command.getUsage()`: `-ls [-C] [-d] ...`.
pub(crate) fn usage_line(info: &CommandInfo) -> String {
    if info.usage.is_empty() {
        format!("-{}", info.name)
    } else {
        format!("-{} {}", info.name, info.usage)
    }
}

/// `-help [cmd ...]` (`show_help`) and `-usage [cmd ...]`.
pub(crate) fn help<F: FileSystem>(
    shell: &mut Shell<F>,
    args: Vec<String>,
    show_help: bool,
) -> Result<i32, UsageError> {
    if args.is_empty() {
        print_all_usage(&mut shell.out, show_help);
        return Ok(0);
    }
    for arg in &args {
        let name = arg.strip_prefix('-').unwrap_or(arg);
        let info = find(name).ok_or_else(|| UsageError(format!("`{arg}': Unknown command")))?;
        if show_help {
            print_help(&mut shell.out, info);
        } else {
            let _ = writeln!(shell.out, "{USAGE_PREFIX} {}", usage_line(info));
        }
    }
    Ok(0)
}

/// `FsShell.printInfo` for all commands: the synopsis, with every
/// description when `show_help`, then the generic options.
pub(crate) fn print_all_usage(out: &mut dyn Write, show_help: bool) {
    let mut text = format!("{USAGE_PREFIX}\n");
    for info in COMMANDS {
        text.push_str(&format!("\t[{}]\n", usage_line(info)));
    }
    if show_help {
        for info in COMMANDS {
            text.push('\n');
            text.push_str(&help_text(info));
        }
    }
    text.push('\n');
    text.push_str(generic_options::USAGE);
    let _ = out.write_all(text.as_bytes());
}

/// `FsShell.printInstanceHelp` for one command.
pub(crate) fn print_help(out: &mut dyn Write, info: &CommandInfo) {
    let _ = out.write_all(help_text(info).as_bytes());
}

/// The usage line, then the description indented by two spaces: plain
/// lines wrapped at 80 columns, `-x: text` lines as a table.
fn help_text(info: &CommandInfo) -> String {
    const PREFIX: &str = "  ";
    let mut text = format!("{} :\n", usage_line(info));
    let mut table: Vec<(String, String)> = Vec::new();
    for line in info.description.split('\n') {
        if let Some(row) = option_row(line) {
            table.push(row);
            continue;
        }
        flush_table(&mut text, &mut table, PREFIX);
        for wrapped in wrap(line, MAX_LINE_WIDTH) {
            text.push_str(PREFIX);
            text.push_str(&wrapped);
            text.push('\n');
        }
    }
    flush_table(&mut text, &mut table, PREFIX);
    text
}

/// A `-x: description` or `<arg>: description` line, as a table row.
fn option_row(line: &str) -> Option<(String, String)> {
    let trimmed = line.trim_start();
    if !(trimmed.starts_with('-') || trimmed.starts_with('<')) {
        return None;
    }
    let mut parts = line.split(':');
    let (first, second) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((first.trim().to_string(), second.trim().to_string()))
}

/// Two columns: the options padded to the widest, the text wrapped beside.
fn flush_table(text: &mut String, table: &mut Vec<(String, String)>, prefix: &str) {
    let width = table
        .iter()
        .map(|(o, _)| o.chars().count())
        .max()
        .unwrap_or(0);
    let text_width = MAX_LINE_WIDTH.saturating_sub(width + 1).max(20);
    for (option, description) in table.drain(..) {
        for (i, piece) in wrap(&description, text_width).into_iter().enumerate() {
            let left = if i == 0 { option.as_str() } else { "" };
            let line = format!("{prefix}{left:<width$} {piece}");
            text.push_str(line.trim_end());
            text.push('\n');
        }
    }
}

/// Word-wraps at `width` columns; words longer than a line are cut.
fn wrap(line: &str, width: usize) -> Vec<String> {
    if line.chars().count() <= width {
        return vec![line.to_string()];
    }
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > width {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            let cut: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(cut);
        }
        let needed = if current.is_empty() {
            word.len()
        } else {
            current.len() + 1 + word.len()
        };
        if needed > width && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_sorted_and_unique() {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn synopsis_lists_every_command() {
        let mut out = Vec::new();
        print_all_usage(&mut out, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(
            "Usage: cairn dfs [generic options]\n\t[-appendToFile <localsrc> ... <dst>]\n"
        ));
        assert!(
            text.contains("\t[-ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...]]\n")
        );
        assert!(text.contains("Generic options supported are:"));
    }

    #[test]
    fn help_sets_options_out_as_a_table() {
        let text = help_text(find("mkdir").unwrap());
        assert_eq!(
            text,
            "-mkdir [-p] <path> ... :\n  Create a directory in specified location.\n  -p Do not fail if the directory already exists\n"
        );
        let ls = help_text(find("ls").unwrap());
        assert!(
            ls.starts_with("-ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...] :\n")
        );
        assert!(
            ls.lines()
                .all(|l| l.chars().count() <= 2 + MAX_LINE_WIDTH || l.contains("modificationDate"))
        );
    }

    #[test]
    fn wrap_breaks_at_words() {
        assert_eq!(wrap("a b c", 3), ["a b", "c"]);
        assert_eq!(wrap("short", 80), ["short"]);
        assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
    }
}
