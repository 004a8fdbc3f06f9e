//! Application-layer gateways: protocol helpers that read and rewrite the payload of control
//! connections whose messages carry addresses (today only FTP).
//!
//! Like the rest of the engine they never do I/O and never panic on payload bytes.

pub mod ftp;
