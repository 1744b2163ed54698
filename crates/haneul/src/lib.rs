//! # haneul: the binary's library half
//!
//! `main.rs` is the command line (`haneul up`, `haneul env`); this library wires the
//! services together so tests (through `haneul-testkit`) start the same thing in-process.
//!
//! Layout: [`config`] (flags and defaults), [`server`] (store + services + API endpoint),
//! [`admin`] (`/_haneul/*`), [`credentials`] (the root key), [`runtime_file`] (how
//! `haneul env` finds a running instance), [`session_plugin`] (the Session Manager client
//! `aws ecs execute-command` runs).

pub mod admin;
pub mod config;
pub mod credentials;
pub mod logs_tail;
pub mod registry_tls;
pub mod runtime_file;
pub mod server;
pub mod session_plugin;

pub use config::Config;
pub use server::{start, Running};
