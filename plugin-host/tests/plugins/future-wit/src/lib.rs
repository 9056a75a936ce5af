//! A candidate source of WIT 0.2.0, which this host (0.1.0) does not speak.

wit_bindgen::generate!({ world: "candidate-source", path: "wit" });

use facerec::plugin::host::{Level, log};

struct Future;

impl Guest for Future {
    fn generate(_query: Query, page: u32) -> Result<Vec<Candidate>, String> {
        log(Level::Info, &format!("page {page}"));
        Ok(vec![])
    }
}

export!(Future);
