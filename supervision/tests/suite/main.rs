//! Integration tests of the supervision crate, all on paused tokio time: a matrix modelled on
//! Erlang/OTP's `supervisor_SUITE` and scenario tests of intensity, shutdown, start failures,
//! backoff, dynamic children, names and introspection.

mod common;

mod backoff;
mod dynamic;
mod intensity;
mod logs;
mod matrix;
mod shutdown;
mod snapshot;
mod start;
