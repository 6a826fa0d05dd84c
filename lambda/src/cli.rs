//! Command line of `dyn53-backend`: parsing only (main.rs runs what it returns).

use crate::admin::AddHost;
use crate::client_config::url_ok;
use crate::host::{
    parse_hostname, parse_protocols, parse_record_names, parse_ttl, parse_types, parse_zone_id,
    split_list, NotifyPrefs, DEFAULT_TTL, MAX_SILENT_AFTER,
};
use crate::import::{ImportOptions, Source};
use crate::lan::LanRecord;
use crate::settings_table;
use dyn53::protocol::RecordType;
use hyper::header::HeaderName;
use pico_args::Arguments;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `--help`: the commands, then the environment from [`settings_table::SETTINGS`].
pub fn usage() -> String {
    let usage = USAGE.replace("{NOTIFY_USAGE}", crate::notify_admin::USAGE);
    format!("{usage}{}{USAGE_TAIL}", settings_table::help_section())
}

/// The commands part of `--help`.
const USAGE: &str = "\
dyn53-backend: Route 53 dynamic-DNS backend (AWS Lambda function, local service, admin CLI)

Usage:
  dyn53-backend                       on Lambda (AWS_LAMBDA_RUNTIME_API set): serve invocations
  dyn53-backend lambda                the same, explicitly
  dyn53-backend serve [--listen ADDR] [--trust-proxy-header NAME]
                                      plain HTTP on ADDR (default 127.0.0.1:8053); the caller's
                                      address is the TCP peer, or the last address in header
                                      NAME when behind a trusted reverse proxy
  dyn53-backend host add HOSTNAME --zone-id ZONE [--ttl 60] [--types A,AAAA]
                [--protocols 1,2[,dyndns2]] [--allow-explicit-ip [--allow-private-ip]]
                [--no-notify-change] [--no-notify-auth-failure] [--no-notify-error]
                [--silent-after HOURS]
                [--url FUNCTION_URL] [--record-names LIST] [--secret-file FILE]
                [--lan NAME=IDENTIFIER ...]
                                      add a host; prints its secret once and client configs.
                                      Explicit IPs must be public unless --allow-private-ip.
                                      LIST (default DYN53_RECORD_NAMES, the stack's RecordNames
                                      output): names the function may change; others refused.
                                      --secret-file: keep the secret in FILE, never printed
                                      --lan: an AAAA record of a device behind the router that
                                      follows its LAN prefix; IDENTIFIER is a fixed suffix
                                      (::1234, ::a:b:c:d) or eui64:MAC; at most 50 per host
  dyn53-backend host list             list hosts (never secrets)
  dyn53-backend host rotate HOSTNAME [--url FUNCTION_URL]
                                      new secret for a host; prints it once
  dyn53-backend host remove HOSTNAME  remove a host (its DNS records stay)
  dyn53-backend host watch HOSTNAME (--silent-after HOURS | --off)
                                      alert when the host has not checked in for HOURS
                                      (1 to 720), or stop watching it
  dyn53-backend host seal [--dry-run] seal the secrets still stored in plaintext (hosts added
                                      before sealing or without DYN53_KMS_KEY) with the
                                      DYN53_KMS_KEY data key; --dry-run only lists them
  dyn53-backend host lan add HOSTNAME NAME=IDENTIFIER... [--record-names LIST]
                                      add LAN records (or change their identifiers)
  dyn53-backend host lan remove HOSTNAME NAME...
                                      remove LAN records (their DNS records stay)
  dyn53-backend host lan list HOSTNAME
                                      list a host's LAN records
  dyn53-backend import (--from-dynamodb TABLE | --from-file FILE)
                [--protocols 1,2[,dyndns2]] [--allow-explicit-ip] [--dry-run]
                                      add the hosts of a reference deployment (2023 DynamoDB
                                      config table, or a copy of the 2015/2016 S3 JSON object:
                                      aws s3 cp s3://BUCKET/KEY - | ... --from-file -) with
                                      their existing secrets (never printed)
{NOTIFY_USAGE}  dyn53-backend zone-id DOMAIN        find the hosted zone id for a domain
  dyn53-backend table create          create the DynamoDB table (self-hosting, local tests)
  dyn53-backend -h | --help | -V | --version

";

/// The end of `--help`, after the generated environment section.
const USAGE_TAIL: &str = "
Also AWS_REGION, AWS_ENDPOINT_URL and the usual AWS credential variables or profile.

Exit codes: 0 ok, 1 AWS failure (worth retrying), 2 bad usage or input.
";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve Lambda invocations.
    Lambda,
    /// Run the local HTTP service.
    Serve {
        /// Address to listen on.
        listen: SocketAddr,
        /// Header holding the client address (trusted reverse proxy only).
        proxy_header: Option<HeaderName>,
    },
    /// `host add`.
    HostAdd(AddHost),
    /// `host list`.
    HostList,
    /// `import`.
    Import(ImportOptions),
    /// `host rotate`.
    HostRotate {
        /// Host to rotate.
        hostname: String,
        /// Function URL for the printed configs.
        url: Option<String>,
    },
    /// `host remove`.
    HostRemove {
        /// Host to remove.
        hostname: String,
    },
    /// `host watch`.
    HostWatch {
        /// Host to watch.
        hostname: String,
        /// Hours without a check-in before it counts as silent (None: not watched).
        silent_after: Option<u32>,
    },
    /// `host seal`.
    HostSeal {
        /// Only list the plaintext secrets.
        dry_run: bool,
    },
    /// `host lan add`.
    HostLanAdd {
        /// The router's host.
        hostname: String,
        /// Records to add or change.
        records: Vec<LanRecord>,
        /// The stack's RecordNames, if given.
        record_names: Option<Vec<String>>,
    },
    /// `host lan remove`.
    HostLanRemove {
        /// The router's host.
        hostname: String,
        /// Names of the records to remove.
        names: Vec<String>,
    },
    /// `host lan list`.
    HostLanList {
        /// The router's host.
        hostname: String,
    },
    /// `zone-id`.
    ZoneId {
        /// Domain to look up.
        domain: String,
    },
    /// `table create`.
    TableCreate,
    /// `notify ...`: the push alert channels.
    Notify(crate::notify_admin::NotifyCmd),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

fn opt<T: std::str::FromStr>(args: &mut Arguments, name: &'static str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    args.opt_value_from_str::<_, T>(name)
        .map_err(|e| format!("{name}: {e}"))
}

fn text(args: &mut Arguments, name: &'static str) -> Result<Option<String>, String> {
    opt::<String>(args, name)
}

fn positional(args: &mut Arguments, what: &str) -> Result<String, String> {
    args.opt_free_from_str::<String>()
        .map_err(|e| format!("{what}: {e}"))?
        .ok_or_else(|| format!("{what} is missing"))
}

fn url(args: &mut Arguments, env_url: Option<String>) -> Result<Option<String>, String> {
    match text(args, "--url")?.or(env_url) {
        Some(u) if !url_ok(&u) => Err(format!(
            "--url {u:?} must be an http(s) URL without quotes or spaces"
        )),
        u => Ok(u),
    }
}

/// Every remaining free argument (after all options were taken).
fn rest(args: Arguments, what: &str) -> Result<Vec<String>, String> {
    let rest: Vec<String> = args
        .finish()
        .into_iter()
        .map(|a| a.into_string().map_err(|_| format!("{what} is not UTF-8")))
        .collect::<Result<_, _>>()?;
    if let Some(flag) = rest.iter().find(|a| a.starts_with('-')) {
        return Err(format!("unexpected argument {flag}"));
    }
    if rest.is_empty() {
        return Err(format!("{what} is missing"));
    }
    Ok(rest)
}

fn record_names(args: &mut Arguments) -> Result<Option<Vec<String>>, String> {
    match text(args, "--record-names")? {
        Some(l) => Ok(Some(
            parse_record_names(&l).map_err(|e| format!("--record-names: {e}"))?,
        )),
        None => Ok(None),
    }
}

fn lan_records(specs: &[String], what: &str) -> Result<Vec<LanRecord>, String> {
    specs
        .iter()
        .map(|s| LanRecord::parse(s).map_err(|e| format!("{what}: {e}")))
        .collect()
}

/// `--silent-after HOURS`, 1 to [`MAX_SILENT_AFTER`].
fn silent_after(args: &mut Arguments) -> Result<Option<u32>, String> {
    match text(args, "--silent-after")? {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(h) if (1..=MAX_SILENT_AFTER).contains(&h) => Ok(Some(h)),
            _ => Err(format!(
                "--silent-after {v:?} must be whole hours, 1 to {MAX_SILENT_AFTER}"
            )),
        },
    }
}

