//! `cairn dfs`: Hadoop's FsShell. Every command keeps `hdfs dfs`'s
//! switches, output format, error messages and exit codes, so scripts
//! written for HDFS work after changing the command name.
//!
//! Layout, by HDFS class:
//! * this file: `FsShell` (dispatch, `-help`, `-usage`) and the shared part
//!   of `Command` (argument expansion, error display, exit codes);
//! * `command_format.rs` (`CommandFormat`), `path_data.rs` (`PathData`),
//!   `path_exceptions.rs` (`PathExceptions`), `glob.rs` (`Globber`),
//!   `file_system.rs` (what commands need of a file system);
//! * one file per command family: `ls.rs`, `mkdir.rs`, `touch.rs`,
//!   `delete.rs` (rm, rmdir), `move_commands.rs` (mv), `copy_commands.rs`
//!   (put, cp), `copy_to_local.rs` (get), `append_to_file.rs`, all over
//!   `command_with_destination.rs`, `transfer.rs` and `local.rs`,
//!   `display.rs` (cat, head), `tail.rs`, `fs_usage.rs` (du, df),
//!   `count.rs`, `stat.rs`, `set_replication.rs`, `permissions.rs`
//!   (chmod, chown, chgrp) with `chmod_parser.rs`, `test.rs`, `truncate.rs`.
//!
//! The shell is generic over [`file_system::FileSystem`] so that its tests
//! run every command against an in-memory namespace; `run` uses the real
//! `DfsClient`.

mod append_to_file;
mod chmod_parser;
mod command_format;
mod command_with_destination;
mod copy_commands;
mod copy_to_local;
mod count;
mod delete;
mod display;
#[cfg(test)]
pub(crate) mod fake_fs;
mod file_system;
mod fs_usage;
mod glob;
mod help;
mod local;
mod ls;
mod mkdir;
mod move_commands;
mod path_data;
mod path_exceptions;
mod permissions;
mod set_replication;
mod stat;
mod tail;
mod test;
mod touch;
mod transfer;
mod truncate;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::rc::Rc;

use cairn_client::{ClientConfig, DfsClient};
use tokio::io::AsyncRead;

use crate::generic_options;
pub(crate) use file_system::FileSystem;
use path_data::PathData;
pub(crate) use path_data::join as join_path;
pub(crate) use path_data::normalize;
use path_exceptions::{ShellError, UsageError};

/// `cairn dfs ARGS...`: generic options, then one command and its
/// arguments. Returns the process exit code.
pub async fn run(base: ClientConfig, args: Vec<String>) -> i32 {
    let options = match generic_options::parse(base, args) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("{err}");
            let mut stderr = std::io::stderr();
            help::print_all_usage(&mut stderr, false);
            return 1;
        }
    };
    generic_options::warn_ignored(&options);
    let config = options.config;
    let fs_uri = fs_uri_of(&config.namenode);
    let home = format!("/user/{}", config.user);
    let client = match DfsClient::connect(config).await {
        Ok(client) => client,
        Err(err) => {
            eprintln!("dfs: {err}");
            return 1;
        }
    };
    let stdout = std::io::stdout();
    let progress = std::io::stderr().is_terminal();
    let mut shell = Shell::new(
        client.clone(),
        Box::new(std::io::BufWriter::with_capacity(1 << 20, stdout)),
        Box::new(std::io::stderr()),
        Box::new(tokio::io::stdin()),
        home,
        fs_uri,
    );
    shell.show_progress = progress;
    let temp_files = shell.temp_files.clone();
    let code = tokio::select! {
        code = shell.run(options.rest) => code,
        _ = tokio::signal::ctrl_c() => {
            // `deleteOnExit` of the `._COPYING_` files of an interrupted copy.
            let pending: Vec<String> = temp_files.borrow().iter().cloned().collect();
            for path in pending {
                if let Err(err) = client.delete(&path, false).await {
                    tracing::warn!("could not remove {path}: {err}");
                }
            }
            // As a JVM stopped by SIGINT: no message, status 130.
            130
        }
    };
    code
}

/// `cairn://host:port` for a namenode address in any accepted spelling.
pub(crate) fn fs_uri_of(namenode: &str) -> String {
    let authority = generic_options::namenode_of(namenode).unwrap_or_else(|_| {
        namenode
            .split_once("://")
            .map_or(namenode, |(_, rest)| rest)
            .trim_end_matches('/')
            .to_string()
    });
    format!("{}://{authority}", generic_options::SCHEME)
}

/// Paths being written under a temporary name, removed if the shell is
/// interrupted (Hadoop's `deleteOnExit` of `._COPYING_` files).
pub(crate) type TempFiles = Rc<RefCell<BTreeSet<String>>>;

