//! Logging, set up once per process: JSON lines in Lambda (CloudWatch parses them), a
//! readable format elsewhere; the level comes from `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// True when running inside AWS Lambda.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// The output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for CloudWatch.
    Json,
    /// Human-readable, for terminals.
    Pretty,
}

impl LogFormat {
    /// JSON in Lambda, pretty elsewhere.
    pub fn detect() -> Self {
        if in_lambda() {
            Self::Json
        } else {
            Self::Pretty
        }
    }
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing),
/// so tests and binaries can both call it.
pub fn init() {
    init_with(LogFormat::detect());
}

/// Installs the global subscriber with a given format.
pub fn init_with(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .without_time()
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