fn finish(args: Arguments) -> Result<(), String> {
    let rest = args.finish();
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unexpected argument(s): {}",
            rest.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ))
    }
}

/// Parses the arguments (without the program name). `on_lambda`: no subcommand means Lambda.
pub fn parse(
    args: Vec<OsString>,
    on_lambda: bool,
    env_url: Option<String>,
) -> Result<Command, String> {
    let mut args = Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Command::Help);
    }
    if args.contains(["-V", "--version"]) {
        return Ok(Command::Version);
    }
    let sub = args.subcommand().map_err(|e| e.to_string())?;
    let cmd = match sub.as_deref() {
        None if on_lambda => Command::Lambda,
        None => return Err("no command given".into()),
        Some("lambda") => Command::Lambda,
        Some("serve") => {
            let listen = opt::<SocketAddr>(&mut args, "--listen")?
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8053)));
            let proxy_header = match text(&mut args, "--trust-proxy-header")? {
                None => None,
                Some(h) => Some(
                    HeaderName::from_bytes(h.as_bytes())
                        .map_err(|_| format!("--trust-proxy-header {h:?} is not a header name"))?,
                ),
            };
            Command::Serve {
                listen,
                proxy_header,
            }
        }
        Some("host") => match args.subcommand().map_err(|e| e.to_string())?.as_deref() {
            Some("add") => {
                let zone = text(&mut args, "--zone-id")?.ok_or("--zone-id is missing")?;
                let ttl = match text(&mut args, "--ttl")? {
                    Some(t) => parse_ttl(&t).map_err(|e| e.0)?,
                    None => DEFAULT_TTL,
                };
                let types = match text(&mut args, "--types")? {
                    Some(t) => parse_types(split_list(&t)).map_err(|e| e.0)?,
                    None => vec![RecordType::A],
                };
                let protocols = parse_protocols(split_list(
                    &text(&mut args, "--protocols")?.unwrap_or_else(|| "1,2".into()),
                ))
                .map_err(|e| e.0)?;
                let allow_explicit_ip = args.contains("--allow-explicit-ip");
                let allow_private_ip = args.contains("--allow-private-ip");
                if allow_private_ip && !allow_explicit_ip {
                    return Err("--allow-private-ip needs --allow-explicit-ip".into());
                }
                let record_names = record_names(&mut args)?;
                let lan = lan_records(
                    &args
                        .values_from_str::<_, String>("--lan")
                        .map_err(|e| format!("--lan: {e}"))?,
                    "--lan",
                )?;
                let notify = NotifyPrefs {
                    on_change: !args.contains("--no-notify-change"),
                    on_auth_failure: !args.contains("--no-notify-auth-failure"),
                    on_error: !args.contains("--no-notify-error"),
                    silent_after: silent_after(&mut args)?,
                };
                let url = url(&mut args, env_url)?;
                let secret_file = opt::<PathBuf>(&mut args, "--secret-file")?;
                let hostname =
                    parse_hostname(&positional(&mut args, "HOSTNAME")?).map_err(|e| e.0)?;
                Command::HostAdd(AddHost {
                    hostname,
                    zone_id: parse_zone_id(&zone).map_err(|e| e.0)?,
                    ttl,
                    types,
                    protocols,
                    allow_explicit_ip,
                    public_ip_only: !allow_private_ip,
                    notify,
                    url,
                    secret_file,
                    record_names,
                    lan,
                })
            }
            Some("list") => Command::HostList,
            Some("rotate") => {
                let url = url(&mut args, env_url)?;
                let hostname =
                    parse_hostname(&positional(&mut args, "HOSTNAME")?).map_err(|e| e.0)?;
                Command::HostRotate { hostname, url }
            }
            Some("remove") => Command::HostRemove {
                hostname: parse_hostname(&positional(&mut args, "HOSTNAME")?).map_err(|e| e.0)?,
            },
            Some("watch") => {
                let off = args.contains("--off");
                let hours = silent_after(&mut args)?;
                let hostname =
                    parse_hostname(&positional(&mut args, "HOSTNAME")?).map_err(|e| e.0)?;
                match (off, hours) {
                    (true, None) | (false, Some(_)) => Command::HostWatch {
                        hostname,
                        silent_after: hours,
                    },
                    _ => return Err("host watch needs --silent-after HOURS or --off".into()),
                }
            }
            Some("seal") => Command::HostSeal {
                dry_run: args.contains("--dry-run"),
            },
            Some("lan") => {
                let sub = args.subcommand().map_err(|e| e.to_string())?;
                let names = record_names(&mut args)?;
                let hostname =
                    parse_hostname(&positional(&mut args, "HOSTNAME")?).map_err(|e| e.0)?;
                // These take free arguments to the end, so they return here.
                return match sub.as_deref() {
                    Some("add") => Ok(Command::HostLanAdd {
                        hostname,
                        records: lan_records(&rest(args, "NAME=IDENTIFIER")?, "LAN record")?,
                        record_names: names,
                    }),
                    Some("remove") if names.is_none() => {
                        let names = rest(args, "NAME")?
                            .iter()
                            .map(|n| parse_hostname(n).map_err(|e| e.0))
                            .collect::<Result<_, _>>()?;
                        Ok(Command::HostLanRemove { hostname, names })
                    }
                    Some("list") if names.is_none() => {
                        finish(args)?;
                        Ok(Command::HostLanList { hostname })
                    }
                    Some("remove" | "list") => {
                        Err("--record-names goes with host lan add only".into())
                    }
                    _ => Err("host lan needs a command: add, remove or list".into()),
                };
            }
            Some(other) => {
                return Err(format!(
                    "unknown host command {other:?} (add, list, rotate, remove, watch, seal, lan)"
                ))
            }
            None => {
                return Err(
                    "host needs a command: add, list, rotate, remove or seal, or lan".into(),
                )
            }
        },
        Some("import") => {
            let sources = [
                text(&mut args, "--from-dynamodb")?.map(Source::DynamoTable),
                opt::<PathBuf>(&mut args, "--from-file")?.map(Source::File),
            ];
            let mut given = sources.into_iter().flatten();
            let source = given
                .next()
                .ok_or("import needs --from-dynamodb TABLE or --from-file FILE")?;
            if given.next().is_some() {
                return Err("import reads one source at a time".into());
            }
            let protocols = parse_protocols(split_list(
                &text(&mut args, "--protocols")?.unwrap_or_else(|| "1,2".into()),
            ))
            .map_err(|e| e.0)?;
            if !protocols.v1 {
                return Err(
                    "--protocols must include 1: the imported routers speak protocol 1".into(),
                );
            }
            Command::Import(ImportOptions {
                source,
                protocols,
                allow_explicit_ip: args.contains("--allow-explicit-ip"),
                dry_run: args.contains("--dry-run"),
                record_names: None,
            })
        }
        Some("zone-id") => Command::ZoneId {
            domain: parse_hostname(&positional(&mut args, "DOMAIN")?).map_err(|e| e.0)?,
        },
        Some("table") => match args.subcommand().map_err(|e| e.to_string())?.as_deref() {
            Some("create") => Command::TableCreate,
            _ => return Err("table needs a command: create".into()),
        },
        Some("notify") => Command::Notify(crate::notify_admin::parse(&mut args)?),
        Some(other) => return Err(format!("unknown command {other:?}")),
    };
    finish(args)?;
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &str) -> Result<Command, String> {
        parse(
            args.split_whitespace().map(OsString::from).collect(),
            false,
            None,
        )
    }

    #[test]
    fn parses_watch() {
        match p("host watch Home.Example.com --silent-after 12").unwrap() {
            Command::HostWatch {
                hostname,
                silent_after,
            } => assert_eq!(
                (hostname.as_str(), silent_after),
                ("home.example.com", Some(12))
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p("host watch home.example.com --off").unwrap(),
            Command::HostWatch {
                silent_after: None,
                ..
            }
        ));
        for bad in [
            "host watch home.example.com",
            "host watch home.example.com --off --silent-after 2",
            "host watch home.example.com --silent-after 0",
            "host watch --silent-after 2",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_lan_commands() {
        let add = "host add home.example.com --zone-id Z1 --lan nas.example.com=::1234 \
                   --lan cam.example.com=eui64:00:11:22:33:44:55";
        match p(add).unwrap() {
            Command::HostAdd(a) => {
                let lan: Vec<String> = a.lan.iter().map(|r| r.to_string()).collect();
                assert_eq!(
                    lan,
                    [
                        "nas.example.com=::1234",
                        "cam.example.com=eui64:00:11:22:33:44:55"
                    ]
                );
            }
            c => panic!("{c:?}"),
        }
        assert_eq!(
            p("host lan add Home.example.com nas.example.com=::1 --record-names *.example.com")
                .unwrap(),
            Command::HostLanAdd {
                hostname: "home.example.com".into(),
                records: vec![LanRecord::parse("nas.example.com=::1").unwrap()],
                record_names: Some(vec!["*.example.com".into()]),
            }
        );
        assert_eq!(
            p("host lan remove home.example.com NAS.example.com cam.example.com").unwrap(),
            Command::HostLanRemove {
                hostname: "home.example.com".into(),
                names: vec!["nas.example.com".into(), "cam.example.com".into()],
            }
        );
        assert_eq!(
            p("host lan list home.example.com").unwrap(),
            Command::HostLanList {
                hostname: "home.example.com".into()
            }
        );
        for (bad, why) in [
            ("host lan add home.example.com", "missing"),
            ("host lan add home.example.com nas=::1", "LAN record name"),
            (
                "host lan add home.example.com nas.example.com=2001:db8::1",
                "first 48",
            ),
            (
                "host lan add home.example.com nas.example.com",
                "NAME=IDENTIFIER",
            ),
            ("host lan remove home.example.com", "NAME is missing"),
            ("host lan list home.example.com extra", "unexpected"),
            ("host lan frob home.example.com", "add, remove or list"),
            (
                "host add h.example.com --zone-id Z1 --lan nas.example.com",
                "--lan",
            ),
        ] {
            let e = p(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn parses_commands() {
        assert_eq!(
            p("serve --listen 127.0.0.1:0").unwrap(),
            Command::Serve {
                listen: "127.0.0.1:0".parse().unwrap(),
                proxy_header: None
            }
        );
        match p("host add Home.Example.com. --zone-id /hostedzone/z1 --types A,AAAA --allow-explicit-ip").unwrap() {
            Command::HostAdd(a) => {
                assert_eq!(a.hostname, "home.example.com");
                assert_eq!(a.zone_id, "Z1");
                assert_eq!(a.types.len(), 2);
                assert!(a.allow_explicit_ip);
                assert!(a.public_ip_only);
                assert_eq!(a.record_names, None);
                assert_eq!(a.ttl, 60);
            }
            c => panic!("{c:?}"),
        }
        assert!(p("host add home.example.com").is_err());
        assert!(p("host add home --zone-id Z1").is_err());
        assert!(p("host add home.example.com --zone-id Z1 --ttl 0").is_err());
        assert!(p("host add home.example.com --zone-id Z1 --types MX").is_err());
        assert!(p("host add home.example.com --zone-id Z1 --bogus").is_err());
        assert!(p("host add home.example.com --zone-id Z1 --url ftp://x").is_err());
        assert!(p("host add home.example.com --zone-id Z1 --allow-private-ip").is_err());
        assert!(p("host add home.example.com --zone-id Z1 --record-names Home.x.com").is_err());
        match p("host add a.example.com --zone-id Z1 --allow-explicit-ip --allow-private-ip --record-names *.example.com").unwrap() {
            Command::HostAdd(a) => {
                assert!(!a.public_ip_only);
                assert_eq!(a.record_names, Some(vec!["*.example.com".to_string()]));
            }
            c => panic!("{c:?}"),
        }
        assert!(p("host frob").is_err());
        assert_eq!(
            p("host seal --dry-run").unwrap(),
            Command::HostSeal { dry_run: true }
        );
        assert!(p("host seal home.example.com").is_err());
        match p("host add a.example.com --zone-id Z1 --protocols 2,dyndns2 --secret-file /s")
            .unwrap()
        {
            Command::HostAdd(a) => {
                assert_eq!(a.protocols.to_string(), "2,dyndns2");
                assert_eq!(a.secret_file, Some(PathBuf::from("/s")));
            }
            c => panic!("{c:?}"),
        }
        match p("import --from-file - --dry-run").unwrap() {
            Command::Import(o) => {
                assert_eq!(o.source, Source::File(PathBuf::from("-")));
                assert!(o.dry_run && o.protocols.v1 && o.protocols.v2);
                assert!(!o.protocols.dyndns2 && !o.allow_explicit_ip);
            }
            c => panic!("{c:?}"),
        }
        match p("import --from-dynamodb ddns-config --protocols 1,dyndns2").unwrap() {
            Command::Import(o) => {
                assert_eq!(o.source, Source::DynamoTable("ddns-config".into()));
                assert_eq!(o.protocols.to_string(), "1,dyndns2");
            }
            c => panic!("{c:?}"),
        }
        assert!(p("import").is_err());
        assert!(p("import --from-s3 s3://bucket/key").is_err());
        assert!(p("import --from-file a --from-dynamodb t").is_err());
        assert!(p("import --from-file a --protocols 2").is_err());
        assert!(p("").is_err());
        assert_eq!(parse(vec![], true, None).unwrap(), Command::Lambda);
        assert_eq!(p("--help").unwrap(), Command::Help);
        assert_eq!(
            p("zone-id example.com").unwrap(),
            Command::ZoneId {
                domain: "example.com".into()
            }
        );
    }
}
