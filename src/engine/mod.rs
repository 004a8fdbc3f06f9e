//! The sans-I/O packet engine (being built): settings, packet buffer and verdicts.

pub mod packet;
pub mod settings;
pub mod verdict;
