//! cairn-datanode
