//! The network baselines, in the benchmark's own code: what plain TCP on
//! loopback does with the same bytes, so Cairn's pipeline and read path are
//! measured against the machine rather than against a guess.
//!
//! * [`relay`] — a write pipeline with nothing but the wire and the
//!   checksums: client → dn1 → dn2 → sink, 64 KiB packets (HDFS's
//!   `dfs.client-write-packet-size`) each with one CRC per 512 bytes of
//!   Cairn's default checksum type (CRC32C), computed by the client and
//!   verified at every hop, with Cairn's own checksum code.
//! * [`stream`] — one loopback TCP stream of the bytes, nothing else.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_proto::{BYTES_PER_CHECKSUM, CHECKSUM_SIZE, ChecksumType};

const PACKET: usize = 64 * 1024;

/// The relay checksums as Cairn does by default.
const CHECKSUM: ChecksumType = ChecksumType::Crc32c;

/// Times `source` through client → dn1 → dn2 → sink, from the first byte
/// read to the sink having verified the last packet.
pub fn relay(source: &Path) -> anyhow::Result<Duration> {
    let sink_listener = TcpListener::bind("127.0.0.1:0")?;
    let sink_addr = sink_listener.local_addr()?;
    let sink = std::thread::spawn(move || -> anyhow::Result<u64> {
        let (stream, _) = sink_listener.accept()?;
        hop(stream, None)
    });
    let dn2 = spawn_hop(sink_addr)?;
    let dn1 = spawn_hop(dn2.0)?;

    let start = Instant::now();
    let mut input =
        File::open(source).with_context(|| format!("cannot open {}", source.display()))?;
    let mut out = TcpStream::connect(dn1.0)?;
    out.set_nodelay(true)?;
    let mut data = vec![0u8; PACKET];
    let mut sums = Vec::with_capacity(PACKET / BYTES_PER_CHECKSUM * CHECKSUM_SIZE);
    let mut offset = 0u64;
    let mut sent = 0u64;
    loop {
        let n = read_full(&mut input, &mut data)?;
        if n == 0 {
            break;
        }
        let packet = data.get(..n).unwrap_or_default();
        sums.clear();
        CHECKSUM.chunk_checksums(packet, offset, &mut sums);
        out.write_all(&(n as u32).to_be_bytes())?;
        out.write_all(packet)?;
        out.write_all(&sums)?;
        offset += n as u64;
        sent += n as u64;
    }
    drop(out);
    let received = join(sink)?;
    join(dn1.1)?;
    join(dn2.1)?;
    if received != sent {
        bail!("the relay's sink got {received} bytes of {sent}");
    }
    Ok(start.elapsed())
}

/// Times one loopback TCP stream of `source`, read from the page cache and
/// discarded at the other end.
pub fn stream(source: &Path) -> anyhow::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let receiver = std::thread::spawn(move || -> anyhow::Result<u64> {
        let (mut stream, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    });
    let start = Instant::now();
    let mut input = File::open(source)?;
    let mut out = TcpStream::connect(addr)?;
    let sent = std::io::copy(&mut input, &mut out)?;
    drop(out);
    let received = join(receiver)?;
    if received != sent {
        bail!("the stream's receiver got {received} bytes of {sent}");
    }
    Ok(start.elapsed())
}

type Hop = (std::net::SocketAddr, JoinHandle<anyhow::Result<u64>>);

/// A relay datanode: accepts one upstream, connects to `next`.
fn spawn_hop(next: std::net::SocketAddr) -> anyhow::Result<Hop> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let handle = std::thread::spawn(move || -> anyhow::Result<u64> {
        let (upstream, _) = listener.accept()?;
        let downstream = TcpStream::connect(next)?;
        downstream.set_nodelay(true)?;
        hop(upstream, Some(downstream))
    });
    Ok((addr, handle))
}

/// Reads packets, verifies each chunk's CRC, forwards them when there is a
/// next hop. Returns the data bytes seen.
fn hop(upstream: TcpStream, mut next: Option<TcpStream>) -> anyhow::Result<u64> {
    let mut input = BufReader::with_capacity(1 << 20, upstream);
    let mut data = vec![0u8; PACKET];
    let mut sums = vec![0u8; PACKET / BYTES_PER_CHECKSUM * CHECKSUM_SIZE];
    let mut offset = 0u64;
    let mut len = [0u8; 4];
    loop {
        if read_full(&mut input, &mut len)? == 0 {
            return Ok(offset);
        }
        let n = u32::from_be_bytes(len) as usize;
        if n == 0 || n > PACKET {
            bail!("relay packet of {n} bytes");
        }
        let packet = data.get_mut(..n).unwrap_or_default();
        input.read_exact(packet)?;
        let sums = sums
            .get_mut(..n.div_ceil(BYTES_PER_CHECKSUM) * CHECKSUM_SIZE)
            .unwrap_or_default();
        input.read_exact(sums)?;
        if let Err(at) = CHECKSUM.verify(packet, offset, sums) {
            bail!("relay checksum mismatch at {at}");
        }
        if let Some(out) = next.as_mut() {
            out.write_all(&len)?;
            out.write_all(packet)?;
            out.write_all(sums)?;
        }
        offset += n as u64;
    }
}

/// Fills `buf` unless the input ends first; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(buf.get_mut(filled..).unwrap_or_default())? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn join<T>(handle: JoinHandle<anyhow::Result<T>>) -> anyhow::Result<T> {
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("a baseline thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_and_stream_carry_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        // Not a multiple of the packet or chunk size.
        std::fs::write(&source, vec![7u8; 3 * PACKET + 1000]).unwrap();
        assert!(relay(&source).unwrap() > Duration::ZERO);
        assert!(stream(&source).unwrap() > Duration::ZERO);
    }
}
