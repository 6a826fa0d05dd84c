//! The command line: `--help` text and argument parsing (pico-args).

use crate::error::Error;
use crate::logging::Verbosity;
use std::ffi::OsString;
use std::path::PathBuf;

/// `--help` text: commands, options, config keys, environment and exit codes.
pub const HELP: &str = concat!(
    "dyn53 ",
    env!("CARGO_PKG_VERSION"),
    ": keep a home router's name in Route 53 pointing at its public IP

Usage: dyn53 [OPTIONS] [update|ip|check|status|interfaces]

Commands:
  update   (default) learn the address the backend sees, sign it, set each record.
           One line per record on stdout:
             <hostname> <TYPE> unchanged <ip>
             <hostname> <TYPE> changed <old|none> -> <new>
             <hostname> <TYPE> changed -> <new>   (the backend did not say the old one)
           with --dry-run (no set; the current value comes from DNS):
             <hostname> <TYPE> would-change <old|none> -> <new>
           Then writes the status file (not with --dry-run); see status_file below.
  ip       print the public address the backend sees, one line per address family
           the records use (IPv4 for A, IPv6 for AAAA); needs no secret
  check    compare each record's DNS answer with the address the backend sees and
           change nothing; one line per record:
             <hostname> <TYPE> in-sync <ip>
             <hostname> <TYPE> out-of-sync dns=<ips|none> expected=<ip>
  status   print what the last update run did (from the status file; LAN records
           with their addresses), or say that there is none yet
  interfaces
           print the interfaces whose events concern an enabled record, one a line
           (nothing when enabled is 0); the OpenWrt hotplug script asks this

Options:
  -c, --config PATH         config file (default: the first that exists of
                            /etc/config/dyn53 and /jffs/addons/dyn53.d/dyn53.conf)
      --url URL             backend URL; https:// (http:// only for loopback hosts)
      --hostname NAME[:TYPE]
                            record to work on, TYPE A (default) or AAAA; repeatable;
                            replaces the records of the config file
      --secret-file PATH    file holding the shared secret (no --secret: command
                            lines are visible to every user)
      --ca-file PATH        extra CA certificates (PEM) to trust, for a private backend;
                            the Amazon Trust Services roots are built in
      --ip ADDR             the WAN address the router knows (Merlin's $1): logged and
                            compared with the backend's view (private: double NAT)
      --explicit-ip         protocol 2: sign and send --ip as the address instead of the
                            source address (only if the backend allows it for the host)
      --lan-prefix PREFIX   protocol 2: also send the IPv6 LAN prefix (global, /48 to
                            /64), signed; the backend moves the host's LAN records
                            (devices behind the router) into it
      --interface NAME      only records whose interface is NAME; records without an
                            interface follow wan, wan6 and wan_6 (PPPoE's IPv6 side)
                            (OpenWrt hotplug passes $INTERFACE)
      --protocol 1|1-query|2
                            2 (default): HMAC with a server nonce; 1: the reference
                            design's token, JSON POST (2023 function URL backends);
                            1-query: the same as GET ?mode= (2015/2016 API Gateway);
                            1 sends the hostname exactly as written
      --timeout SECS        deadline for the whole run, retries included (default 60)
      --dry-run             everything except the set call
  -v, --verbose             also log each request and decision
  -q, --quiet               log errors only
  -h, --help                print this help
  -V, --version             print the version

Config file (UCI or key=value, detected automatically):
  UCI 'config dyn53' section: url, secret or secret_file, ca_file, protocol, timeout,
      enabled (0: update does nothing), explicit_ip (default for the records),
      check_interval (used by the init script only), status_file
  UCI 'config record' sections: hostname, type (A or AAAA), interface (one name or
      several separated by spaces), enabled, explicit_ip
  key=value (Merlin): url, secret or secret_file, ca_file, protocol, timeout, enabled,
      explicit_ip, and either hostname (with record_type) or
      records (NAME[:TYPE] separated by spaces or commas), status_file
  status_file: where update writes its result for the web pages and dyn53 status,
      atomically, mode 0644, no secret (default /var/run/dyn53/status.json, with a
      key=value config /tmp/dyn53/status.json; empty: none). A failed write is a warning.
  '#' starts a comment; values may be quoted. Unknown keys are warnings, duplicate
  keys are errors. Keep the file and the secret file private (chmod 600).

Environment (overrides the file; flags override the environment):
  DYN53_CONFIG DYN53_URL DYN53_SECRET DYN53_SECRET_FILE DYN53_CA_FILE
  DYN53_PROTOCOL DYN53_TIMEOUT DYN53_STATUS_FILE

Logs and errors go to stderr, one line each, starting with \"dyn53: \"; never a
secret, token, signature or nonce.

Exit codes:
  0  success: every record changed or unchanged (check: every record in sync)
  1  transient failure, worth retrying later: DNS, network, timeout, TLS (certificate
     refused, clock not synced yet), server error, rate limit (check: out of sync)
  2  permanent failure: usage, configuration, secret, authentication refused,
     request not allowed for this host
  With several records the most severe failure decides (2 before 1).
"
);

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Command {
    /// Set each record to the address the backend sees.
    #[default]
    Update,
    /// Print the address the backend sees.
    Ip,
    /// Compare DNS with the backend's view.
    Check,
    /// Print the last update's status file.
    Status,
    /// Print the interfaces the enabled records follow.
    Interfaces,
}

/// Parsed command-line arguments (values are validated later, with the config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// The command.
    pub command: Command,
    /// `-c`.
    pub config: Option<PathBuf>,
    /// `--url`.
    pub url: Option<String>,
    /// `--hostname`, repeatable.
    pub hostnames: Vec<String>,
    /// `--secret-file`.
    pub secret_file: Option<PathBuf>,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `--ip`.
    pub ip: Option<String>,
    /// `--explicit-ip`.
    pub explicit_ip: bool,
    /// `--lan-prefix`.
    pub lan_prefix: Option<String>,
    /// `--interface`.
    pub interface: Option<String>,
    /// `--protocol`.
    pub protocol: Option<String>,
    /// `--timeout`.
    pub timeout: Option<String>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `-v` / `-q`.
    pub verbosity: Option<Verbosity>,
}

/// Result of parsing: run, or print help/version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `-h`.
    Help,
    /// `-V`.
    Version,
    /// Run a command.
    Run(Box<Args>),
}

