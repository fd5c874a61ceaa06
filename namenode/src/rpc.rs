//! The gRPC services: ClientProtocol and DatanodeProtocol, served together
//! on one listener by reader threads ([`server`]).

pub mod client;
pub mod datanode;
pub(crate) mod server;
