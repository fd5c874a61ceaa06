//! Datanodes: their descriptors, registration and liveness, and the
//! namesystem's handling of what they report.

pub mod admin;
pub mod descriptor;
pub mod heartbeat;
pub mod manager;
