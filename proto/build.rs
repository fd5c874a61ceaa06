//! Compiles the `.proto` contract with `protox` (pure Rust), so building Cairn
//! never needs a system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/common.proto",
        "proto/client.proto",
        "proto/datanode.proto",
        "proto/transfer.proto",
        "proto/fsimage.proto",
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .bytes(".cairn")
        .compile_fds(descriptors)?;
    Ok(())
}
