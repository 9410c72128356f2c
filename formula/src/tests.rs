//! Unit tests for bad input and composition; see `errors` and `composition`.

mod composition;
mod errors;