/// One shell session: the file system, the output streams, and the state of
/// the command being run (its name for messages, its error count).
pub(crate) struct Shell<F: FileSystem> {
    pub(crate) fs: F,
    pub(crate) out: Box<dyn Write>,
    pub(crate) err: Box<dyn Write>,
    pub(crate) stdin: Box<dyn AsyncRead + Unpin>,
    /// The working directory of relative paths: `/user/<name>`.
    pub(crate) home: String,
    /// `cairn://host:port`, for qualified paths and `-df`.
    pub(crate) fs_uri: String,
    /// Draw progress bars for large copies (stderr is a terminal).
    pub(crate) show_progress: bool,
    pub(crate) temp_files: TempFiles,
    /// The running command's name, without the dash, for messages.
    name: String,
    /// Errors displayed by the running command.
    errors: u32,
}

impl<F: FileSystem> Shell<F> {
    pub(crate) fn new(
        fs: F,
        out: Box<dyn Write>,
        err: Box<dyn Write>,
        stdin: Box<dyn AsyncRead + Unpin>,
        home: String,
        fs_uri: String,
    ) -> Self {
        Self {
            fs,
            out,
            err,
            stdin,
            home,
            fs_uri,
            show_progress: false,
            temp_files: Rc::default(),
            name: String::new(),
            errors: 0,
        }
    }

