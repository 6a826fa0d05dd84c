//! Running a command: load the settings, work through the records, print one line per
//! record on stdout, and sum up failures into one exit code.

use crate::backoff::Deadline;
use crate::cli::{Args, Command};
use crate::client::{RecordResult, Session};
use crate::config::{self, Protocol, Record, Settings};
use crate::error::{Error, EXIT_PERMANENT};
use crate::logging as log;
use crate::logging::{self, Verbosity};
use crate::protocol::{is_behind_nat, LanPrefix, RecordType};
use std::io::Write;
use std::net::IpAddr;

/// Runs the parsed command line.
pub fn run(args: Args) -> Result<(), Error> {
    logging::init(args.verbosity.unwrap_or(Verbosity::Normal));
    let settings = config::load(&args)?;
    for w in &settings.warnings {
        log::warn!("{w}");
    }
    let hint = args.ip.as_deref().map(config::parse_ip_hint).transpose()?;
    log::debug!(
        "config {}, {} record(s), protocol {:?}, deadline {} s",
        settings
            .config_path
            .as_ref()
            .map_or_else(|| "none".into(), |p| p.display().to_string()),
        settings.records.len(),
        settings.protocol,
        settings.timeout.as_secs()
    );
    match args.command {
        Command::Update => {
            let mut entries = Vec::new();
            let result = update(&settings, &args, hint, &mut entries);
            if !args.dry_run {
                write_status(&settings, &result, &entries);
            }
            result
        }
        Command::Status => {
            let path = settings.status_file.as_deref().ok_or_else(|| {
                Error::Config("status_file is set empty: no status is kept".into())
            })?;
            print(crate::status::show(path)?.trim_end());
            Ok(())
        }
        Command::Ip => ip(&settings, hint),
        Command::Check => check(&settings, &args, hint),
        Command::Interfaces => {
            interfaces(&settings).into_iter().for_each(print);
            Ok(())
        }
    }
}

/// Prints a result line; a closed stdout is not worth a crash.
fn print(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The records to work on, or why there are none (`Ok(None)`: nothing to do, not an error).
fn records<'s>(settings: &'s Settings, args: &Args) -> Result<Option<&'s [Record]>, Error> {
    if !settings.records.is_empty() {
        return Ok(Some(&settings.records));
    }
    if let (Some(iface), n) = (&args.interface, settings.other_interfaces) {
        if n > 0 {
            log::info!("no record uses interface {iface}; nothing to do");
            return Ok(None);
        }
    }
    Err(Error::Config(
        "no records: set hostname (key=value), 'config record' sections (UCI) or --hostname".into(),
    ))
}

/// Logs what `--ip` says about the network before any request.
fn note_hint(hint: Option<IpAddr>, records: &[Record]) {
    let Some(hint) = hint else { return };
    if !is_behind_nat(hint) {
        return;
    }
    if records.iter().any(|r| r.explicit_ip) {
        log::warn!(
            "the WAN address {hint} (--ip) is private or CGNAT (double NAT), and explicit_ip \
             publishes it as given"
        );
    } else {
        log::info!(
            "double NAT: the WAN address {hint} (--ip) is private or CGNAT; using the public \
             address the backend sees"
        );
    }
}

/// Runs `f` for each item, printing its line on success and logging its failure; one
/// failed item does not stop the others. Several failures sum up into one error whose
/// exit code is the most severe one.
fn each<T: std::fmt::Display, R>(
    items: &[T],
    mut f: impl FnMut(&T) -> Result<R, Error>,
    line: impl Fn(&T, &R) -> String,
) -> Result<Vec<R>, Error> {
    let mut results = Vec::new();
    let mut failures: Vec<Error> = Vec::new();
    for item in items {
        match f(item) {
            Ok(r) => {
                print(&line(item, &r));
                results.push(r);
            }
            Err(e) => {
                let e = e.about(&item.to_string());
                if items.len() > 1 {
                    log::error!("{e}");
                }
                failures.push(e);
            }
        }
    }
    match failures.len() {
        0 => Ok(results),
        1 if items.len() == 1 => Err(failures.remove(0)),
        n => Err(Error::Failed {
            failed: n,
            total: items.len(),
            exit_code: failures
                .iter()
                .map(Error::exit_code)
                .max()
                .unwrap_or(EXIT_PERMANENT),
        }),
    }
}

/// [`each`] over records, printing their result lines.
fn each_record(
    records: &[Record],
    f: impl FnMut(&Record) -> Result<RecordResult, Error>,
) -> Result<Vec<RecordResult>, Error> {
    each(records, f, |record, result| result.line(record))
}

/// Writes the status file for an update run; failing to is a warning, not a failed update.
fn write_status(settings: &Settings, result: &Result<(), Error>, entries: &[String]) {
    let Some(path) = &settings.status_file else {
        return;
    };
    let exit = result.as_ref().map_or_else(Error::exit_code, |()| 0);
    let text = crate::status::render(crate::status::now(), exit, entries);
    if let Err(e) = crate::status::write(path, &text) {
        log::warn!("cannot write the status file {}: {e}", path.display());
    }
}