/// Parses the process arguments.
pub fn parse_args() -> Result<Parsed, Error> {
    parse_from(std::env::args_os().skip(1).collect())
}

fn usage(e: pico_args::Error) -> Error {
    Error::Usage(match e {
        pico_args::Error::OptionWithoutAValue(o) => format!("{o} needs a value"),
        pico_args::Error::NonUtf8Argument => "arguments must be valid UTF-8".into(),
        other => other.to_string(),
    })
}

/// An optional path-valued option (paths need not be UTF-8).
fn path(
    p: &mut pico_args::Arguments,
    keys: impl Into<pico_args::Keys>,
) -> Result<Option<PathBuf>, Error> {
    p.opt_value_from_os_str(keys, |s| Ok::<_, String>(PathBuf::from(s)))
        .map_err(usage)
}

/// Parses `args` (without the program name). Kept in one piece (~60 lines): it is the
/// CLI's one table of flags, read top to bottom as pico-args intends.
pub fn parse_from(args: Vec<OsString>) -> Result<Parsed, Error> {
    let mut p = pico_args::Arguments::from_vec(args);
    if p.contains(["-h", "--help"]) {
        return Ok(Parsed::Help);
    }
    if p.contains(["-V", "--version"]) {
        return Ok(Parsed::Version);
    }
    let mut a = Args {
        config: path(&mut p, ["-c", "--config"])?,
        secret_file: path(&mut p, "--secret-file")?,
        ca_file: path(&mut p, "--ca-file")?,
        url: p.opt_value_from_str("--url").map_err(usage)?,
        hostnames: p.values_from_str("--hostname").map_err(usage)?,
        ip: p.opt_value_from_str("--ip").map_err(usage)?,
        interface: p.opt_value_from_str("--interface").map_err(usage)?,
        protocol: p.opt_value_from_str("--protocol").map_err(usage)?,
        timeout: p.opt_value_from_str("--timeout").map_err(usage)?,
        explicit_ip: p.contains("--explicit-ip"),
        lan_prefix: p.opt_value_from_str("--lan-prefix").map_err(usage)?,
        dry_run: p.contains("--dry-run"),
        ..Args::default()
    };
    let verbose = p.contains(["-v", "--verbose"]);
    let quiet = p.contains(["-q", "--quiet"]);
    a.verbosity = match (verbose, quiet) {
        (true, true) => return Err(Error::Usage("-v and -q exclude each other".into())),
        (true, false) => Some(Verbosity::Verbose),
        (false, true) => Some(Verbosity::Quiet),
        (false, false) => None,
    };
    let command: Option<String> = p.opt_free_from_str().map_err(usage)?;
    a.command = match command.as_deref() {
        None | Some("update") => Command::Update,
        Some("ip") => Command::Ip,
        Some("check") => Command::Check,
        Some("status") => Command::Status,
        Some("interfaces") => Command::Interfaces,
        Some(other) if other.starts_with('-') => {
            return Err(Error::Usage(format!("unknown or repeated option {other}")))
        }
        Some(other) => {
            return Err(Error::Usage(format!(
                "unknown command '{other}' (commands: update, ip, check, status, interfaces)"
            )))
        }
    };
    let rest = p.finish();
    if let Some(extra) = rest.first() {
        return Err(Error::Usage(format!(
            "unexpected or repeated argument '{}'",
            extra.to_string_lossy()
        )));
    }
    if a.dry_run && a.command != Command::Update {
        return Err(Error::Usage("--dry-run only applies to update".into()));
    }
    if a.interface.is_some() && a.command == Command::Interfaces {
        return Err(Error::Usage(
            "--interface does not apply to interfaces".into(),
        ));
    }
    Ok(Parsed::Run(Box::new(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, Error> {
        parse_from(args.iter().map(OsString::from).collect())
    }

    fn run(args: &[&str]) -> Args {
        match parse(args).unwrap() {
            Parsed::Run(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_and_commands() {
        assert_eq!(run(&[]), Args::default());
        assert_eq!(run(&["ip"]).command, Command::Ip);
        assert_eq!(run(&["-v", "check"]).command, Command::Check);
        assert_eq!(run(&["interfaces"]).command, Command::Interfaces);
        assert_eq!(run(&["status"]).command, Command::Status);
        assert_eq!(parse(&["--help"]).unwrap(), Parsed::Help);
        assert_eq!(parse(&["update", "-V"]).unwrap(), Parsed::Version);
    }

    #[test]
    fn options() {
        let a = run(&[
            "-c",
            "/tmp/c",
            "--hostname",
            "a.example.com",
            "--hostname=b.example.com:AAAA",
            "--ip",
            "192.0.2.1",
            "--explicit-ip",
            "--interface",
            "wan",
            "--timeout",
            "5",
            "--protocol",
            "1",
            "--dry-run",
            "-q",
            "--lan-prefix",
            "2001:db8:1:10::/64",
        ]);
        assert_eq!(a.config, Some(PathBuf::from("/tmp/c")));
        assert_eq!(a.lan_prefix.as_deref(), Some("2001:db8:1:10::/64"));
        assert_eq!(a.hostnames, ["a.example.com", "b.example.com:AAAA"]);
        assert!(a.explicit_ip && a.dry_run);
        assert_eq!(a.verbosity, Some(Verbosity::Quiet));
        assert_eq!(a.timeout.as_deref(), Some("5"));
    }

    #[test]
    fn usage_errors() {
        for (args, want) in [
            (&["--bogus"][..], "unknown or repeated option --bogus"),
            (&["frobnicate"], "unknown command 'frobnicate'"),
            (
                &["update", "extra"],
                "unexpected or repeated argument 'extra'",
            ),
            (&["--url", "a", "--url", "b"], "repeated option --url"),
            (&["--timeout"], "--timeout needs a value"),
            (&["-v", "-q"], "exclude each other"),
            (&["ip", "--dry-run"], "only applies to update"),
            (
                &["interfaces", "--interface", "wan"],
                "does not apply to interfaces",
            ),
            (&["--secret", "x"], "unknown or repeated option --secret"),
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(want), "{args:?}: {e}");
        }
    }
}
