//! Integration tests: one test binary that drives the real `gastown` executable against real
//! git repositories in temp dirs.

mod bead;
mod config;
mod convoy;
mod delivery;
mod demo;
mod durable;
mod mail;
mod mol;
mod reconcile;
mod refinery;
mod rig;
mod run;
mod running;
mod util;
mod work;
mod workloop;
