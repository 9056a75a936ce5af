//! The daemon's integration tests, linked into one binary: each test file
//! as its own binary would link wasmtime, tract and axum again (about 1 GB
//! of disk and a minute of linking apiece).

mod common;

mod console;

mod candidates_api;
mod cli;
mod client_isolation;
mod demo;
mod domains_api;
mod eval;
mod eval_video;
mod full_disk;
mod live;
mod migrate;
mod mqtt_broker;
mod plugin_template;
mod recognize;
mod reembed;
mod review_api;
mod rtsp;
mod sync;
mod sync_fixtures;
mod training_pipeline;
