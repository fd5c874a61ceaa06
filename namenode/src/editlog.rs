//! Durability: the name directory layout, the framed record format, the
//! group-committing edit log writer, replay, and checkpoints.

pub mod frame;
pub mod image;
pub mod loader;
pub mod storage;
pub mod writer;
