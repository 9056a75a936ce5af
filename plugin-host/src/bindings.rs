//! Host bindings generated from `sdk/wit/plugin.wit`, one module per world;
//! the filter world reuses the source world's shared interfaces.

pub mod source {
    wasmtime::component::bindgen!({
        world: "candidate-source",
        path: "../sdk/wit",
    });
}

pub mod filter {
    wasmtime::component::bindgen!({
        world: "candidate-filter",
        path: "../sdk/wit",
        with: {
            "facerec:plugin/types": super::source::facerec::plugin::types,
            "facerec:plugin/host": super::source::facerec::plugin::host,
        },
    });
}

pub use source::facerec::plugin::host;
pub use source::facerec::plugin::types::{Candidate, Decision, Query};
