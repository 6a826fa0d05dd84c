//! The client's one error type: what went wrong, in words a router owner can act on, and
//! whether running again later can help (exit code 1) or not (exit code 2).

use crate::protocol::ErrorCode;
use std::fmt;

/// Exit code: every record is up to date (changed or unchanged).
pub const EXIT_OK: i32 = 0;
/// Exit code: transient failure (network, timeout, TLS, server error); retry later.
pub const EXIT_TRANSIENT: i32 = 1;
/// Exit code: permanent failure (usage, configuration, authentication, refused input).
pub const EXIT_PERMANENT: i32 = 2;

/// Everything that can make a `dyn53` run fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad command line.
    Usage(String),
    /// Bad or missing configuration (file, environment, flags, secret, ca_file).
    Config(String),
    /// DNS, connection or I/O failure on the way to the backend.
    Network(String),
    /// No answer in time.
    Timeout(String),
    /// TLS failure; `retry` when waiting may fix it (e.g. the clock is not synced yet).
    Tls {
        /// `TLS: ` + what failed, naming the certificate problem.
        message: String,
        /// Whether another attempt in this run may succeed.
        retry: bool,
    },
    /// The backend answered with a dyn53 error.
    Backend {
        /// The error code from the answer.
        code: ErrorCode,
        /// `backend answered '<code>': ` + the backend's message (cleaned) + advice.
        message: String,
    },
    /// The answer is not a dyn53 answer (wrong URL, gateway error page, ...).
    BadAnswer {
        /// HTTP status of the answer.
        status: u16,
        /// What was wrong with it.
        message: String,
    },
    /// `check` found this many records whose DNS answer differs from the expected address.
    OutOfSync(usize),
    /// Some records failed (each one already logged); the exit code is the worst one's.
    Failed {
        /// Records that failed.
        failed: usize,
        /// Records tried.
        total: usize,
        /// Exit code of the most severe failure.
        exit_code: i32,
    },
}

impl Error {
    /// The process exit code for this error: 1 transient, 2 permanent.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config(_) => EXIT_PERMANENT,
            Error::Network(_) | Error::Timeout(_) | Error::Tls { .. } | Error::OutOfSync(_) => {
                EXIT_TRANSIENT
            }
            Error::Backend { code, .. } if code.retryable() => EXIT_TRANSIENT,
            Error::Backend { .. } => EXIT_PERMANENT,
            Error::BadAnswer { status, .. } if transient_status(*status) => EXIT_TRANSIENT,
            Error::BadAnswer { .. } => EXIT_PERMANENT,
            Error::Failed { exit_code, .. } => *exit_code,
        }
    }

    /// Whether another attempt within this run's deadline may succeed.
    pub fn retry_in_run(&self) -> bool {
        match self {
            Error::Network(_) | Error::Timeout(_) => true,
            Error::Tls { retry, .. } => *retry,
            Error::Backend { code, .. } => code.retryable(),
            Error::BadAnswer { status, .. } => transient_status(*status),
            _ => false,
        }
    }

    /// Whether the backend asks for a fresh `get` (stale nonce, address changed): retry at once.
    pub fn wants_fresh_get(&self) -> bool {
        matches!(
            self,
            Error::Backend {
                code: ErrorCode::Nonce | ErrorCode::IpMismatch,
                ..
            }
        )
    }

    /// Prefixes the message with what it is about (e.g. `home.example.com A: `).
    pub fn about(mut self, subject: &str) -> Self {
        match &mut self {
            Error::Usage(m)
            | Error::Config(m)
            | Error::Network(m)
            | Error::Timeout(m)
            | Error::Tls { message: m, .. }
            | Error::Backend { message: m, .. }
            | Error::BadAnswer { message: m, .. } => {
                m.insert_str(0, ": ");
                m.insert_str(0, subject);
            }
            Error::OutOfSync(_) | Error::Failed { .. } => {}
        }
        self
    }

    /// Appends a note (e.g. why retrying stopped) to the message.
    pub fn with_note(mut self, note: &str) -> Self {
        match &mut self {
            Error::Usage(m)
            | Error::Config(m)
            | Error::Network(m)
            | Error::Timeout(m)
            | Error::Tls { message: m, .. }
            | Error::Backend { message: m, .. }
            | Error::BadAnswer { message: m, .. } => {
                m.push_str("; ");
                m.push_str(note);
            }
            Error::OutOfSync(_) | Error::Failed { .. } => {}
        }
        self
    }
}

/// HTTP statuses worth retrying: timeouts, rate limits and server faults.
fn transient_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m} (see dyn53 --help)"),
            Error::Config(m) | Error::Network(m) | Error::Timeout(m) => f.write_str(m),
            Error::Tls { message, .. }
            | Error::Backend { message, .. }
            | Error::BadAnswer { message, .. } => f.write_str(message),
            Error::OutOfSync(n) => write!(
                f,
                "{n} record(s) out of sync with the address the backend sees (run dyn53 update)"
            ),
            Error::Failed { failed, total, .. } => {
                write!(f, "{failed} of {total} record(s) failed (see above)")
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Config("x".into()).exit_code(), 2);
        assert_eq!(Error::Network("x".into()).exit_code(), 1);
        assert_eq!(Error::Timeout("x".into()).exit_code(), 1);
        let tls = Error::Tls {
            message: "x".into(),
            retry: false,
        };
        assert_eq!(tls.exit_code(), 1);
        assert!(!tls.retry_in_run());
        let auth = Error::Backend {
            code: ErrorCode::Auth,
            message: "no".into(),
        };
        assert_eq!(auth.exit_code(), 2);
        assert!(!auth.retry_in_run());
        let busy = Error::Backend {
            code: ErrorCode::RateLimited,
            message: "slow".into(),
        };
        assert_eq!(busy.exit_code(), 1);
        assert!(busy.retry_in_run());
        let nonce = Error::Backend {
            code: ErrorCode::Nonce,
            message: "stale".into(),
        };
        assert!(nonce.wants_fresh_get() && nonce.retry_in_run());
        let gw = |status| Error::BadAnswer {
            status,
            message: "x".into(),
        };
        assert_eq!(gw(502).exit_code(), 1);
        assert_eq!(gw(429).exit_code(), 1);
        assert_eq!(gw(404).exit_code(), 2);
        assert_eq!(gw(200).exit_code(), 2);
        assert_eq!(Error::OutOfSync(1).exit_code(), 1);
    }

    #[test]
    fn notes_extend_the_message() {
        let e = Error::Timeout("no answer".into()).with_note("gave up");
        assert_eq!(e.to_string(), "no answer; gave up");
        let e = Error::Network("refused".into()).about("h.example A");
        assert_eq!(e.to_string(), "h.example A: refused");
    }
}
