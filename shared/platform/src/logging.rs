//! Logging, set up once per process: JSON lines in Lambda (CloudWatch parses them), a
//! readable format elsewhere; the level comes from `RUST_LOG` (default `info`).
//!
//! User text reaches the logs (queries, request ids, error reasons); call sites log it
//! Debug-quoted (`?query`), and the readable format escapes every control and
//! bidirectional character in every field and message besides ([`escape_controls`]), so
//! no value, however it was logged, can forge a line or drive the terminal. JSON escapes
//! them by itself.

use std::fmt::{self, Write as _};

use tracing::field::Field;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
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
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = subscriber(format, filter, ansi, std::io::stderr).try_init();
}

/// The subscriber [`init_with`] installs, writing to `writer` at the levels `filter`
/// lets through, with terminal colours when `ansi` (the readable format only).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi && format == LogFormat::Pretty)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .without_time()
                .finish(),
        ),
        LogFormat::Pretty => Box::new(
            builder
                .compact()
                .fmt_fields(tracing_subscriber::fmt::format::debug_fn(escaped_field).delimited(" "))
                .finish(),
        ),
    }
}

/// One field of the readable format: `name=value` (the message bare), control and
/// bidirectional characters escaped.
fn escaped_field(writer: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
    if field.name() != "message" {
        write!(writer, "{}=", field.name())?;
    }
    let mut escaper = Escaper(writer);
    write!(escaper, "{value:?}")
}

/// Writes through to a [`Writer`], escaping as [`escape_controls`] does.
struct Escaper<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaper<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for c in text.chars() {
            if needs_escape(c) {
                write!(self.0, "{}", c.escape_unicode())?;
            } else {
                self.0.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Control characters (newlines, ESC, C1) and the bidirectional formatting characters
/// (which reorder what a terminal shows).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every control and bidirectional character written as `\u{…}`: what the
/// readable log format does to each field.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat, log: impl FnOnce()) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = subscriber(format, EnvFilter::new("info"), false, move || {
            writer.clone()
        });
        tracing::subscriber::with_default(subscriber, log);
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    const FORGED: &str =
        "Nobody\n2026-12-01T00:00:00Z ERROR forged: admin logged in\u{1b}[2J\u{202E}";

    #[test]
    fn user_text_cannot_forge_a_line_whichever_way_it_is_logged() {
        for format in [LogFormat::Pretty, LogFormat::Json] {
            let text = logged(format, || {
                let error = std::io::Error::other(FORGED);
                tracing::info!(query = %FORGED, quoted = ?FORGED, bare = FORGED, reason = %error, "asked {FORGED}");
                tracing::warn!("done");
            });
            assert_eq!(
                text.lines().count(),
                2,
                "{format:?}: one line per event: {text}"
            );
            assert!(
                !text.contains('\u{1b}'),
                "{format:?}: a raw escape character reached the log: {text:?}"
            );
            // JSON keeps bidirectional characters (valid JSON, shown by a JSON viewer);
            // the terminal format must not.
            assert!(
                format == LogFormat::Json || !text.contains('\u{202E}'),
                "{format:?}: a raw bidi character reached the log: {text:?}"
            );
            assert!(text.contains("Nobody"), "{format:?}: {text}");
        }
    }

    #[test]
    fn escaping_keeps_ordinary_text() {
        assert_eq!(escape_controls("방탄소년단 BTS"), "방탄소년단 BTS");
        assert_eq!(escape_controls("a\nb\u{1b}"), "a\\u{a}b\\u{1b}");
    }
}
