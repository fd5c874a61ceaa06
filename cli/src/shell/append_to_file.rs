//! `-appendToFile` (Hadoop's `CopyCommands.AppendToFile`): local files, or
//! standard input, appended to a cluster file.

use super::command_with_destination::remote_destination;
use super::file_system::WriteFile;
use super::local::LocalPath;
use super::path_data::PathData;
use super::path_exceptions::{ShellError, UsageError};
use super::transfer::{self, Source};
use super::{FileSystem, Shell};

/// `-appendToFile <localsrc> ... <dst>`: `-` reads standard input and must
/// then be the only source. The destination is created if missing.
pub(crate) async fn append_to_file<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    if args.len() < 2 {
        shell.display_error("missing destination argument");
        return Ok(1);
    }
    let dst = match remote_destination(shell, &mut args).await {
        Ok(dst) => dst,
        Err(err) => {
            shell.display_error(err);
            return Ok(1);
        }
    };
    let read_stdin = args.iter().any(|a| a == "-");
    let locals: Vec<&String> = args.iter().filter(|a| *a != "-").collect();
    if read_stdin && !locals.is_empty() {
        shell.display_error("stdin (-) must be the sole input argument when present");
        return Ok(1);
    }
    // Every source is checked before the destination is touched, so that a
    // missing source changes nothing.
    let mut sources = Vec::new();
    for arg in locals {
        match LocalPath::lookup(arg) {
            Ok(src) if src.is_file() => sources.push(src),
            Ok(src) if src.is_dir() => {
                shell.display_error(ShellError::is_directory(&src.display));
                return Ok(1);
            }
            Ok(src) => {
                shell.display_error(ShellError::not_found(&src.display));
                return Ok(1);
            }
            Err(err) => {
                shell.display_error(err);
                return Ok(1);
            }
        }
    }
    if let Err(err) = append_sources(shell, &dst, sources, read_stdin).await {
        shell.display_error(err);
    }
    Ok(0)
}

async fn append_sources<F: FileSystem>(
    shell: &mut Shell<F>,
    dst: &PathData,
    sources: Vec<LocalPath>,
    read_stdin: bool,
) -> Result<(), ShellError> {
    if dst.is_dir() {
        return Err(ShellError::is_directory(&dst.display));
    }
    if !dst.exists() {
        let writer = shell
            .fs
            .create(&dst.path, cairn_client::CreateOptions::default())
            .await?;
        writer.close().await?;
    }
    let mut writer = shell.fs.append(&dst.path).await?;
    let appended = async {
        if read_stdin {
            let mut stdin = std::mem::replace(&mut shell.stdin, Box::new(tokio::io::empty()));
            let copied =
                transfer::append_from::<F::Reader, _>(Source::Stdin(&mut *stdin), &mut writer)
                    .await;
            shell.stdin = stdin;
            copied?;
        }
        for src in &sources {
            let source = transfer::open_local::<F::Reader>(src).await?;
            transfer::append_from(source, &mut writer).await?;
        }
        Ok::<(), ShellError>(())
    }
    .await;
    let closed = writer.close().await;
    appended?;
    closed?;
    Ok(())
}
