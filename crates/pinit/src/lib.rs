//! The `pinit` program: command line, layered configuration and the composition of the services.
//! `main.rs` only dispatches; everything here is also used by the end-to-end tests.

pub mod backup;
pub mod cli;
pub mod config;
pub mod grpc_pipe;
pub mod run;
pub mod users;
