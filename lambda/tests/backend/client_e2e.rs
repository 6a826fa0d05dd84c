//! The real router client (`dyn53 update`) against the real local service on moto, with
//! the config `dyn53-backend host add` printed, pasted as is.

use crate::common;
use common::service::{backend_bin, Service};
use common::Stack;
use dyn53::protocol::RecordType;
use dyn53_testsupport::client_bin;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> (Output, String, String) {
    let o = cmd.output().expect("run");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, out, err)
}

#[tokio::test]
async fn dyn53_update_against_local_service() {
    let s = Stack::new("client-e2e").await;
    // Always read Route 53: the record is changed behind dyn53's back below.
    let svc = Service::start(
        &s,
        "127.0.0.1:0",
        &[],
        &[("DYN53_RECORD_CONFIRM_SECS", "0")],
    );
    let url = format!("http://{}/", svc.addr);
    let host = s.name("home");
    let (o, added, err) = run(Command::new(backend_bin())
        .args(["host", "add", &host, "--zone-id", &s.zone_id, "--url", &url])
        .envs(s.env()));
    assert!(o.status.success(), "{err}");

    // Paste the Merlin key=value config exactly as printed.
    let conf: String = added
        .split("Asuswrt-Merlin: ")
        .nth(1)
        .and_then(|rest| rest.split_once('\n'))
        .map(|(_, body)| body.to_string())
        .expect("Merlin config printed");
    let dir = std::env::temp_dir().join(format!("dyn53-client-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dyn53.conf");
    std::fs::write(&path, &conf).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let client = client_bin();
    let update = |extra: &[&str]| {
        run(Command::new(&client)
            .arg("-c")
            .arg(&path)
            .args(extra)
            .arg("update")
            .env_clear())
    };
    let (o, out, err) = update(&[]);
    assert_eq!(o.status.code(), Some(0), "stdout {out} stderr {err}");
    assert_eq!(out, format!("{host} A changed none -> 127.0.0.1\n"));
    assert_eq!(
        s.record(&host, RecordType::A).await.map(|r| r.0),
        Some(vec!["127.0.0.1".to_string()])
    );
    let (o, out, err) = update(&[]);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out, format!("{host} A unchanged 127.0.0.1\n"));
    // The reference protocol still works for the same host.
    let (o, out, err) = update(&["--protocol", "1"]);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out, format!("{host} A unchanged 127.0.0.1\n"));
    // The 2015/2016 query form, with the name as those host configs write it (trailing
    // dot, hashed as written). A v1 answer does not name the old address.
    s.put_record(&host, aws_sdk_route53::types::RrType::A, "192.0.2.44")
        .await;
    let dotted = format!("{host}.");
    let (o, out, err) = update(&["--protocol", "1-query", "--hostname", &dotted]);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out, format!("{host} A changed -> 127.0.0.1\n"));
    let (o, out, err) = update(&["--protocol", "1-query", "--hostname", &dotted]);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out, format!("{host} A unchanged 127.0.0.1\n"));
    let texts = s.sns_texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with(&format!("dyn53: {host} A changed none -> 127.0.0.1 (")));
    assert!(texts[1].starts_with(&format!(
        "dyn53: {host} A changed 192.0.2.44 -> 127.0.0.1 ("
    )));

    // A wrong secret is a permanent failure (exit 2) and changes nothing.
    let bad = conf.replace("secret=", "secret=0");
    std::fs::write(&path, bad).unwrap();
    let (o, out, err) = update(&[]);
    assert_eq!(o.status.code(), Some(2), "stdout {out} stderr {err}");
    assert_eq!(
        s.record(&host, RecordType::A).await.map(|r| r.0),
        Some(vec!["127.0.0.1".to_string()])
    );
    let secret = conf
        .lines()
        .find_map(|l| l.strip_prefix("secret="))
        .unwrap();
    assert!(
        !err.contains(secret) && !svc.stderr().contains(secret),
        "secret never logged"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
