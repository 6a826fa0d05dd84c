//! Settings: the config file (OpenWrt UCI or Merlin `key=value`, detected automatically),
//! environment overrides and command-line flags, merged with the precedence
//! flags > environment > file > defaults, then validated.
//!
//! Every error names where the bad value came from (`file line N`, `DYN53_X`, `--flag`),
//! and no message ever contains the secret.

mod file;
mod keyvalue;
mod layers;
mod types;
mod uci;
mod values;

pub use file::parse_file_text;
pub(crate) use file::read_limited;
pub use layers::{env_layer, flag_layer, merge};
pub use types::*;
pub use values::{parse_ip_hint, parse_url};

use crate::cli::Args;
use crate::error::Error;
use file::mode_warning;
use std::path::{Path, PathBuf};
#[cfg(test)]
use {uci::uci_words, values::read_secret_file};

/// Finds the config file: `-c`, else `DYN53_CONFIG`, else the first default path present.
fn find_config(flag: Option<&Path>, env: Option<String>) -> Option<(PathBuf, bool)> {
    if let Some(p) = flag {
        return Some((p.to_path_buf(), true));
    }
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), true));
    }
    DEFAULT_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .map(|p| (p, false))
}

/// Loads settings from the config file, the process environment and the flags.
pub fn load(args: &Args) -> Result<Settings, Error> {
    load_with(args, &|k| std::env::var(k).ok())
}

/// [`load`] with an injectable environment (for tests).
pub fn load_with(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Error> {
    let mut warnings = Vec::new();
    let found = find_config(args.config.as_deref(), env("DYN53_CONFIG"));
    let file = match &found {
        Some((path, _)) => {
            let bytes = read_limited(path, MAX_FILE, "config file")?;
            warnings.extend(mode_warning(path, "config file"));
            let parsed = parse_file_text(&bytes, &path.display().to_string())?;
            warnings.extend(parsed.warnings);
            parsed.layer
        }
        None => Layer::default(),
    };
    let env_layer = env_layer(env)?;
    let flags = flag_layer(args);
    let mut settings = merge(
        &[&flags, &env_layer, &file],
        args.interface.as_deref(),
        &mut warnings,
    )?;
    settings.config_path = found.map(|(p, _)| p);
    Ok(settings)
}

#[cfg(test)]
mod tests;
