//! Logging to stderr, one line per event, each starting with `dyn53: ` so that router
//! scripts can pass it straight to syslog (`logger -t dyn53`).
//!
//! Only dyn53's own records are printed: library internals (ureq, rustls) stay quiet even
//! with `-v`, so no request detail can leak into a log. Messages never contain secrets,
//! tokens, signatures or nonces; callers make sure of that.
//!
//! dyn53 logs through the macros here (`use crate::logging as log;` keeps call sites reading
//! `log::info!`), not the `log` crate's: the router build sets the crate's compile-time
//! ceiling to `off` (`log/release_max_level_off`), which compiles out the libraries' log
//! calls (about 17 KB on mipsel, never printed anyway) but would silence these too.

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

/// Hands one dyn53 record to the installed logger if the run's verbosity lets it through.
/// Unlike the `log` crate's macros this ignores the crate's compile-time ceiling.
/// Its target is "dyn53", not the module path: nothing prints it, and one string for
/// all call sites is smaller in the router binary.
pub fn emit(level: Level, args: std::fmt::Arguments<'_>) {
    if level <= log::max_level() {
        log::logger().log(
            &Record::builder()
                .level(level)
                .target("dyn53")
                .args(args)
                .build(),
        );
    }
}

/// Logs an error (always shown).
#[macro_export]
macro_rules! dyn53_log_error {
    ($($arg:tt)+) => { $crate::logging::emit(::log::Level::Error, format_args!($($arg)+)) };
}
/// Logs a warning (hidden by `-q`).
#[macro_export]
macro_rules! dyn53_log_warn {
    ($($arg:tt)+) => { $crate::logging::emit(::log::Level::Warn, format_args!($($arg)+)) };
}
/// Logs a notable event (hidden by `-q`).
#[macro_export]
macro_rules! dyn53_log_info {
    ($($arg:tt)+) => { $crate::logging::emit(::log::Level::Info, format_args!($($arg)+)) };
}
/// Logs a request or decision (shown with `-v`).
#[macro_export]
macro_rules! dyn53_log_debug {
    ($($arg:tt)+) => { $crate::logging::emit(::log::Level::Debug, format_args!($($arg)+)) };
}
pub use crate::{
    dyn53_log_debug as debug, dyn53_log_error as error, dyn53_log_info as info,
    dyn53_log_warn as warn,
};

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
