//! Long-running hub work (processing, downloads) as jobs a client can poll:
//! `GET /api/jobs/{id}` → done/total/errors. Jobs live in memory; a restart
//! forgets them, not their effects (every step is committed as it goes).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: u64,
    /// `process` or `download`.
    pub kind: String,
    pub domain: String,
    pub state: JobState,
    pub done: u64,
    pub total: u64,
    /// Items that failed (with the reason), and the job's own failure.
    pub errors: Vec<String>,
    /// What the job reported when it finished.
    #[schema(value_type = Object)]
    pub result: Option<serde_json::Value>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How many finished jobs are remembered.
const KEEP_FINISHED: usize = 200;

#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    jobs: Mutex<HashMap<u64, Job>>,
}

/// A running job's handle for the worker.
#[derive(Clone)]
pub struct JobHandle {
    id: u64,
    jobs: Arc<Jobs>,
}

impl Jobs {
    pub fn start(self: &Arc<Self>, kind: &str, domain: &str, total: u64) -> JobHandle {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Job {
            id,
            kind: kind.into(),
            domain: domain.into(),
            state: JobState::Running,
            done: 0,
            total,
            errors: vec![],
            result: None,
            started_at: Utc::now(),
            finished_at: None,
        };
        let mut jobs = self.jobs.lock().unwrap();
        if jobs.len() >= KEEP_FINISHED {
            let mut finished: Vec<(u64, DateTime<Utc>)> = jobs
                .values()
                .filter_map(|j| j.finished_at.map(|t| (j.id, t)))
                .collect();
            finished.sort_by_key(|(_, t)| *t);
            for (old, _) in finished.iter().take(jobs.len() + 1 - KEEP_FINISHED) {
                jobs.remove(old);
            }
        }
        jobs.insert(id, job);
        JobHandle {
            id,
            jobs: self.clone(),
        }
    }

    /// The jobs of `domain`, newest first.
    pub fn of_domain(&self, domain: &str) -> Vec<Job> {
        let mut jobs: Vec<Job> = self
            .jobs
            .lock()
            .expect("jobs lock")
            .values()
            .filter(|j| j.domain == domain)
            .cloned()
            .collect();
        jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
        jobs
    }

    pub fn get(&self, id: u64) -> Option<Job> {
        self.jobs.lock().unwrap().get(&id).cloned()
    }
}

impl JobHandle {
    pub fn id(&self) -> u64 {
        self.id
    }

    fn update(&self, f: impl FnOnce(&mut Job)) {
        if let Some(job) = self.jobs.jobs.lock().unwrap().get_mut(&self.id) {
            f(job);
        }
    }

    pub fn step(&self) {
        self.update(|j| j.done += 1);
    }

    pub fn error(&self, what: String) {
        self.update(|j| j.errors.push(what));
    }

    pub fn finish(&self, outcome: anyhow::Result<serde_json::Value>) {
        self.update(|j| {
            j.finished_at = Some(Utc::now());
            match outcome {
                Ok(result) => {
                    j.state = JobState::Succeeded;
                    j.result = Some(result);
                }
                Err(e) => {
                    j.state = JobState::Failed;
                    j.errors.push(format!("{e:#}"));
                }
            }
        });
    }
}
