//! Layering: the settings each source gives (environment, flags; the file readers are in
//! `uci` and `keyvalue`), merged with the precedence flags > environment > file > defaults.

use super::types::{
    cfg_err, Layer, Protocol, Record, RecordSpec, SecretSource, Settings, Val, DEFAULT_TIMEOUT,
};
use super::values::{
    check_secret, parse_bool, parse_protocol, parse_record_name, parse_timeout, parse_url,
    read_secret_file,
};
use crate::cli::Args;
use crate::error::Error;
use crate::logging as log;
use crate::protocol::RecordType;
use std::path::PathBuf;
use std::time::Duration;

/// Settings from `DYN53_*` variables; `get` reads one (empty values count as unset).
pub fn env_layer(get: &dyn Fn(&str) -> Option<String>) -> Result<Layer, Error> {
    let var = |k: &str| get(k).filter(|v| !v.is_empty()).map(|v| Val::new(v, k));
    let secret = match (var("DYN53_SECRET"), var("DYN53_SECRET_FILE")) {
        (Some(_), Some(_)) => {
            return Err(cfg_err(
                "both DYN53_SECRET and DYN53_SECRET_FILE are set; keep one",
            ))
        }
        (Some(s), None) => Some(SecretSource::Inline(
            check_secret(&s.value, "DYN53_SECRET")?,
            s.origin,
        )),
        (None, Some(f)) => Some(SecretSource::File(f)),
        (None, None) => None,
    };
    Ok(Layer {
        url: var("DYN53_URL"),
        secret,
        ca_file: var("DYN53_CA_FILE"),
        protocol: var("DYN53_PROTOCOL"),
        timeout: var("DYN53_TIMEOUT"),
        status_file: var("DYN53_STATUS_FILE"),
        ..Layer::default()
    })
}

/// Settings from command-line flags.
pub fn flag_layer(args: &Args) -> Layer {
    let val = |v: &Option<String>, flag: &str| v.as_ref().map(|v| Val::new(v.clone(), flag));
    let path = |p: &Option<PathBuf>, flag: &str| {
        p.as_ref()
            .map(|p| Val::new(p.to_string_lossy().into_owned(), flag))
    };
    Layer {
        url: val(&args.url, "--url"),
        secret: path(&args.secret_file, "--secret-file").map(SecretSource::File),
        ca_file: path(&args.ca_file, "--ca-file"),
        protocol: val(&args.protocol, "--protocol"),
        timeout: val(&args.timeout, "--timeout"),
        force_explicit_ip: args.explicit_ip,
        records: (!args.hostnames.is_empty()).then(|| {
            args.hostnames
                .iter()
                .map(|h| RecordSpec {
                    hostname: Some(Val::new(h.clone(), "--hostname")),
                    origin: "--hostname".into(),
                    ..RecordSpec::default()
                })
                .collect()
        }),
        ..Layer::default()
    }
}

/// Merges the layers (first = highest precedence) and validates the result. One piece
/// (~100 lines) for the router binary's size budget (see `uci::parse_uci`): the record
/// loop is its second half.
pub fn merge(
    layers: &[&Layer],
    interface: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Settings, Error> {
    fn first<'a, T>(layers: &[&'a Layer], f: impl Fn(&'a Layer) -> Option<&'a T>) -> Option<&'a T> {
        layers.iter().find_map(|l| f(l))
    }
    let url = first(layers, |l| l.url.as_ref())
        .map(parse_url)
        .transpose()?;
    let secret = match first(layers, |l| l.secret.as_ref()) {
        Some(SecretSource::Inline(s, _)) => Some(s.clone()),
        Some(SecretSource::File(f)) => Some(read_secret_file(f, warnings)?),
        None => None,
    };
    let ca_file = first(layers, |l| l.ca_file.as_ref())
        .filter(|v| !v.value.trim().is_empty())
        .map(|v| PathBuf::from(v.value.trim()));
    let protocol = first(layers, |l| l.protocol.as_ref())
        .map(parse_protocol)
        .transpose()?
        .unwrap_or(Protocol::V2);
    let timeout = first(layers, |l| l.timeout.as_ref())
        .map(parse_timeout)
        .transpose()?
        .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT));
    let enabled = first(layers, |l| l.enabled.as_ref())
        .map(parse_bool)
        .transpose()?
        .unwrap_or(true);
    // `--explicit-ip` forces it on; otherwise each record's own switch, then the global one.
    let force_explicit = layers.iter().any(|l| l.force_explicit_ip);
    let explicit_default = first(layers, |l| l.explicit_ip.as_ref())
        .map(parse_bool)
        .transpose()?
        .unwrap_or(false);

    // Second half: the records, checked one by one.
    let mut records: Vec<Record> = Vec::new();
    // Enabled records, whatever their interface: the same record twice is a mistake.
    let mut seen: Vec<(String, RecordType)> = Vec::new();
    let mut other_interfaces = 0;
    for spec in first(layers, |l| l.records.as_ref()).map_or(&[][..], |v| v.as_slice()) {
        let name = spec
            .hostname
            .as_ref()
            .ok_or_else(|| cfg_err(format!("{}: record has no hostname", spec.origin)))?;
        let (hostname, hostname_raw, record_type) =
            parse_record_name(name, spec.record_type.as_ref())?;
        let explicit_ip = match &spec.explicit_ip {
            _ if force_explicit => true,
            Some(v) => parse_bool(v)?,
            None => explicit_default,
        };
        let enabled = spec
            .enabled
            .as_ref()
            .map(parse_bool)
            .transpose()?
            .unwrap_or(true);
        let iface = spec
            .interface
            .as_ref()
            .map(|v| v.value.trim().to_string())
            .filter(|s| !s.is_empty());
        if !enabled {
            log::debug!("{hostname} {record_type}: disabled in the config; skipped");
            continue;
        }
        if seen.contains(&(hostname.clone(), record_type)) {
            return Err(name.err(&format!("record {hostname} {record_type} is listed twice")));
        }
        seen.push((hostname.clone(), record_type));
        let record = Record {
            hostname,
            hostname_raw,
            record_type,
            interface: iface,
            explicit_ip,
        };
        if interface.is_some_and(|want| !record.interfaces().contains(&want)) {
            other_interfaces += 1;
            continue;
        }
        records.push(record);
    }
    Ok(Settings {
        config_path: None,
        url,
        secret,
        ca_file,
        protocol,
        timeout,
        enabled,
        records,
        other_interfaces,
        status_file: first(layers, |l| l.status_file.as_ref())
            .map_or(Some(crate::status::OPENWRT_PATH), |v| Some(v.value.trim()))
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        warnings: std::mem::take(warnings),
    })
}
