//! The channels' settings as SSM Parameter Store SecureString parameters, one per channel at
//! `<DYN53_SSM_PATH>/channels/<name>` (CloudFormation cannot create SecureString
//! parameters, so `notify add` writes them). The function reads them once per cold start.

use crate::aws_json::AwsJson;
use crate::channels::Channel;
use serde_json::{json, Value};
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
    ssm: AwsJson,
    prefix: String,
}

impl ChannelStore {
    /// The channels under `<path>/channels/`.
    pub fn new(ssm: AwsJson, path: &str) -> ChannelStore {
        ChannelStore {
            ssm,
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
        let mut next: Option<String> = None;
        loop {
            let mut input = json!({
                "Path": self.prefix.trim_end_matches('/'),
                "WithDecryption": true,
                "Recursive": false,
            });
            if let Some(token) = next.take() {
                input["NextToken"] = Value::String(token);
            }
            let page = self
                .ssm
                .call("GetParametersByPath", &input)
                .await
                .map_err(|e| {
                    SsmError(format!(
                        "cannot read the channels under {}: {e}",
                        self.prefix
                    ))
                })?;
            let parameters = page["Parameters"].as_array().map(Vec::as_slice);
            for p in parameters.unwrap_or_default() {
                let (Some(full), Some(value)) = (p["Name"].as_str(), p["Value"].as_str()) else {
                    continue;
                };
                let name = full.strip_prefix(&self.prefix).unwrap_or(full);
                match Channel::from_json(name, value) {
                    Ok(c) => channels.push(c),
                    Err(e) => crate::log::error(format!("{e} (parameter {full} skipped)")),
                }
            }
            next = page["NextToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
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
        let input = json!({
            "Name": self.parameter(&c.name),
            "Value": c.to_json(),
            "Type": "SecureString",
            "Description": format!("dyn53 alert channel ({})", c.target.kind()),
            "Overwrite": true,
        });
        self.ssm
            .call("PutParameter", &input)
            .await
            .map(|_| ())
            .map_err(|e| SsmError(format!("cannot write channel {}: {e}", c.name)))
    }

    /// Deletes channel `name`; false if there was none.
    pub async fn remove(&self, name: &str) -> Result<bool, SsmError> {
        let input = json!({ "Name": self.parameter(name) });
        match self.ssm.call("DeleteParameter", &input).await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ParameterNotFound") => Ok(false),
            Err(e) => Err(SsmError(format!("cannot remove channel {name}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ChannelStore;
    use crate::aws_json::fake::{config, server};
    use crate::aws_json::AwsJson;
    use crate::channels::{Channel, Target};
    use serde_json::json;

    fn channel(name: &str) -> Channel {
        let t = Target::Webhook {
            url: format!("https://example.com/{name}"),
        };
        Channel::new(name, t, vec![], vec![]).unwrap()
    }

    #[tokio::test]
    async fn load_reads_every_page_and_skips_bad_parameters() {
        let param = |name: &str, value: String| json!({"Name": format!("/d/channels/{name}"), "Value": value});
        let first = json!({
            "Parameters": [param("b", channel("b").to_json()), param("bad", "{}".into())],
            "NextToken": "page-2",
        });
        let second = json!({ "Parameters": [param("a", channel("a").to_json())] });
        let (url, seen) = server(vec![(200, first.to_string()), (200, second.to_string())]).await;
        let got = ChannelStore::new(AwsJson::ssm(&config(&url)), "/d")
            .load()
            .await
            .unwrap();
        assert_eq!(got, vec![channel("a"), channel("b")]);
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0],
            r#"amazonssm.getparametersbypath {"Path":"/d/channels","Recursive":false,"WithDecryption":true}"#
        );
        assert!(seen[1].contains(r#""NextToken":"page-2""#), "{}", seen[1]);
    }

    #[tokio::test]
    async fn remove_tells_a_missing_channel_from_a_failure() {
        let missing = r#"{"__type":"ParameterNotFound","message":"x"}"#;
        let denied = r#"{"__type":"AccessDeniedException","message":"not allowed"}"#;
        let (url, _) = server(vec![
            (200, "{}".into()),
            (400, missing.into()),
            (400, denied.into()),
        ])
        .await;
        let store = ChannelStore::new(AwsJson::ssm(&config(&url)), "/d");
        assert_eq!(store.remove("a").await, Ok(true));
        assert_eq!(store.remove("a").await, Ok(false));
        let e = store.remove("a").await.unwrap_err();
        assert_eq!(
            e.0,
            "cannot remove channel a: AccessDeniedException: not allowed"
        );
    }

    #[test]
    fn paths() {
        assert!(super::valid_path("/dyn53/home-dns"));
        for bad in ["", "/", "dyn53", "/dyn53/", "/a//b", "/a b"] {
            assert!(!super::valid_path(bad), "{bad}");
        }
    }
}
