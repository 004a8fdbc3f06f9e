//! All of ftpgate's I/O lives here: capture files today, the TUN device loop and the
//! control / metrics endpoint as they arrive.
//!
//! The engine is sans-I/O and works on bare IP packets; this layer owns files, devices,
//! sockets and the clock, and adapts what they deliver to the engine's inputs.

pub mod capture;
pub mod replay;
