//! Integration tests: one test binary that drives the real `gastown` executable against real
//! git repositories in temp dirs.

mod bead;
mod config;
mod delivery;
mod mail;
mod mol;
mod rig;
mod run;
mod running;
mod util;
mod work;
