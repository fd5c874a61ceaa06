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
        // The `Call` stream's envelopes hold one request or answer of any
        // rpc: boxed, each is a pointer, not the largest message inline
        // (~400 bytes for answers), which the decoder, the channels and
        // the futures between the socket and the caller would otherwise
        // copy a dozen times per call (memmove was 18% of a client's CPU
        // in session 7's profile of `nn-ops --rpc`).
        .boxed(".cairn.CallRequest.request")
        .boxed(".cairn.CallResponse.response")
        // Messages moved in and out of tonic's buffers whole (`codec.rs`).
        .codec_path("crate::codec::PbCodec")
        .compile_fds(descriptors)?;
    Ok(())
}
