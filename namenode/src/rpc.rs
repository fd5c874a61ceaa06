//! The gRPC services: ClientProtocol and DatanodeProtocol, served together
//! on one listener.

pub mod client;
pub mod datanode;
