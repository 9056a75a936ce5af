use thiserror::Error;

pub type CameraResult<T> = Result<T, CameraError>;

#[derive(Debug, Error)]
pub enum CameraError {
    /// The source cannot be opened (no such device, refused connection,
    /// unsupported format…).
    #[error("cannot open {source_name}: {reason}")]
    Open { source_name: String, reason: String },
    /// The source was open and went away (unplugged, connection closed).
    #[error("{source_name} disconnected: {reason}")]
    Disconnected { source_name: String, reason: String },
    /// No frame arrived within the timeout.
    #[error("{source_name} stalled: no frame for {seconds:.1} s")]
    Stalled { source_name: String, seconds: f64 },
    /// One frame could not be decoded; the next may be fine.
    #[error("corrupt frame: {0}")]
    CorruptFrame(String),
    /// A replay reached its end and does not repeat.
    #[error("{0}: end of replay")]
    Ended(String),
}

impl CameraError {
    /// Whether the source must be reopened (a corrupt frame is skipped).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, CameraError::CorruptFrame(_))
    }

    /// Why, in a few words a person can act on (`401 wrong credentials`,
    /// `stalled: no frame for 10.0 s`), without the source's name.
    pub fn reason(&self) -> String {
        match self {
            CameraError::Open { reason, .. } | CameraError::Disconnected { reason, .. } => {
                reason.clone()
            }
            CameraError::Stalled { seconds, .. } => format!("stalled: no frame for {seconds:.1} s"),
            CameraError::CorruptFrame(r) => format!("corrupt frame: {r}"),
            CameraError::Ended(_) => "ended".into(),
        }
    }

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CameraError::Open { .. } => "open",
            CameraError::Disconnected { .. } => "disconnected",
            CameraError::Stalled { .. } => "stalled",
            CameraError::CorruptFrame(_) => "corrupt_frame",
            CameraError::Ended(_) => "ended",
        }
    }
}
