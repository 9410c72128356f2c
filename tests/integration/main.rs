//! Integration tests: one test binary that drives the real `gastown` executable against real
//! git repositories in temp dirs.

mod agents;
mod bead;
mod bounds;
mod checkpoint;
mod config;
mod config_cmds;
mod convoy;
mod dashboard;
mod deacon;
mod delivery;
mod demo;
mod dialogs;
mod doctor;
mod dog_sessions;
mod durable;
mod escalation;
mod events;
mod finish;
mod grammar;
mod identity;
mod inert;
mod landing;
mod mail;
mod mol;
mod output;
mod procs;
mod protocol;
mod reconcile;
mod refinery;
mod remote;
mod rework;
mod rig;
mod run;
mod running;
mod status;
mod steps;
#[path = "../support/corpus.rs"]
mod support;
mod unavailable;
mod updown;
mod util;
mod witness;
mod work;
mod workloop;
