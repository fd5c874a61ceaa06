//! What the shell needs of a file system, as a trait: the part of
//! `DfsClient` that FsShell's commands use. The real implementation is the
//! client itself; tests drive the very same command code over an in-memory
//! namespace (`fake_fs.rs`), so command behaviour (messages, exit codes,
//! `._COPYING_` files) is tested without a cluster.

use bytes::Bytes;
use cairn_client::{
    ContentSummary, CreateOptions, DfsClient, FileReader, FileStatus, FileWriter, FsStats,
    LocatedBlocks, Result, XAttrSetFlag,
};

/// A file open for sequential reading (`FSDataInputStream`).
pub(crate) trait ReadFile {
    /// Moves the next read to `pos`.
    fn seek(&mut self, pos: u64);
    /// The next bytes of the file, `None` at the end.
    async fn read_chunk(&mut self) -> Result<Option<Bytes>>;
}

/// A file open for writing (`FSDataOutputStream`).
pub(crate) trait WriteFile {
    async fn write_bytes(&mut self, data: Bytes) -> Result<()>;
    /// Returns once the file is complete on the cluster.
    async fn close(self) -> Result<()>;
}

/// The namespace and data operations of FsShell's commands.
pub(crate) trait FileSystem {
    type Reader: ReadFile;
    type Writer: WriteFile;

    async fn get_file_info(&self, path: &str) -> Result<Option<FileStatus>>;
    async fn list(&self, path: &str) -> Result<Vec<FileStatus>>;
    async fn mkdirs(&self, path: &str, permission: Option<u16>) -> Result<bool>;
    async fn create(&self, path: &str, opts: CreateOptions) -> Result<Self::Writer>;
    async fn append(&self, path: &str) -> Result<Self::Writer>;
    async fn open(&self, path: &str) -> Result<Self::Reader>;
    async fn rename(&self, src: &str, dst: &str, overwrite: bool) -> Result<()>;
    async fn delete(&self, path: &str, recursive: bool) -> Result<bool>;
    async fn set_permission(&self, path: &str, mode: u16) -> Result<()>;
    async fn set_owner(&self, path: &str, owner: Option<&str>, group: Option<&str>) -> Result<()>;
    async fn set_times(
        &self,
        path: &str,
        mtime_ms: Option<u64>,
        atime_ms: Option<u64>,
    ) -> Result<()>;
    async fn set_replication(&self, path: &str, replication: u32) -> Result<bool>;
    async fn content_summary(&self, path: &str) -> Result<ContentSummary>;
    async fn get_block_locations(&self, path: &str, offset: u64, len: u64)
    -> Result<LocatedBlocks>;
    async fn fs_stats(&self) -> Result<FsStats>;
    async fn get_xattrs(&self, path: &str) -> Result<Vec<(String, Vec<u8>)>>;
    async fn set_xattr(&self, path: &str, name: &str, value: &[u8]) -> Result<()>;
    async fn truncate(&self, path: &str, new_length: u64) -> Result<bool>;
}

impl ReadFile for FileReader {
    fn seek(&mut self, pos: u64) {
        FileReader::seek(self, pos)
    }

    async fn read_chunk(&mut self) -> Result<Option<Bytes>> {
        FileReader::read_chunk(self).await
    }
}

impl WriteFile for FileWriter {
    async fn write_bytes(&mut self, data: Bytes) -> Result<()> {
        FileWriter::write_bytes(self, data).await
    }

    async fn close(self) -> Result<()> {
        FileWriter::close(self).await
    }
}

impl FileSystem for DfsClient {
    type Reader = FileReader;
    type Writer = FileWriter;

    async fn get_file_info(&self, path: &str) -> Result<Option<FileStatus>> {
        DfsClient::get_file_info(self, path).await
    }

    async fn list(&self, path: &str) -> Result<Vec<FileStatus>> {
        DfsClient::list(self, path).await
    }

    async fn mkdirs(&self, path: &str, permission: Option<u16>) -> Result<bool> {
        DfsClient::mkdirs(self, path, permission).await
    }

    async fn create(&self, path: &str, opts: CreateOptions) -> Result<FileWriter> {
        DfsClient::create(self, path, opts).await
    }

    async fn append(&self, path: &str) -> Result<FileWriter> {
        DfsClient::append(self, path).await
    }

    async fn open(&self, path: &str) -> Result<FileReader> {
        DfsClient::open(self, path).await
    }

    async fn rename(&self, src: &str, dst: &str, overwrite: bool) -> Result<()> {
        DfsClient::rename(self, src, dst, overwrite).await
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<bool> {
        DfsClient::delete(self, path, recursive).await
    }

    async fn set_permission(&self, path: &str, mode: u16) -> Result<()> {
        DfsClient::set_permission(self, path, mode).await
    }

    async fn set_owner(&self, path: &str, owner: Option<&str>, group: Option<&str>) -> Result<()> {
        DfsClient::set_owner(self, path, owner, group).await
    }

    async fn set_times(
        &self,
        path: &str,
        mtime_ms: Option<u64>,
        atime_ms: Option<u64>,
    ) -> Result<()> {
        DfsClient::set_times(self, path, mtime_ms, atime_ms).await
    }

    async fn set_replication(&self, path: &str, replication: u32) -> Result<bool> {
        DfsClient::set_replication(self, path, replication).await
    }

    async fn content_summary(&self, path: &str) -> Result<ContentSummary> {
        DfsClient::content_summary(self, path).await
    }

    async fn get_block_locations(
        &self,
        path: &str,
        offset: u64,
        len: u64,
    ) -> Result<LocatedBlocks> {
        DfsClient::get_block_locations(self, path, offset, len).await
    }

    async fn fs_stats(&self) -> Result<FsStats> {
        DfsClient::fs_stats(self).await
    }

    async fn get_xattrs(&self, path: &str) -> Result<Vec<(String, Vec<u8>)>> {
        DfsClient::get_xattrs(self, path).await
    }

    async fn set_xattr(&self, path: &str, name: &str, value: &[u8]) -> Result<()> {
        DfsClient::set_xattr(self, path, name, value, XAttrSetFlag::XattrCreateOrReplace).await
    }

    async fn truncate(&self, path: &str, new_length: u64) -> Result<bool> {
        DfsClient::truncate(self, path, new_length).await
    }
}
