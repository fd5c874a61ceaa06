//! Moving bytes for `-put`, `-get`, `-cp` and `-appendToFile`
//! (`CommandWithDestination.copyStreamToTarget` and its
//! `TargetFileSystem`): the data is written to `<target>._COPYING_` and
//! renamed into place only once complete, so a failed or interrupted copy
//! never leaves a partial file under the real name.
//!
//! Data streams through in large chunks (the reader's ~1 MiB chunks, 1 MiB
//! local reads), never a whole file in memory. A progress bar (bytes, rate,
//! ETA) is drawn on stderr for copies above a few MiB when stderr is a
//! terminal.

use bytes::{Bytes, BytesMut};
use cairn_client::CreateOptions;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::file_system::{ReadFile, WriteFile};
use super::local::LocalPath;
use super::path_data::PathData;
use super::path_exceptions::ShellError;
use super::{FileSystem, Shell};

/// Size of local reads.
const LOCAL_CHUNK: usize = 1 << 20;
/// Copies at least this large get a progress bar.
const PROGRESS_THRESHOLD: u64 = 4 << 20;
/// The suffix of files being copied (`._COPYING_`).
pub(crate) const COPYING_SUFFIX: &str = "._COPYING_";

/// Where the bytes of one copy come from.
pub(crate) enum Source<'a, R> {
    /// A local file, with its name for messages.
    Local(tokio::fs::File, String),
    /// Standard input (`-put -`, `-appendToFile -`).
    Stdin(&'a mut (dyn AsyncRead + Unpin)),
    /// A file of the cluster.
    Remote(R),
}

impl<R: ReadFile> Source<'_, R> {
    /// The next chunk, `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ShellError> {
        match self {
            Source::Local(file, name) => read_local_chunk(file, name).await,
            Source::Stdin(stdin) => read_local_chunk(stdin, "-").await,
            Source::Remote(reader) => Ok(reader.read_chunk().await?),
        }
    }
}

async fn read_local_chunk<T: AsyncRead + Unpin + ?Sized>(
    input: &mut T,
    name: &str,
) -> Result<Option<Bytes>, ShellError> {
    let mut buf = BytesMut::with_capacity(LOCAL_CHUNK);
    while buf.len() < LOCAL_CHUNK {
        let read = input
            .read_buf(&mut buf)
            .await
            .map_err(|e| ShellError::local(name, e))?;
        if read == 0 {
            break;
        }
    }
    Ok((!buf.is_empty()).then(|| buf.freeze()))
}

/// Opens a local file for reading.
pub(crate) async fn open_local<R>(src: &LocalPath) -> Result<Source<'static, R>, ShellError> {
    let file = tokio::fs::File::open(&src.path)
        .await
        .map_err(|e| ShellError::local(&src.display, e))?;
    Ok(Source::Local(file, src.display.clone()))
}

/// A progress bar on stderr for a copy of `size` bytes, when wanted.
pub(crate) fn progress_bar(show: bool, size: u64, name: &str) -> Option<ProgressBar> {
    if !show || size < PROGRESS_THRESHOLD {
        return None;
    }
    let bar = ProgressBar::new(size);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(name.to_string());
    Some(bar)
}

/// How a remote target is written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteOptions {
    /// Replace an existing file (`-f`).
    pub(crate) overwrite: bool,
    /// Write under the real name at once (`-d`).
    pub(crate) direct: bool,
    /// Replication 1 (`-put -l`).
    pub(crate) lazy_persist: bool,
}

/// Copies `source` to the cluster file `target`, via `._COPYING_` unless
/// `direct`.
pub(crate) async fn copy_to_remote<F: FileSystem>(
    shell: &mut Shell<F>,
    mut source: Source<'_, F::Reader>,
    target: &PathData,
    options: WriteOptions,
    size_hint: Option<u64>,
) -> Result<(), ShellError> {
    if target.exists() && (target.is_dir() || !options.overwrite) {
        return Err(ShellError::exists(&target.display));
    }
    let temp = if options.direct {
        target.clone()
    } else {
        target.suffix(COPYING_SUFFIX)
    };
    let create = CreateOptions {
        overwrite: true,
        create_parent: true,
        replication: options.lazy_persist.then_some(1),
        ..Default::default()
    };
    let bar = progress_bar(shell.show_progress, size_hint.unwrap_or(0), &target.display);
    if !options.direct {
        shell.temp_files.borrow_mut().insert(temp.path.clone());
    }
    let written = async {
        let mut writer = shell.fs.create(&temp.path, create).await?;
        while let Some(chunk) = source.next_chunk().await? {
            let len = chunk.len() as u64;
            writer.write_bytes(chunk).await?;
            if let Some(bar) = &bar {
                bar.inc(len);
            }
        }
        writer.close().await?;
        if !options.direct {
            shell
                .fs
                .rename(&temp.path, &target.path, target.exists())
                .await?;
        }
        Ok::<(), ShellError>(())
    }
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if !options.direct {
        shell.temp_files.borrow_mut().remove(&temp.path);
        if written.is_err() {
            // Nothing of a failed copy may stay in the namespace.
            if let Err(err) = shell.fs.delete(&temp.path, false).await {
                tracing::warn!("could not remove {}: {err}", temp.path);
            }
        }
    }
    written
}

/// Copies the cluster file `src` to the local `target`, via `._COPYING_`.
pub(crate) async fn copy_to_local<F: FileSystem>(
    shell: &mut Shell<F>,
    src: &PathData,
    target: &LocalPath,
    overwrite: bool,
) -> Result<(), ShellError> {
    if target.exists() && (target.is_dir() || !overwrite) {
        return Err(ShellError::exists(&target.display));
    }
    let temp = target.suffix(COPYING_SUFFIX)?;
    let bar = progress_bar(shell.show_progress, src.len(), &src.display);
    let written = async {
        let mut reader = shell.fs.open(&src.path).await?;
        let mut file = tokio::fs::File::create(&temp.path)
            .await
            .map_err(|e| ShellError::local(&temp.display, e))?;
        while let Some(chunk) = reader.read_chunk().await? {
            file.write_all(&chunk)
                .await
                .map_err(|e| ShellError::local(&temp.display, e))?;
            if let Some(bar) = &bar {
                bar.inc(chunk.len() as u64);
            }
        }
        file.flush()
            .await
            .map_err(|e| ShellError::local(&temp.display, e))?;
        drop(file);
        std::fs::rename(&temp.path, &target.path).map_err(|e| ShellError::local(&target.display, e))
    }
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if written.is_err()
        && let Err(err) = std::fs::remove_file(&temp.path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove {}: {err}", temp.display);
    }
    written
}

/// Appends every chunk of `source` to an open writer.
pub(crate) async fn append_from<R: ReadFile, W: WriteFile>(
    mut source: Source<'_, R>,
    writer: &mut W,
) -> Result<(), ShellError> {
    while let Some(chunk) = source.next_chunk().await? {
        writer.write_bytes(chunk).await?;
    }
    Ok(())
}
