//! cairn-datanode
pub mod config;
pub mod dataset;
pub mod error;
pub mod storage;

pub use config::DatanodeConfig;
pub use error::DatanodeError;
