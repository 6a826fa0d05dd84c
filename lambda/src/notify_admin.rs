//! `dyn53-backend notify add|list|remove|test`: the push channels kept in SSM.

use crate::admin::AdminError;
use crate::channels::{self, Channel, Fanout, Flavor, NoSns, Target};
use crate::clock::now_unix;
use crate::host::{parse_hostname, split_list};
use crate::notify::{self, Notifier};
use crate::ssm::ChannelStore;
use pico_args::Arguments;
use std::io::BufRead;

/// What `notify` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyCmd {
    /// Store (or replace) a channel.
    Add(Channel),
    /// List the channels, without their secrets.
    List,
    /// Delete a channel.
    Remove(String),
    /// Send a real test message through a stored channel.
    Test(String),
}

/// The `notify` part of `--help`.
// `\x20`: the line continuation would eat a plain leading space.
pub const USAGE: &str = "\
\x20 dyn53-backend notify add NAME ntfy --server URL --topic TOPIC [--token TOKEN]
  dyn53-backend notify add NAME telegram --token BOT_TOKEN --chat-id ID
  dyn53-backend notify add NAME slack|discord|webhook --url WEBHOOK_URL
                [--hosts LIST] [--events change,auth-failure,error,silent,alarm]
                                      store a push channel (an SSM SecureString under
                                      DYN53_SSM_PATH); a secret given as - is read from
                                      standard input. Default: all hosts, all events
  dyn53-backend notify list           list channels (never their secrets)
  dyn53-backend notify remove NAME    delete a channel
  dyn53-backend notify test NAME      send a test message through a channel
";

fn value(args: &mut Arguments, name: &'static str) -> Result<Option<String>, String> {
    let v = args
        .opt_value_from_str::<_, String>(name)
        .map_err(|e| format!("{name}: {e}"))?;
    match v.as_deref() {
        // Secrets from standard input stay out of shell history and `ps`.
        Some("-") => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("{name} -: cannot read standard input: {e}"))?;
            Ok(Some(line.trim().to_string()).filter(|l| !l.is_empty()))
        }
        _ => Ok(v),
    }
}

fn need(args: &mut Arguments, name: &'static str) -> Result<String, String> {
    value(args, name)?.ok_or_else(|| format!("{name} is missing"))
}

fn free(args: &mut Arguments, what: &str) -> Result<String, String> {
    args.opt_free_from_str::<String>()
        .map_err(|e| format!("{what}: {e}"))?
        .ok_or_else(|| format!("{what} is missing"))
}

/// Parses what follows `notify`.
pub fn parse(args: &mut Arguments) -> Result<NotifyCmd, String> {
    let sub = args.subcommand().map_err(|e| e.to_string())?;
    match sub.as_deref() {
        Some("add") => {
            let hosts = match value(args, "--hosts")? {
                Some(l) => split_list(&l)
                    .map(|h| parse_hostname(h.trim()).map_err(|e| format!("--hosts: {}", e.0)))
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            };
            let events = channels::parse_events(&value(args, "--events")?.unwrap_or_default())
                .map_err(|e| format!("--events: {e}"))?;
            let name = free(args, "NAME")?;
            let kind = free(
                args,
                "channel type (ntfy, telegram, slack, discord, webhook)",
            )?;
            let target = match kind.as_str() {
                "ntfy" => Target::Ntfy {
                    server: need(args, "--server")?,
                    topic: need(args, "--topic")?,
                    token: value(args, "--token")?,
                },
                "telegram" => Target::Telegram {
                    api: value(args, "--api")?
                        .unwrap_or_else(|| channels::telegram::API.to_string()),
                    token: need(args, "--token")?,
                    chat_id: need(args, "--chat-id")?,
                },
                "slack" | "mattermost" => Target::Chat {
                    url: need(args, "--url")?,
                    flavor: Flavor::Slack,
                },
                "discord" => Target::Chat {
                    url: need(args, "--url")?,
                    flavor: Flavor::Discord,
                },
                "webhook" => Target::Webhook {
                    url: need(args, "--url")?,
                },
                other => {
                    return Err(format!(
                        "unknown channel type {other:?} (ntfy, telegram, slack, discord, webhook)"
                    ))
                }
            };
            Ok(NotifyCmd::Add(
                Channel::new(&name, target, hosts, events).map_err(|e| e.0)?,
            ))
        }
        Some("list") => Ok(NotifyCmd::List),
        Some("remove") => Ok(NotifyCmd::Remove(free(args, "NAME")?)),
        Some("test") => Ok(NotifyCmd::Test(free(args, "NAME")?)),
        Some(other) => Err(format!(
            "unknown notify command {other:?} (add, list, remove, test)"
        )),
        None => Err("notify needs a command: add, list, remove or test".into()),
    }
}

/// Runs `cmd` against the channels in `store`; the text to print.
pub async fn run(store: &ChannelStore, cmd: NotifyCmd) -> Result<String, AdminError> {
    let aws = |e: crate::ssm::SsmError| AdminError::Aws(e.0);
    match cmd {
        NotifyCmd::Add(c) => {
            store.put(&c).await.map_err(aws)?;
            Ok(format!(
                "channel {}: {} (stored; running functions read it at their next cold start; \
                 try `notify test {}`)\n",
                c.name,
                c.summary(),
                c.name
            ))
        }
        NotifyCmd::List => {
            let list = store.load().await.map_err(aws)?;
            if list.is_empty() {
                return Ok("no channels\n".into());
            }
            Ok(list
                .iter()
                .map(|c| format!("{}: {}\n", c.name, c.summary()))
                .collect())
        }
        NotifyCmd::Remove(name) => match store.remove(&name).await.map_err(aws)? {
            true => Ok(format!("channel {name} removed\n")),
            false => Err(AdminError::NotFound(format!("no channel named {name}"))),
        },
        NotifyCmd::Test(name) => {
            let list = store.load().await.map_err(aws)?;
            let Some(c) = list.into_iter().find(|c| c.name == name) else {
                return Err(AdminError::NotFound(format!("no channel named {name}")));
            };
            let fanout = Fanout::<NoSns>::new(None, vec![c]).map_err(AdminError::Aws)?;
            fanout
                .send(&notify::test(&name, now_unix()))
                .await
                .map_err(|e| AdminError::Aws(format!("channel {name}: {e}")))?;
            Ok(format!("test message sent through channel {name}\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &str) -> Result<NotifyCmd, String> {
        let mut a = Arguments::from_vec(args.split_whitespace().map(Into::into).collect());
        parse(&mut a)
    }

    #[test]
    fn parses_channels_and_refuses_bad_ones() {
        let add = "add phone ntfy --server https://ntfy.sh --topic t --events change,silent \
                   --hosts a.example.com";
        match p(add).unwrap() {
            NotifyCmd::Add(c) => assert_eq!(
                c.summary(),
                "ntfy on https://ntfy.sh; hosts a.example.com; events change,silent"
            ),
            other => panic!("{other:?}"),
        }
        assert!(p("add x ntfy --server https://ntfy.sh")
            .unwrap_err()
            .contains("--topic"));
        assert!(p("add x telegram --chat-id 1")
            .unwrap_err()
            .contains("--token"));
        assert!(p("add x webhook --url https://a.example --events sms")
            .unwrap_err()
            .contains("unknown event"));
        assert!(p("add bad/name webhook --url https://a.example").is_err());
        assert_eq!(p("test phone"), Ok(NotifyCmd::Test("phone".into())));
        assert!(p("frob").is_err());
        assert!(crate::cli::usage().contains("\n  dyn53-backend notify add NAME ntfy"));
    }
}
