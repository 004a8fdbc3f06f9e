//! Application-layer gateways: protocol-aware helpers that follow a flow's payload.

pub mod ftp;
