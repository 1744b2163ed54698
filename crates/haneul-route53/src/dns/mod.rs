//! The DNS data plane: snapshot → answer → UDP/TCP server.

pub mod answer;
pub mod server;
pub mod snapshot;
