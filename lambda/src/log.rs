//! Server-side log lines on stderr (CloudWatch Logs on Lambda).
//!
//! stdout is reserved for Embedded Metric Format lines. Callers never pass secrets, tokens
//! or signatures here; AWS error details are logged here and only here.

use std::fmt::Display;
use std::io::Write;

/// How serious a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal operation worth a line (changes, start-up).
    Info,
    /// Refused or degraded requests (auth failures, notification failures).
    Warn,
    /// Failures the owner must look at (Route 53 or DynamoDB errors, bad config).
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Writes one log line; newlines in the message are escaped so a line stays a line.
pub fn log(level: Level, msg: impl Display) {
    let text = msg.to_string().replace('\n', "\\n");
    // A failed log write must not fail a request.
    let _ = writeln!(
        std::io::stderr().lock(),
        "dyn53-backend {}: {text}",
        level.as_str()
    );
}

/// Logs at [`Level::Info`].
pub fn info(msg: impl Display) {
    log(Level::Info, msg)
}

/// Logs at [`Level::Warn`].
pub fn warn(msg: impl Display) {
    log(Level::Warn, msg)
}

/// Logs at [`Level::Error`].
pub fn error(msg: impl Display) {
    log(Level::Error, msg)
}