/// Sets each record; `entries` gets one status entry per record attempted.
fn update(
    settings: &Settings,
    args: &Args,
    hint: Option<IpAddr>,
    entries: &mut Vec<String>,
) -> Result<(), Error> {
    if !settings.enabled {
        log::info!("disabled in the config (enabled 0); nothing to do");
        return Ok(());
    }
    let Some(records) = records(settings, args)? else {
        return Ok(());
    };
    crate::client::require_url(settings)?;
    let secret = settings.secret.as_ref().ok_or_else(|| {
        Error::Config(
            "no secret: set secret_file (or secret) in the config, DYN53_SECRET_FILE, \
             DYN53_SECRET or --secret-file"
                .into(),
        )
    })?;
    if settings.protocol != Protocol::V2 {
        if let Some(r) = records.iter().find(|r| r.explicit_ip) {
            return Err(Error::Config(format!(
                "{r}: explicit_ip needs protocol 2 (protocol 1 can only set the source address)"
            )));
        }
    }
    let lan = match &args.lan_prefix {
        None => None,
        Some(_) if settings.protocol != Protocol::V2 => {
            return Err(Error::Config("--lan-prefix needs protocol 2".into()))
        }
        Some(p) => {
            Some(LanPrefix::parse(p).map_err(|e| Error::Usage(format!("--lan-prefix: {e}")))?)
        }
    };
    note_hint(hint, records);
    let session = Session::new(
        settings,
        Deadline::after(settings.timeout),
        hint,
        args.dry_run,
    )?
    .lan_prefix(lan);
    each_record(records, |r| {
        let result = session.update(r, secret);
        let lan = session.take_lan_answer();
        entries.push(crate::status::entry(r, &result, lan, crate::status::now()));
        result
    })
    .map(drop)
}

/// An address family, named for log lines.
struct Family(RecordType);

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            RecordType::A => "IPv4",
            RecordType::Aaaa => "IPv6",
        })
    }
}

fn ip(settings: &Settings, hint: Option<IpAddr>) -> Result<(), Error> {
    let mut families: Vec<RecordType> = settings.records.iter().map(|r| r.record_type).collect();
    families.sort();
    families.dedup();
    if families.is_empty() {
        // No records: the address family of an IP-literal url host, else IPv4.
        let url_ip = settings
            .url
            .as_ref()
            .and_then(|u| crate::protocol::parse_ip(&u.host));
        families.push(url_ip.map_or(RecordType::A, RecordType::for_ip));
    }
    note_hint(hint, &[]);
    let session = Session::new(settings, Deadline::after(settings.timeout), hint, false)?;
    let families: Vec<Family> = families.into_iter().map(Family).collect();
    each(
        &families,
        |family| session.public_ip(family.0),
        |_, ip| ip.to_string(),
    )
    .map(drop)
}

/// The interfaces whose events concern an enabled record, each once, in config order;
/// none when dyn53 is disabled. The hotplug script asks this, so UCI has one reader.
fn interfaces(settings: &Settings) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    if settings.enabled {
        for name in settings.records.iter().flat_map(Record::interfaces) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn check(settings: &Settings, args: &Args, hint: Option<IpAddr>) -> Result<(), Error> {
    let Some(records) = records(settings, args)? else {
        return Ok(());
    };
    let session = Session::new(settings, Deadline::after(settings.timeout), hint, false)?;
    let results = each_record(records, |r| session.check(r))?;
    let out_of_sync = results
        .iter()
        .filter(|r| matches!(r, RecordResult::OutOfSync { .. }))
        .count();
    if out_of_sync > 0 {
        return Err(Error::OutOfSync(out_of_sync));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_lists_each_followed_name_once() {
        let text = "config dyn53\n\toption enabled on\n\
                    config record\n\toption hostname a.example.com\n\toption interface wan\n\
                    config record\n\toption hostname b.example.com\n\toption type AAAA\n\
                    \toption interface 'wan6 wan_6'\n\
                    config record\n\toption hostname c.example.com\n\
                    config record\n\toption hostname d.example.com\n\toption interface lan\n\
                    \toption enabled off\n";
        let f = config::parse_file_text(text.as_bytes(), "t").unwrap();
        let s = config::merge(&[&f.layer], None, &mut Vec::new()).unwrap();
        assert_eq!(interfaces(&s), ["wan", "wan6", "wan_6"]);
        let off = text.replace("enabled on", "enabled disabled");
        let f = config::parse_file_text(off.as_bytes(), "t").unwrap();
        let s = config::merge(&[&f.layer], None, &mut Vec::new()).unwrap();
        assert!(interfaces(&s).is_empty());
    }
}
