//! The FTP application-layer gateway.

pub mod stream;
