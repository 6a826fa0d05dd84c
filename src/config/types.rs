//! The client's settings types: what a run needs once merged and validated ([`Settings`],
//! [`Record`], [`Secret`]), and the raw, per-source form a reader produces ([`Layer`]).

use crate::error::Error;
use crate::protocol::RecordType;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Config files tried in order when neither `-c` nor `DYN53_CONFIG` names one.
pub const DEFAULT_PATHS: [&str; 2] = ["/etc/config/dyn53", "/jffs/addons/dyn53.d/dyn53.conf"];
/// Default total deadline of a run, in seconds.
pub const DEFAULT_TIMEOUT: u64 = 60;
/// Longest accepted `timeout`, in seconds.
pub const MAX_TIMEOUT: u64 = 3600;
/// Largest config file read.
pub const MAX_FILE: u64 = 64 * 1024;
/// Longest line in a config file.
pub const MAX_LINE: usize = 4096;
/// Longest secret.
pub const MAX_SECRET: usize = 1024;
/// Longest backend URL.
pub(super) const MAX_URL: usize = 2048;

/// The shared secret. It has no `Display`, and `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(super) String);

impl Secret {
    /// The secret's text, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Protocol version spoken with the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `1`: the reference design's sha256 token in JSON bodies (2023 function URL backends).
    V1,
    /// `1-query`: the same token in `GET ?mode=` query strings (2015/2016 API Gateway).
    V1Query,
    /// `2`: dyn53's HMAC with a server nonce.
    V2,
}

/// A DNS record to keep up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Normalised hostname (lower case, no trailing dot).
    pub hostname: String,
    /// The hostname exactly as configured: protocol 1 sends and hashes it so, since
    /// reference host configs and hashes use the name as written (often with its dot).
    pub hostname_raw: String,
    /// A or AAAA.
    pub record_type: RecordType,
    /// OpenWrt logical interface the record belongs to (`--interface` filter).
    pub interface: Option<String>,
    /// v2 explicit-IP mode: sign and send the `--ip` address instead of the source address.
    pub explicit_ip: bool,
}

/// The interfaces a record without `interface` follows: OpenWrt's usual WAN names, and
/// `wan_6`, the DHCPv6 side netifd creates on PPPoE links.
pub const WAN_INTERFACES: &[&str] = &["wan", "wan6", "wan_6"];

impl Record {
    /// The interfaces whose events concern this record: the names in `interface`
    /// (several separated by spaces, as in a firewall zone's `network`), else the WAN names.
    pub fn interfaces(&self) -> Vec<&str> {
        match &self.interface {
            Some(names) => names.split_whitespace().collect(),
            None => WAN_INTERFACES.to_vec(),
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hostname, self.record_type)
    }
}

/// The backend URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    /// The URL as given.
    pub text: String,
    /// Host part, without brackets for IPv6 literals.
    pub host: String,
}

/// Everything a run needs, merged and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Config file read, if any.
    pub config_path: Option<PathBuf>,
    /// Backend URL (missing only if the config gives none; commands check).
    pub url: Option<BackendUrl>,
    /// Shared secret (needed by `update` only).
    pub secret: Option<Secret>,
    /// Extra CA certificates (PEM) trusted besides the built-in Amazon roots.
    pub ca_file: Option<PathBuf>,
    /// Protocol version.
    pub protocol: Protocol,
    /// Total deadline of the run.
    pub timeout: Duration,
    /// The config's global `enabled` switch.
    pub enabled: bool,
    /// Records to work on (enabled, matching `--interface`).
    pub records: Vec<Record>,
    /// Where `update` writes its status (`None`: `status_file` set empty, write none).
    pub status_file: Option<PathBuf>,
    /// Records left out because their interface differs from `--interface`.
    pub other_interfaces: usize,
    /// Non-fatal findings to log (unknown keys, permissive file modes).
    pub warnings: Vec<String>,
}

pub(super) fn cfg_err(msg: impl Into<String>) -> Error {
    Error::Config(msg.into())
}

/// A value and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Val {
    /// The text.
    pub value: String,
    /// `file line N`, `DYN53_X` or `--flag`.
    pub origin: String,
}

impl Val {
    pub(super) fn new(value: impl Into<String>, origin: impl Into<String>) -> Self {
        Val {
            value: value.into(),
            origin: origin.into(),
        }
    }
    pub(super) fn err(&self, msg: &str) -> Error {
        cfg_err(format!("{}: {msg}", self.origin))
    }
}

/// Where the secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Given inline (config `secret` or `DYN53_SECRET`).
    Inline(Secret, String),
    /// Read from a file.
    File(Val),
}

/// A record as written, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSpec {
    /// `name` or `name:TYPE`.
    pub hostname: Option<Val>,
    /// Separate type (`type` in UCI, `record_type` in key=value).
    pub record_type: Option<Val>,
    /// UCI `interface`.
    pub interface: Option<Val>,
    /// Per-record explicit-IP switch.
    pub explicit_ip: Option<Val>,
    /// Per-record enable switch.
    pub enabled: Option<Val>,
    /// Where the record was defined.
    pub origin: String,
}

/// The settings one source (file, environment, flags) gives; `None` = not set there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    /// Backend URL.
    pub url: Option<Val>,
    /// Secret or secret file.
    pub secret: Option<SecretSource>,
    /// CA file; an empty value means none.
    pub ca_file: Option<Val>,
    /// `1` or `2`.
    pub protocol: Option<Val>,
    /// Seconds.
    pub timeout: Option<Val>,
    /// Global enable switch.
    pub enabled: Option<Val>,
    /// Default explicit-IP switch for records.
    pub explicit_ip: Option<Val>,
    /// `--explicit-ip`: explicit mode for every record, whatever the config says.
    pub force_explicit_ip: bool,
    /// Records (replace those of lower layers).
    pub records: Option<Vec<RecordSpec>>,
    /// Status file; an empty value means none.
    pub status_file: Option<Val>,
}

/// A parsed config file: its settings and non-fatal warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConfig {
    /// The settings.
    pub layer: Layer,
    /// Unknown keys and sections.
    pub warnings: Vec<String>,
}
