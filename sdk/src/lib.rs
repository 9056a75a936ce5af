//! Write facerec plugins in Rust.
//!
//! A plugin is a WebAssembly component implementing one world of the WIT
//! package in `sdk/wit/plugin.wit`: a **source** proposes candidates for a
//! domain, a **filter** keeps or drops them. Depend on this crate,
//! implement the trait of your world, register the type:
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

/// Bindings generated from the WIT package; use the re-exports below.
///
/// Both worlds live in this one crate, sharing the `types` and `host`
/// interfaces, so a source and a filter can be built in one cargo
/// workspace. Each world's exports are described only where its register
/// macro is invoked (wit-bindgen's `pub_export_macro`), so a component
/// built from this crate exports exactly the world it registers.
#[doc(hidden)]
pub mod bindings {
    pub mod source {
        wit_bindgen::generate!({
            world: "candidate-source",
            path: "wit",
            pub_export_macro: true,
            export_macro_name: "register_source",
            default_bindings_module: "facerec_plugin_sdk::bindings::source",
        });
    }

    pub mod filter {
        wit_bindgen::generate!({
            world: "candidate-filter",
            path: "wit",
            pub_export_macro: true,
            export_macro_name: "register_filter",
            default_bindings_module: "facerec_plugin_sdk::bindings::filter",
            with: {
                "facerec:plugin/types@0.1.0": crate::bindings::source::facerec::plugin::types,
                "facerec:plugin/host@0.1.0": crate::bindings::source::facerec::plugin::host,
            },
        });
    }
}

/// The WIT package this SDK implements (`package facerec:plugin@…`): the
/// host refuses a component built against another minor version.
pub const WIT_PACKAGE: &str = "facerec:plugin@0.1.0";

pub use bindings::source::facerec::plugin::host::{HttpError, HttpResponse, Level};
pub use bindings::source::facerec::plugin::types::{Candidate, Decision, Query};

/// Implement this for a candidate source and register it with
/// [`register_source!`].
pub use bindings::source::{Guest as Source, register_source};

/// Implement this for a candidate filter and register it with
/// [`register_filter!`].
pub use bindings::filter::{Guest as Filter, register_filter};

mod helpers;
pub use helpers::*;
