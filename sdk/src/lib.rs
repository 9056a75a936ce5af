//! Write facerec plugins in Rust.
//!
//! A plugin is a WebAssembly component implementing one world of the WIT
//! package in `sdk/wit/plugin.wit`: a **source** proposes candidates for a
//! domain, a **filter** keeps or drops them. Depend on this crate with the
//! feature of your world, implement the trait, register the type:
//!
//! ```ignore
//! use facerec_plugin_sdk::{Candidate, Query, Source, register_source};
//!
//! struct Hello;
//! impl Source for Hello {
//!     fn generate(query: Query) -> Result<Vec<Candidate>, String> {
//!         Ok(vec![Candidate::named("Ada Lovelace")])
//!     }
//! }
//! register_source!(Hello);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the
//! `.wasm` file is the plugin. See `sdk/README.md`.

#[cfg(all(feature = "source", feature = "filter"))]
compile_error!(
    "facerec-plugin-sdk: enable exactly one of the features `source` and `filter` (a component implements one world)"
);
#[cfg(not(any(feature = "source", feature = "filter")))]
compile_error!("facerec-plugin-sdk: enable the feature `source` or `filter`");

/// Bindings generated from the WIT package; use the re-exports below.
#[cfg(feature = "source")]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "candidate-source",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "register_source",
        default_bindings_module: "facerec_plugin_sdk::bindings",
    });
}

#[cfg(feature = "filter")]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "candidate-filter",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "register_filter",
        default_bindings_module: "facerec_plugin_sdk::bindings",
    });
}

pub use bindings::facerec::plugin::host::{HttpError, HttpResponse, Level};
pub use bindings::facerec::plugin::types::{Candidate, Decision, Query};

/// Implement this for a candidate source and register it with
/// [`register_source!`].
#[cfg(feature = "source")]
pub use bindings::{Guest as Source, register_source};

/// Implement this for a candidate filter and register it with
/// [`register_filter!`].
#[cfg(feature = "filter")]
pub use bindings::{Guest as Filter, register_filter};

mod helpers;
pub use helpers::*;
