//! Tests of the data path against small in-memory doubles of a namenode
//! and datanodes, served by tonic on real sockets.
