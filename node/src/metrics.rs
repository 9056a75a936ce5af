//! Prometheus metrics of a node, served at `GET /metrics`.
//!
//! Counters and histograms are updated where things happen (recognition,
//! sync); gauges that mirror state (index sizes, applied and head seqs) are
//! read at scrape time, so they cannot drift from what they describe.

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// `outcome`: `ok` or the HTTP status of the refusal.
    pub recognize_requests: IntCounterVec,
    pub recognize_seconds: Histogram,
    /// `result`: `recognized` or `unrecognized`.
    pub recognize_faces: IntCounterVec,
    /// `domain`, `outcome`: `applied` or `rejected`.
    pub sync_batches: IntCounterVec,
    /// `domain`, `pack`: batches refused for their model pack (one this
    /// build does not run, or a delta of another pack than the domain's).
    pub sync_pack_refusals: IntCounterVec,
    /// `domain`, `outcome`: domain definitions an edge `applied`,
    /// `refused` (signature, format) or kept `waiting` for the definitions
    /// of domains they inherit.
    pub sync_definitions: IntCounterVec,
    /// `domain`, `source`: snapshots whose search graph came `from_hub`
    /// or was `built` on the edge (an older hub, or a graph that did not
    /// fit what was stored).
    pub sync_snapshot_graphs: IntCounterVec,
    applied_seq: IntGaugeVec,
    head_seq: IntGaugeVec,
    sync_lag: IntGaugeVec,
    index_descriptors: IntGaugeVec,
    /// The live camera pipeline.
    pub live: LiveMetrics,
}

/// Per-camera metrics of the live pipeline (label `camera`).
pub struct LiveMetrics {
    /// Frames analysed.
    pub frames: IntCounterVec,
    /// Frames skipped because a newer one was ready (latest-frame policy).
    pub dropped: IntCounterVec,
    /// Seconds per stage (`stage`: detect, embed, search, frame).
    pub stage_seconds: HistogramVec,
    /// Frame capture to event emission.
    pub event_latency: HistogramVec,
    /// Events by `type`.
    pub events: IntCounterVec,
    /// Faces the quality gate kept from voting, by `reason`.
    pub gate_refusals: IntCounterVec,
    /// Events a reader missed (`sink`: mqtt, sse) because it fell behind
    /// or the broker's queue was full.
    pub events_dropped: IntCounterVec,
    /// Frames analysed per second (moving average).
    pub fps: GaugeVec,
    pub tracks: IntGaugeVec,
    /// Mirrored from the camera supervisor at scrape time.
    source_up: IntGaugeVec,
    /// 1 for each camera's current `state` and `reason` (empty while it
    /// streams): what an alert names.
    source_state: IntGaugeVec,
    source_restarts: IntGaugeVec,
    source_corrupt_frames: IntGaugeVec,
}

/// Registers a labelled counter.
fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

/// Registers a labelled integer gauge.
fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.002, 0.005, 0.01, 0.02, 0.033, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
];

