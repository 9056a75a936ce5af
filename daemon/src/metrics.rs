//! Prometheus metrics of a node, served at `GET /metrics`.
//!
//! Counters and histograms are updated where things happen (recognition,
//! sync); gauges that mirror state (index sizes, applied and head seqs) are
//! read at scrape time, so they cannot drift from what they describe.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
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
    applied_seq: IntGaugeVec,
    head_seq: IntGaugeVec,
    index_descriptors: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("facerec".into()), None).expect("valid prefix");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), &["domain"]).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("registered once");
            g
        };
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
            applied_seq: gauge(
                "sync_applied_seq",
                "The last batch seq applied (edge) or built (hub)",
            ),
            head_seq: gauge(
                "sync_head_seq",
                "The hub's latest batch seq as last heard (edge)",
            ),
            index_descriptors: gauge(
                "index_descriptors",
                "Searchable descriptors per served domain",
            ),
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
    }
}
