//! cairn-namenode