impl LiveMetrics {
    fn new(registry: &Registry) -> Self {
        let counter =
            |name: &str, help: &str, labels: &[&str]| counter_vec(registry, name, help, labels);
        let gauge = |name: &str, help: &str| gauge_vec(registry, name, help, &["camera"]);
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                labels,
            )
            .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("registered once");
            h
        };
        let fps = GaugeVec::new(
            Opts::new("live_fps", "Frames analysed per second"),
            &["camera"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(fps.clone()))
            .expect("registered once");
        Self {
            frames: counter("live_frames_total", "Frames analysed", &["camera"]),
            gate_refusals: counter(
                "live_gate_refusals_total",
                "Tracked faces the quality gate kept from voting, by reason",
                &["camera", "reason"],
            ),
            dropped: counter(
                "live_frames_dropped_total",
                "Frames skipped because a newer frame was ready",
                &["camera"],
            ),
            stage_seconds: histogram(
                "live_stage_seconds",
                "Time per pipeline stage (detect, embed, search, frame)",
                &["camera", "stage"],
            ),
            event_latency: histogram(
                "live_event_latency_seconds",
                "Frame capture to event emission",
                &["camera"],
            ),
            events: counter(
                "live_events_total",
                "Recognition events",
                &["camera", "type"],
            ),
            events_dropped: counter(
                "live_events_dropped_total",
                "Events a reader missed because it fell behind",
                &["sink"],
            ),
            fps,
            tracks: gauge("live_tracks", "Face tracks in view"),
            source_up: gauge("camera_up", "1 while the camera delivers frames"),
            source_state: gauge_vec(
                registry,
                "camera_state",
                "1 for the camera's current state and the reason it is not streaming",
                &["camera", "state", "reason"],
            ),
            source_restarts: gauge("camera_restarts", "Times the camera was reopened"),
            source_corrupt_frames: gauge(
                "camera_corrupt_frames",
                "Frames that could not be decoded",
            ),
        }
    }

    /// Mirrors the supervisors' state: `(camera, status)`.
    pub fn refresh(&self, cameras: &[(String, facerec_camera::SourceStatus)]) {
        // A camera has one state at a time: the previous one's series go.
        self.source_state.reset();
        for (id, s) in cameras {
            let state = serde_json::to_value(s.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            self.source_state
                .with_label_values(&[id, &state, s.reason.as_deref().unwrap_or("")])
                .set(1);
            let up = s.state == facerec_camera::SourceState::Running;
            self.source_up.with_label_values(&[id]).set(up as i64);
            self.source_restarts
                .with_label_values(&[id])
                .set(s.restarts as i64);
            self.source_corrupt_frames
                .with_label_values(&[id])
                .set(s.corrupt_frames as i64);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("facerec".into()), None).expect("valid prefix");
        let counter =
            |name: &str, help: &str, labels: &[&str]| counter_vec(&registry, name, help, labels);
        let gauge = |name: &str, help: &str| gauge_vec(&registry, name, help, &["domain"]);
        let recognize_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "recognize_seconds",
                "POST /api/recognize: decode, detect, embed and search",
            )
            .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
        )
        .expect("valid metric");
        registry
            .register(Box::new(recognize_seconds.clone()))
            .expect("registered once");
        Self {
            recognize_requests: counter(
                "recognize_requests_total",
                "Recognition requests by outcome",
                &["outcome"],
            ),
            recognize_faces: counter(
                "recognize_faces_total",
                "Faces found in recognition requests",
                &["result"],
            ),
            sync_batches: counter(
                "sync_batches_total",
                "Batches an edge applied or rejected",
                &["domain", "outcome"],
            ),
            sync_snapshot_graphs: counter(
                "sync_snapshot_graphs_total",
                "Snapshots whose search graph came from the hub or was built on the edge",
                &["domain", "source"],
            ),
            sync_pack_refusals: counter(
                "sync_pack_refusals_total",
                "Batches an edge refused for their model pack",
                &["domain", "pack"],
            ),
            sync_definitions: counter(
                "sync_definitions_total",
                "Domain definitions an edge applied, refused or kept waiting",
                &["domain", "outcome"],
            ),
            applied_seq: gauge(
                "sync_applied_seq",
                "The last batch seq applied (edge) or built (hub)",
            ),
            head_seq: gauge(
                "sync_head_seq",
                "The hub's latest batch seq as last heard (edge)",
            ),
            sync_lag: gauge(
                "sync_lag_batches",
                "Batches the edge is behind the hub's head",
            ),
            index_descriptors: gauge(
                "index_descriptors",
                "Searchable descriptors per served domain",
            ),
            live: LiveMetrics::new(&registry),
            recognize_seconds,
            registry,
        }
    }

    /// The text exposition, after refreshing the state gauges from
    /// `domains`: `(domain, applied seq, head seq, searchable descriptors)`.
    pub fn render(&self, domains: &[(String, u64, Option<u64>, Option<u64>)]) -> String {
        for (domain, applied, head, descriptors) in domains {
            self.applied_seq
                .with_label_values(&[domain])
                .set(*applied as i64);
            if let Some(h) = head {
                self.head_seq.with_label_values(&[domain]).set(*h as i64);
                self.sync_lag
                    .with_label_values(&[domain])
                    .set(h.saturating_sub(*applied) as i64);
            }
            if let Some(n) = descriptors {
                self.index_descriptors
                    .with_label_values(&[domain])
                    .set(*n as i64);
            }
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_state_gauges_appear_in_the_exposition() {
        let m = Metrics::new();
        m.recognize_requests.with_label_values(&["ok"]).inc();
        m.sync_batches
            .with_label_values(&["serbia", "applied"])
            .inc_by(3);
        let text = m.render(&[("serbia".into(), 3, Some(4), Some(1200))]);
        assert!(
            text.contains(r#"facerec_recognize_requests_total{outcome="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"facerec_sync_batches_total{domain="serbia",outcome="applied"} 3"#)
        );
        assert!(text.contains(r#"facerec_sync_applied_seq{domain="serbia"} 3"#));
        assert!(text.contains(r#"facerec_sync_head_seq{domain="serbia"} 4"#));
        assert!(text.contains(r#"facerec_index_descriptors{domain="serbia"} 1200"#));
        assert!(text.contains(r#"facerec_sync_lag_batches{domain="serbia"} 1"#));
    }
}