    /// `FsShell.run`: dispatches one command line, returns the exit code.
    pub(crate) async fn run(&mut self, mut args: Vec<String>) -> i32 {
        let code = self.run_command(&mut args).await;
        match self.out.flush() {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                let _ = writeln!(self.err, "{}: {err}", self.name);
                1
            }
            _ => code,
        }
    }

    async fn run_command(&mut self, args: &mut Vec<String>) -> i32 {
        if args.is_empty() {
            help::print_all_usage(&mut self.err, false);
            return 1;
        }
        let invoked = args.remove(0);
        if invoked == "--help" || invoke_is_bare_help(&invoked) {
            help::print_all_usage(&mut self.out, true);
            return 0;
        }
        let Some(info) = invoked.strip_prefix('-').and_then(help::find) else {
            self.unknown_command(&invoked);
            return 1;
        };
        self.name = info.name.to_string();
        self.errors = 0;
        if args.first().is_some_and(|a| a == "--help") {
            help::print_help(&mut self.out, info);
            return 0;
        }
        match self.dispatch(info.name, std::mem::take(args)).await {
            Ok(exit_code) => {
                if self.errors > 0 {
                    1
                } else {
                    exit_code
                }
            }
            Err(UsageError(message)) => {
                let _ = self.out.flush();
                let _ = writeln!(self.err, "{invoked}: {message}");
                help::print_all_usage(&mut self.err, false);
                let _ = writeln!(
                    self.err,
                    "{} {}",
                    help::USAGE_PREFIX,
                    help::usage_line(info)
                );
                1
            }
        }
    }

    fn unknown_command(&mut self, invoked: &str) {
        let _ = writeln!(self.err, "{invoked}: Unknown command");
        if !invoked.starts_with('-') && help::find(invoked).is_some() {
            let _ = writeln!(
                self.err,
                "Did you mean -{invoked}?  This command begins with a dash."
            );
        }
        help::print_all_usage(&mut self.err, false);
    }

    async fn dispatch(&mut self, name: &str, args: Vec<String>) -> Result<i32, UsageError> {
        match name {
            "appendToFile" => append_to_file::append_to_file(self, args).await,
            "cat" => display::cat(self, args).await,
            "chgrp" => permissions::chgrp(self, args).await,
            "chmod" => permissions::chmod(self, args).await,
            "chown" => permissions::chown(self, args).await,
            "copyFromLocal" | "put" => copy_commands::put(self, args).await,
            "copyToLocal" | "get" => copy_to_local::get(self, args).await,
            "count" => count::count(self, args).await,
            "cp" => copy_commands::cp(self, args).await,
            "df" => fs_usage::df(self, args).await,
            "du" => fs_usage::du(self, args).await,
            "head" => display::head(self, args).await,
            "help" => help::help(self, args, true),
            "ls" => ls::ls(self, args).await,
            "mkdir" => mkdir::mkdir(self, args).await,
            "moveFromLocal" => copy_commands::move_from_local(self, args).await,
            "mv" => move_commands::mv(self, args).await,
            "rm" => delete::rm(self, args).await,
            "rmdir" => delete::rmdir(self, args).await,
            "setrep" => set_replication::setrep(self, args).await,
            "stat" => stat::stat(self, args).await,
            "tail" => tail::tail(self, args).await,
            "test" => test::test(self, args).await,
            "touch" => touch::touch(self, args).await,
            "touchz" => touch::touchz(self, args).await,
            "truncate" => truncate::truncate(self, args).await,
            "usage" => help::help(self, args, false),
            other => Err(UsageError(format!("`{other}': Unknown command"))),
        }
    }

    /// `Command.displayError`: `name: message` on stderr, and the command
    /// will exit with 1. A closed stdout is not an error (`| head`).
    pub(crate) fn display_error(&mut self, error: impl Into<ShellError>) {
        let error = error.into();
        if matches!(error, ShellError::StdoutClosed) {
            return;
        }
        self.errors += 1;
        self.display_warning(error);
    }

    /// `Command.displayWarning`: `name: message` on stderr.
    pub(crate) fn display_warning(&mut self, message: impl std::fmt::Display) {
        // Keep stdout and stderr in order for a reader of both.
        let _ = self.out.flush();
        let _ = writeln!(self.err, "{}: {message}", self.name);
    }

    /// Writes one line of output; a closed stdout (`| head`) ends quietly.
    pub(crate) fn println(&mut self, line: impl std::fmt::Display) -> Result<(), ShellError> {
        writeln!(self.out, "{line}").map_err(ShellError::stdout)
    }

    /// Resolves a command-line path without looking it up.
    pub(crate) fn resolve(&self, arg: &str) -> Result<PathData, ShellError> {
        let parsed = path_data::parse(arg, &self.home, &self.fs_uri)?;
        Ok(PathData::new(arg, parsed.absolute))
    }

    /// `PathData(arg)`: the path as written, with its status.
    pub(crate) async fn path_data(&self, arg: &str) -> Result<PathData, ShellError> {
        let item = self.resolve(arg)?;
        let stat = self.fs.get_file_info(&item.path).await?;
        Ok(item.with_stat(stat))
    }

    /// Looks the status up again (`PathData.refreshStatus`).
    pub(crate) async fn refresh(&self, item: &mut PathData) -> Result<(), ShellError> {
        item.stat = self.fs.get_file_info(&item.path).await?;
        Ok(())
    }

    /// `PathData.expandAsGlob`: the matches of a pattern; a plain path that
    /// does not exist comes back alone without a status.
    pub(crate) async fn expand_as_glob(&self, arg: &str) -> Result<Vec<PathData>, ShellError> {
        let parsed = path_data::parse(arg, &self.home, &self.fs_uri)?;
        match glob::glob_status(&self.fs, &parsed.absolute).await? {
            None => Ok(vec![PathData::new(arg, parsed.absolute)]),
            Some(matches) => Ok(matches
                .into_iter()
                .map(|(path, stat)| {
                    let display = path_data::display_match(&path, &parsed, &self.home);
                    PathData::new(display, path).with_stat(Some(stat))
                })
                .collect()),
        }
    }

    /// `Command.expandArgument`: a glob that matches nothing is an error.
    pub(crate) async fn expand_argument(&self, arg: &str) -> Result<Vec<PathData>, ShellError> {
        let items = self.expand_as_glob(arg).await?;
        if items.is_empty() {
            return Err(ShellError::not_found(arg));
        }
        Ok(items)
    }

    /// `Command.expandArguments`: every argument expanded, errors displayed.
    pub(crate) async fn expand_arguments(&mut self, args: &[String]) -> Vec<PathData> {
        let mut items = Vec::new();
        for arg in args {
            match self.expand_argument(arg).await {
                Ok(found) => items.extend(found),
                Err(err) => self.display_error(err),
            }
        }
        items
    }

    /// `PathData.getDirectoryContents`: the children of a directory, in the
    /// namenode's order, with their statuses.
    pub(crate) async fn directory_contents(
        &self,
        item: &PathData,
    ) -> Result<Vec<PathData>, ShellError> {
        if !item.exists() {
            return Err(ShellError::not_found(&item.display));
        }
        if !item.is_dir() {
            return Err(ShellError::is_not_directory(&item.display));
        }
        let children = self.fs.list(&item.path).await?;
        Ok(children
            .into_iter()
            .map(|stat| {
                let name = stat.name.clone();
                item.child(&name).with_stat(Some(stat))
            })
            .collect())
    }

    /// The fully qualified form of an absolute path, for messages.
    pub(crate) fn qualified(&self, path: &str) -> String {
        format!("{}{path}", self.fs_uri)
    }
}

/// `cairn dfs -h`: there is no command `-h`, and HDFS users type it for help.
fn invoke_is_bare_help(invoked: &str) -> bool {
    invoked == "-h"
}

#[cfg(test)]
mod tests;
