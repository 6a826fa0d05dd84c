//! The channels' settings as SSM Parameter Store SecureString parameters, one per channel at
//! `<DYN53_SSM_PATH>/channels/<name>` (CloudFormation cannot create SecureString
//! parameters, so `notify add` writes them). The function reads them once per cold start.

use crate::aws_error;
use crate::channels::Channel;
use aws_sdk_ssm::types::ParameterType;
use aws_sdk_ssm::Client;
use std::fmt;

/// Reading or writing the parameters failed; the text never holds a parameter's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsmError(pub String);

impl fmt::Display for SsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SsmError {}

/// Whether `path` can be the stack's parameter path (`/dyn53/<stack>`).
pub fn valid_path(path: &str) -> bool {
    path.len() > 1
        && path.len() <= 900
        && path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains("//")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
}

/// The channel parameters under one path.
#[derive(Clone, Debug)]
pub struct ChannelStore {
    client: Client,
    prefix: String,
}

impl ChannelStore {
    /// The channels under `<path>/channels/`.
    pub fn new(client: Client, path: &str) -> ChannelStore {
        ChannelStore {
            client,
            prefix: format!("{path}/channels/"),
        }
    }

    fn parameter(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Every channel; one that cannot be read is skipped with a log line naming it, so a
    /// bad parameter never silences the others.
    pub async fn load(&self) -> Result<Vec<Channel>, SsmError> {
        let mut channels = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .client
                .get_parameters_by_path()
                .path(self.prefix.trim_end_matches('/'))
                .with_decryption(true)
                .recursive(false)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| {
                    SsmError(format!(
                        "cannot read the channels under {}: {}",
                        self.prefix,
                        aws_error::detail(&e)
                    ))
                })?;
            for p in page.parameters() {
                let (Some(full), Some(value)) = (p.name(), p.value()) else {
                    continue;
                };
                let name = full.strip_prefix(&self.prefix).unwrap_or(full);
                match Channel::from_json(name, value) {
                    Ok(c) => channels.push(c),
                    Err(e) => crate::log::error(format!("{e} (parameter {full} skipped)")),
                }
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        channels.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(channels)
    }

    /// Writes `c` as a SecureString (with the account's `aws/ssm` key), replacing one of
    /// the same name.
    pub async fn put(&self, c: &Channel) -> Result<(), SsmError> {
        self.client
            .put_parameter()
            .name(self.parameter(&c.name))
            .value(c.to_json())
            .r#type(ParameterType::SecureString)
            .description(format!("dyn53 alert channel ({})", c.target.kind()))
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                SsmError(format!(
                    "cannot write channel {}: {}",
                    c.name,
                    aws_error::detail(&e)
                ))
            })
    }

    /// Deletes channel `name`; false if there was none.
    pub async fn remove(&self, name: &str) -> Result<bool, SsmError> {
        match self
            .client
            .delete_parameter()
            .name(self.parameter(name))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(false)
            }
            Err(e) => Err(SsmError(format!(
                "cannot remove channel {name}: {}",
                aws_error::detail(&e)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths() {
        assert!(super::valid_path("/dyn53/home-dns"));
        for bad in ["", "/", "dyn53", "/dyn53/", "/a//b", "/a b"] {
            assert!(!super::valid_path(bad), "{bad}");
        }
    }
}
