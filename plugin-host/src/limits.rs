//! What one plugin call may consume. The defaults suit candidate generation
//! (a few HTTP requests and some JSON); raise them per deployment if needed.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;

use crate::http::HttpLimits;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginLimits {
    /// Wall-clock time for one call, host imports (HTTP) included.
    #[serde(with = "humantime_ms")]
    pub deadline: Duration,
    /// Linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
    /// Total size of the strings a call returns.
    pub max_output_bytes: usize,
    /// Candidates a source may return in one call.
    pub max_candidates: usize,
    /// Bytes of log text one call may write; the rest is dropped.
    pub max_log_bytes: usize,
    pub http: HttpLimits,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(30),
            memory_bytes: 128 << 20,
            max_output_bytes: 16 << 20,
            max_candidates: 10_000,
            max_log_bytes: 64 << 10,
            http: HttpLimits::default(),
        }
    }
}

/// Durations in config files are milliseconds.
mod humantime_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Caps memory growth and remembers a refusal, so the resulting trap can be
/// reported as "over the memory cap" rather than a bare trap.
pub(crate) struct MemoryCap {
    pub cap: usize,
    pub refused: Option<usize>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.refused = Some(desired);
            wasmtime::bail!("memory cap of {} bytes reached", self.cap);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
