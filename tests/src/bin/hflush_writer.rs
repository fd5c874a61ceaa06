//! A writer for the lease recovery test, run as its own process so that the
//! test can kill it with SIGKILL: it creates PATH, writes FLUSHED bytes of
//! `random_bytes(_, SEED)`, hflushes, then writes EXTRA more bytes without
//! flushing, prints "hflushed FLUSHED" and waits to be killed.
//!
//! Usage: hflush_writer NAMENODE USER PATH FLUSHED EXTRA SEED

use std::io::Write;

use anyhow::{Context, Result, bail};
use cairn_client::{ClientConfig, CreateOptions, DfsClient};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [namenode, user, path, flushed, extra, seed] = args.as_slice() else {
        bail!("usage: hflush_writer NAMENODE USER PATH FLUSHED EXTRA SEED");
    };
    let flushed: usize = flushed.parse().context("FLUSHED")?;
    let extra: usize = extra.parse().context("EXTRA")?;
    let seed: u64 = seed.parse().context("SEED")?;
    let data = cairn_tests::random_bytes(flushed + extra, seed);
    let client = DfsClient::connect(ClientConfig::new(namenode.clone(), user.clone())).await?;
    let mut writer = client.create(path, CreateOptions::default()).await?;
    writer.write(&data[..flushed]).await?;
    writer.hflush().await?;
    writer.write(&data[flushed..]).await?;
    println!("hflushed {flushed}");
    std::io::stdout().flush()?;
    // Keep the lease renewed until the test kills us.
    std::future::pending::<()>().await;
    Ok(())
}
