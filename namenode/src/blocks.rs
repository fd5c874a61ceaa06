//! Blocks: the blocks map, what reports do to it, where replicas go, and
//! the replication monitor's work.

pub mod blocks_map;
pub mod manager;
pub mod placement;
pub mod redundancy;
