//! Logging to stderr, one line per event, each starting with `dyn53: ` so that router
//! scripts can pass it straight to syslog (`logger -t dyn53`).
//!
//! Only dyn53's own records are printed: library internals (ureq, rustls) stay quiet even
//! with `-v`, so no request detail can leak into a log. Messages never contain secrets,
//! tokens, signatures or nonces; callers make sure of that.

use log::{Level, LevelFilter, Metadata, Record};
use std::io::Write;

/// How much to log, from the `-q` / `-v` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Default: errors, warnings and notable events (retries, double NAT).
    Normal,
    /// `-v`: also each request and decision.
    Verbose,
}

struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("dyn53") && metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(record.level(), &record.args().to_string());
        // One write per line keeps lines whole when several processes share stderr.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Formats one log line: `dyn53: [<level>: ]<message>\n`, control characters replaced.
pub fn format_line(level: Level, message: &str) -> String {
    let tag = match level {
        Level::Error => "error: ",
        Level::Warn => "warning: ",
        Level::Info => "",
        Level::Debug => "debug: ",
        Level::Trace => "trace: ",
    };
    let mut line = String::with_capacity(message.len() + 24);
    line.push_str("dyn53: ");
    line.push_str(tag);
    line.extend(
        message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c }),
    );
    line.push('\n');
    line
}

/// Installs the logger; later calls only change the level.
pub fn init(verbosity: Verbosity) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(match verbosity {
        Verbosity::Quiet => LevelFilter::Error,
        Verbosity::Normal => LevelFilter::Info,
        Verbosity::Verbose => LevelFilter::Debug,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_single_and_prefixed() {
        assert_eq!(
            format_line(Level::Warn, "two\nlines\r"),
            "dyn53: warning: two lines \n"
        );
        assert_eq!(format_line(Level::Info, "hello"), "dyn53: hello\n");
    }
}
