//! End-to-end tests of the real `dyn53` binary against the real backend: the handler with
//! in-memory fakes behind it, served in-process over TLS (dyn53_testsupport::Served). Tests
//! that need a foreign or misbehaving server (the reference designs, a malformed nonce, a
//! server that is down or never answers) use the stand-in in tests/peer. Set
//! DYN53_CLIENT_BIN / DYN53_TEST_RUNNER to run a cross-built router binary under qemu-user
//! instead of the host build.
//!
//! Hostnames end in `.invalid` (RFC 6761): nothing real is ever looked up or changed.

mod peer;

use dyn53::protocol::{ErrorCode, Form, RecordType, Response};
use dyn53_testsupport::proxy::{Fault, Match, Rule};
use dyn53_testsupport::served::DnsFault;
use dyn53_testsupport::*;
use peer::*;
use std::net::TcpListener;
use std::time::Duration;

const SECRET: &str = "correct-horse-battery-staple-7d1f";
const HOME: &str = "home.dyn53.invalid";

/// What the client talks to.
enum Server {
    /// The real backend (the default).
    Real(Served),
    /// The stand-in, playing a foreign server.
    Peer(Peer),
}

/// A server with one registered host, a CA file and a secret file for the client.
struct Fixture {
    ca: TestCa,
    server: Server,
    dir: TempDir,
    ca_file: String,
    secret_file: String,
    configs: std::cell::Cell<u32>,
}

impl Fixture {
    /// The real backend over HTTPS.
    fn new() -> Self {
        let ca = TestCa::new();
        let be = Served::https(&ca);
        be.add_host(HOME, SECRET, false);
        Self::with(ca, Server::Real(be))
    }

    /// The stand-in playing `style`, over HTTPS.
    fn foreign(style: Style) -> Self {
        let ca = TestCa::new();
        let peer = Peer::https(&ca);
        peer.set_style(style);
        peer.add_host(HOME, SECRET, false);
        Self::with(ca, Server::Peer(peer))
    }

    fn with(ca: TestCa, server: Server) -> Self {
        let dir = TempDir::new("e2e");
        let ca_file = dir.file("ca.pem", &ca.pem);
        let secret_file = dir.file("secret", format!("{SECRET}\n"));
        Fixture {
            ca,
            server,
            dir,
            ca_file,
            secret_file,
            configs: std::cell::Cell::new(0),
        }
    }

    /// The real backend.
    fn be(&self) -> &Served {
        match &self.server {
            Server::Real(be) => be,
            Server::Peer(_) => panic!("this fixture runs the stand-in"),
        }
    }

    /// The stand-in.
    fn peer(&self) -> &Peer {
        match &self.server {
            Server::Peer(p) => p,
            Server::Real(_) => panic!("this fixture runs the real backend"),
        }
    }

    fn url(&self) -> String {
        match &self.server {
            Server::Real(be) => be.url(),
            Server::Peer(p) => p.url(),
        }
    }

    /// A Merlin-style key=value config with `extra` lines appended.
    fn kv_config(&self, extra: &str) -> String {
        let n = self.configs.get() + 1;
        self.configs.set(n);
        self.dir.file(
            &format!("dyn53-{n}.conf"),
            format!(
                "# written by the test\nurl={}\nsecret_file={}\nca_file={}\ntimeout=20\n{extra}",
                self.url(),
                self.secret_file,
                self.ca_file
            ),
        )
    }

    /// Runs the binary and checks the output rules that hold for every run.
    fn run(&self, args: &[&str]) -> Run {
        let r = run(args);
        self.checked(r)
    }

    fn checked(&self, r: Run) -> Run {
        match &self.server {
            Server::Real(be) => be.assert_nothing_secret_in(&r),
            Server::Peer(p) => p.assert_nothing_secret_in(&r),
        }
        assert_log_lines(&r);
        r
    }

    /// The kinds of the requests the server got, in order.
    fn kinds(&self) -> Vec<&'static str> {
        match &self.server {
            Server::Real(be) => be.kinds(),
            Server::Peer(p) => p.requests().iter().map(|s| s.kind).collect(),
        }
    }

    /// A record's address as the real backend's Route 53 holds it.
    fn record(&self, hostname: &str) -> Option<std::net::IpAddr> {
        self.be().record(hostname, RecordType::A)
    }
}

/// Every stderr line is one `dyn53: ` log line.
fn assert_log_lines(r: &Run) {
    for line in r.stderr.lines() {
        assert!(
            line.starts_with("dyn53: "),
            "stray stderr line {line:?} in\n{r}"
        );
    }
}

fn localhost() -> Option<std::net::IpAddr> {
    Some("127.0.0.1".parse().unwrap())
}

#[test]
fn v2_sets_then_reports_unchanged_on_one_connection_per_run() {
    let f = Fixture::new();
    let cfg = f.kv_config(&format!("hostname={HOME}\n"));
    let r = f.run(&["-c", &cfg, "-v"]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(
        r.stdout,
        format!("{HOME} A changed none -> 127.0.0.1\n"),
        "{r}"
    );
    assert_eq!(f.record(HOME), localhost());
    let r = f.run(&["-c", &cfg, "update"]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.stdout, format!("{HOME} A unchanged 127.0.0.1\n"), "{r}");
    let reqs = f.be().requests();
    assert_eq!(f.kinds(), ["get", "set-v2", "get", "set-v2"]);
    assert_eq!(f.be().fakes.dns.upserts(), 1, "one Route 53 change");
    let texts = f.be().notifications();
    assert_eq!(texts.len(), 1, "one text for the one change: {texts:?}");
    assert!(
        texts[0].contains(HOME) && texts[0].contains("127.0.0.1"),
        "{texts:?}"
    );
    // Each set checked in; only the first changed the record.
    let counts: Vec<_> = f
        .be()
        .metrics()
        .into_iter()
        .filter(|(h, c)| h == HOME && !c.is_empty())
        .map(|(_, c)| (c.check_in, c.changed))
        .collect();
    assert_eq!(counts, [(1, 1), (1, 0)]);
    // Each run's get and set share one connection; the runs use different ones.
    assert_eq!(reqs[0].conn, reqs[1].conn);
    assert_eq!(reqs[2].conn, reqs[3].conn);
    assert_ne!(reqs[0].conn, reqs[2].conn);
}

#[test]
fn v1_with_uci_config_reports_the_change_without_the_old_address() {
    let f = Fixture::new();
    f.be().set_record(HOME, "192.0.2.1");
    let cfg = f.dir.file(
        "dyn53",
        format!(
            "config dyn53 'global'\n\toption enabled '1'\n\toption url '{}'\n\
             \toption secret_file '{}'\n\toption ca_file '{}'\n\toption protocol '1'\n\
             \toption check_interval '600'\n\n\
             config record 'home'\n\toption hostname '{HOME}'\n\toption type 'A'\n\
             \toption interface 'wan'\n",
            f.url(),
            f.secret_file,
            f.ca_file
        ),
    );
    let r = f.run(&["-c", &cfg]);
    assert_eq!(r.code, 0, "{r}");
    // A v1 answer does not say what the record held: no "none" that would be a lie.
    assert_eq!(r.stdout, format!("{HOME} A changed -> 127.0.0.1\n"));
    let r = f.run(&["-c", &cfg, "--interface", "wan"]);
    assert_eq!(r.stdout, format!("{HOME} A unchanged 127.0.0.1\n"), "{r}");
    assert_eq!(f.kinds(), ["get", "set-v1", "get", "set-v1"]);
    // Hotplug for another interface: the record is not touched, nothing is sent.
    let r = f.run(&["-c", &cfg, "--interface", "wan6"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r}");
    assert!(r.stderr.contains("no record uses interface wan6"), "{r}");
    assert_eq!(f.kinds().len(), 4);
}

/// A config for a reference-design backend: `protocol` and the hostname as its host
/// config spells it.
fn reference_config(f: &Fixture, protocol: &str, hostname: &str) -> String {
    f.kv_config(&format!("protocol={protocol}\nhostname={hostname}\n"))
}

#[test]
fn query_form_against_a_2015_style_backend_keeps_the_trailing_dot() {
    let f = Fixture::foreign(Style::Reference2015);
    let dotted = format!("{HOME}.");
    f.peer().add_host(&dotted, SECRET, false);
    let cfg = reference_config(&f, "1-query", &dotted);
    let r = f.run(&["-c", &cfg]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, &*format!("{HOME} A changed -> 127.0.0.1\n")),
        "{r}"
    );
    assert_eq!(
        f.peer().record(&dotted, RecordType::A),
        Some("127.0.0.1".parse().unwrap())
    );
    let r = f.run(&["-c", &cfg]);
    assert_eq!(r.stdout, format!("{HOME} A unchanged 127.0.0.1\n"), "{r}");
    let r = f.run(&["-c", &cfg, "ip"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "127.0.0.1\n"), "{r}");
    assert_eq!(f.kinds(), ["get", "set-v1", "get", "set-v1", "get"]);
    let sets: Vec<_> = f
        .peer()
        .requests()
        .into_iter()
        .filter_map(|s| s.hostname)
        .collect();
    assert_eq!(sets, [dotted.clone(), dotted.clone()], "sent as written");

    // The gateway has no POST method: the JSON form fails, and the error says what was
    // sent and which setting speaks this backend's form.
    let r = f.run(&["-c", &reference_config(&f, "1", &dotted)]);
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr
            .contains("HTTP 403 to a get sent in the 2023 JSON form"),
        "{r}"
    );
    assert!(r.stderr.contains("needs protocol 1-query"), "{r}");
    // The default protocol 2 says a reference backend needs protocol 1 or 1-query.
    let r = f.run(&["-c", &f.kv_config(&format!("hostname={dotted}\n"))]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("needs protocol 1 or 1-query"), "{r}");

    // A wrong secret: the gateway answers HTTP 200 with "fail"; still exit 2, nothing set.
    f.peer().set_record(&dotted, RecordType::A, "192.0.2.9");
    let wrong = f.dir.file("wrong", "not-the-secret");
    let r = f.run(&["-c", &cfg, "--secret-file", &wrong]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("Validation hashes do not match."), "{r}");
    assert_eq!(
        f.peer().record(&dotted, RecordType::A),
        Some("192.0.2.9".parse().unwrap())
    );
}

#[test]
fn json_form_against_a_2023_style_backend() {
    let f = Fixture::foreign(Style::Reference2023);
    f.peer().add_host(HOME, SECRET, false);
    let cfg = reference_config(&f, "1", HOME);
    let r = f.run(&["-c", &cfg]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, &*format!("{HOME} A changed -> 127.0.0.1\n")),
        "{r}"
    );
    let r = f.run(&["-c", &cfg]);
    assert_eq!(r.stdout, format!("{HOME} A unchanged 127.0.0.1\n"), "{r}");
    // A function URL fails a GET: the query form's error points to protocol 1.
    let r = f.run(&["-c", &reference_config(&f, "1-query", HOME)]);
    assert_eq!(r.code, 1, "a 502 may be passing: {r}");
    assert!(r.stderr.contains("in the 2015/2016 query form"), "{r}");
    // Unknown host: the 2023 handler's 403, a permanent failure.
    let r = f.run(&["-c", &reference_config(&f, "1", "nas.dyn53.invalid")]);
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr
            .contains("issue finding or reading nas.dyn53.invalid"),
        "{r}"
    );
    let wrong = f.dir.file("wrong", "not-the-secret");
    let r = f.run(&["-c", &cfg, "--secret-file", &wrong]);
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr
            .contains("backend answered 'auth': Validation hashes do not match."),
        "{r}"
    );
}

#[test]
fn several_records_in_one_run_and_one_failure_does_not_stop_the_others() {
    let f = Fixture::new();
    f.be()
        .add_host("nas.dyn53.invalid", "another-secret-for-nas", false);
    // nas has a different secret than the one the client holds: auth fails for it only.
    let cfg = f.kv_config(&format!("records={HOME} nas.dyn53.invalid,{HOME}:A2\n"));
    let r = f.run(&["-c", &cfg]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("must be A or AAAA"), "{r}");

    f.be().add_host("www.dyn53.invalid", SECRET, false);
    let cfg = f.kv_config(&format!(
        "records={HOME} nas.dyn53.invalid www.dyn53.invalid\n"
    ));
    let r = f.run(&["-c", &cfg]);
    assert_eq!(r.code, 2, "{r}");
    assert_eq!(
        r.stdout,
        format!(
            "{HOME} A changed none -> 127.0.0.1\nwww.dyn53.invalid A changed none -> 127.0.0.1\n"
        ),
        "{r}"
    );
    assert!(
        r.stderr
            .contains("nas.dyn53.invalid A: backend answered 'auth'"),
        "{r}"
    );
    assert!(r.stderr.contains("1 of 3 record(s) failed"), "{r}");
    assert_eq!(f.record("nas.dyn53.invalid"), None);
}

#[test]
fn aaaa_records_go_over_ipv6() {
    let ca = TestCa::new();
    let Some(be) = Served::https_v6(&ca) else {
        eprintln!("no IPv6 loopback on this machine; skipping");
        return;
    };
    be.add_host_with(HOME, SECRET, false, &[RecordType::A, RecordType::Aaaa]);
    let dir = TempDir::new("e2e");
    let ca_file = dir.file("ca.pem", &ca.pem);
    let env = [
        ("DYN53_SECRET", SECRET),
        ("DYN53_CA_FILE", ca_file.as_str()),
    ];
    let url = be.url();
    let host_aaaa = format!("{HOME}:AAAA");
    let r = run_env(&["--url", &url, "--hostname", &host_aaaa], &env);
    be.assert_nothing_secret_in(&r);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.stdout, format!("{HOME} AAAA changed none -> ::1\n"));
    assert_eq!(
        be.record(HOME, RecordType::Aaaa),
        Some("::1".parse().unwrap())
    );
    // An A record cannot be sent to an IPv6-literal URL: a clear configuration error.
    let r = run_env(&["--url", &url, "--hostname", HOME], &env);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("A records must be sent over IPv4"), "{r}");
    // `ip` for AAAA records prints the IPv6 address the backend sees.
    let r = run_env(&["--url", &url, "--hostname", &host_aaaa, "ip"], &env);
    assert_eq!((r.code, r.stdout.as_str()), (0, "::1\n"), "{r}");
}

#[test]
fn retries_until_the_server_comes_up() {
    let ca = TestCa::new();
    let dir = TempDir::new("e2e");
    let ca_file = dir.file("ca.pem", &ca.pem);
    let secret_file = dir.file("secret", SECRET);
    let port = free_port();
    let url = format!("https://localhost:{port}/");
    let mut cmd = client_command();
    cmd.args([
        "--url",
        &url,
        "--hostname",
        HOME,
        "--secret-file",
        &secret_file,
        "--ca-file",
        &ca_file,
        "--timeout",
        "40",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let running = spawn(cmd);
    // The WAN is "down" for a while: connections are refused.
    std::thread::sleep(Duration::from_secs(2));
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("rebind the reserved port");
    let peer = Peer::start(
        listener,
        Some(ca.server_config(&["localhost"])),
        Mode::Normal,
    );
    peer.add_host(HOME, SECRET, false);
    let r = running.wait();
    peer.assert_nothing_secret_in(&r);
    assert_eq!(r.code, 0, "{r}");
    // Natively the log says "refused the IPv4 connection"; under qemu-user the errno of a
    // refused non-blocking connect is not translated, so only the retry itself is checked.
    assert!(r.stderr.contains(&format!("{HOME} A: ")), "{r}");
    assert!(r.stderr.contains("localhost"), "{r}");
    assert!(r.stderr.contains("retry 1 in"), "{r}");
    if std::env::var_os("DYN53_TEST_RUNNER").is_none() {
        assert!(r.stderr.contains("refused the IPv4 connection"), "{r}");
    }
    assert_eq!(r.stdout, format!("{HOME} A changed none -> 127.0.0.1\n"));
    assert!(r.elapsed < Duration::from_secs(40), "{r}");
}

#[test]
fn deadline_is_kept_when_the_server_never_answers() {
    // A TCP listener that accepts and then says nothing (not even TLS).
    let (addr, stop) = silent_listener();
    let url = format!("https://localhost:{}/", addr.port());
    let r = run_env(
        &["--url", &url, "--hostname", HOME, "--timeout", "3"],
        &[("DYN53_SECRET", SECRET)],
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("no answer from localhost"), "{r}");
    assert!(r.stderr.contains("3 s deadline"), "{r}");
    assert!(r.elapsed < Duration::from_secs(20), "{r}");

    // TLS completes, the request is read, the answer never comes.
    let f = Fixture::new();
    let hang = Peer::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        Some(f.ca.server_config(&["localhost"])),
        Mode::Hang,
    );
    let url = hang.url();
    let r = f.run(&[
        "--url",
        &url,
        "--ca-file",
        &f.ca_file,
        "--secret-file",
        &f.secret_file,
        "--hostname",
        HOME,
        "--timeout",
        "3",
    ]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("no answer from localhost"), "{r}");
    assert!(r.elapsed < Duration::from_secs(20), "{r}");
}

#[test]
fn unknown_ca_is_refused_with_a_clear_message() {
    let f = Fixture::new();
    let url = f.url();
    let r = f.run(&[
        "--url",
        &url,
        "--secret-file",
        &f.secret_file,
        "--hostname",
        HOME,
        "--timeout",
        "5",
    ]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr
            .contains("TLS: the certificate of localhost is not signed by a trusted CA"),
        "{r}"
    );
    assert!(r.stderr.contains("set ca_file"), "{r}");
    assert!(
        f.kinds().is_empty(),
        "nothing may be sent over a refused TLS"
    );
}

#[test]
fn certificate_for_another_name_is_refused() {
    let f = Fixture::new();
    let other = Served::start(Some(f.ca.server_config(&["other.dyn53.invalid"])));
    other.add_host(HOME, SECRET, false);
    let url = other.url();
    let r = f.run(&[
        "--url",
        &url,
        "--ca-file",
        &f.ca_file,
        "--secret-file",
        &f.secret_file,
        "--hostname",
        HOME,
        "--timeout",
        "5",
    ]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("is not valid for that name"), "{r}");
    assert!(other.requests().is_empty());
    assert!(
        other.fakes.store.calls().is_empty(),
        "the backend was not reached"
    );
}

#[test]
fn wrong_secret_is_a_permanent_failure() {
    let f = Fixture::new();
    let wrong = f.dir.file("wrong", "not-the-secret-at-all");
    let cfg = f.kv_config(&format!("hostname={HOME}\n"));
    let r = f.run(&["-c", &cfg, "--secret-file", &wrong]);
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr
            .contains("dyn53: error: home.dyn53.invalid A: backend answered 'auth'"),
        "{r}"
    );
    assert!(r.stderr.contains("check that the secret"), "{r}");
    assert!(!r.stderr.contains("not-the-secret-at-all"), "{r}");
    assert_eq!(
        f.kinds(),
        ["get", "set-v2"],
        "auth failures are not retried"
    );
    // The same with protocol 1.
    let r = f.run(&["-c", &cfg, "--secret-file", &wrong, "--protocol", "1"]);
    assert_eq!(r.code, 2, "{r}");
    assert_eq!(f.record(HOME), None);
    let failures = f
        .be()
        .metrics()
        .iter()
        .filter(|(h, c)| h == HOME && c.auth_failure == 1)
        .count();
    assert_eq!(failures, 2, "{:?}", f.be().metrics());
    assert_eq!(f.be().fakes.dns.upserts(), 0);
}

#[test]
fn config_errors_exit_2_and_contact_nobody() {
    let f = Fixture::new();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "-c".into(),
                f.dir.path().join("missing.conf").display().to_string(),
            ],
            "cannot open config file",
        ),
        (
            vec!["-c".into(), f.kv_config("timeout=soon\n")],
            "is set twice",
        ),
        (
            vec![
                "-c".into(),
                f.dir
                    .file("t.conf", format!("url={}\ntimeout=0\n", f.url())),
            ],
            "timeout must be whole seconds",
        ),
        (
            vec![
                "-c".into(),
                f.dir.file("nul.conf", b"url=https://a.b/\n\0\n"),
            ],
            "line 2 contains a NUL byte",
        ),
        (
            vec![
                "-c".into(),
                f.dir.file(
                    "long.conf",
                    format!("url=https://{}/\n", "x".repeat(10_000)),
                ),
            ],
            "longer than 4096 bytes",
        ),
        (
            vec!["-c".into(), f.kv_config("hostname=bad..name.invalid\n")],
            "empty label",
        ),
        (vec!["-c".into(), f.kv_config("")], "no records"),
        (
            vec![
                "-c".into(),
                f.dir.file("nourl.conf", format!("hostname={HOME}\n")),
            ],
            "no backend url",
        ),
        (
            vec![
                "-c".into(),
                f.dir.file(
                    "nosecret.conf",
                    format!("url={}\nhostname={HOME}\nsecret=\n", f.url()),
                ),
            ],
            "no secret: set secret_file",
        ),
        (
            vec!["--url".into(), "http://192.0.2.1/".into(), "ip".into()],
            "plain http:// is only allowed for a loopback host",
        ),
        (
            vec!["--frobnicate".into()],
            "unknown or repeated option --frobnicate",
        ),
        (
            vec![
                "-c".into(),
                f.kv_config(&format!("hostname={HOME}\n")),
                "--ip".into(),
                "300.1.2.3".into(),
            ],
            "--ip: '300.1.2.3' is not an IPv4 or IPv6 address",
        ),
        (
            vec![
                "-c".into(),
                f.kv_config(&format!("hostname={HOME}\nexplicit_ip=1\nprotocol=1\n")),
            ],
            "explicit_ip needs protocol 2",
        ),
        (
            vec![
                "-c".into(),
                f.kv_config(&format!("hostname={HOME}\n")),
                "--ca-file".into(),
                f.secret_file.clone(),
            ],
            "no certificate found",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = f.run(&args);
        assert_eq!(r.code, 2, "{args:?}\n{r}");
        assert!(r.stderr.contains(want), "{args:?}: want {want:?}\n{r}");
        assert!(r.stdout.is_empty(), "{r}");
    }
    // A secret given in the environment is checked too, and never echoed.
    let r = run_env(
        &["--url", &f.url(), "--hostname", HOME],
        &[("DYN53_SECRET", "line1\nline2"), ("DYN53_SECRET_FILE", "")],
    );
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr
            .contains("DYN53_SECRET: the secret contains a line break"),
        "{r}"
    );
    assert!(!r.stderr.contains("line1"), "{r}");
    assert!(
        f.kinds().is_empty(),
        "config errors must not reach the backend"
    );
}

#[test]
fn dry_run_sends_no_set() {
    let f = Fixture::new();
    let cfg = f.kv_config(&format!("hostname={HOME}\n"));
    let r = f.run(&["-c", &cfg, "--dry-run"]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(
        r.stdout,
        format!("{HOME} A would-change none -> 127.0.0.1\n")
    );
    assert_eq!(f.kinds(), ["get"]);
    assert_eq!(f.record(HOME), None);
}

#[test]
fn ip_command_needs_no_secret() {
    let f = Fixture::new();
    let url = f.url();
    let r = f.run(&["--url", &url, "--ca-file", &f.ca_file, "ip"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "127.0.0.1\n"), "{r}");
}

#[test]
fn stale_nonce_and_server_errors_are_retried() {
    let f = Fixture::new();
    let cfg = f.kv_config(&format!("hostname={HOME}\n"));
    // The backend answers `nonce` only when a nonce outlives its 300 s or is spent twice,
    // which a test cannot time: the proxy gives the first set the backend's own `nonce`
    // answer. The second set meets a throttled Route 53, and the backend says `unavailable`.
    let (status, stale) =
        Response::error(ErrorCode::Nonce, "nonce expired or already used").render(Form::V2);
    f.be().add_rule(Rule::times(
        Match::Dyn53Set,
        Fault::Answer(status, stale),
        1,
    ));
    f.be().fakes.dns.fail(DnsFault::Throttled, 1);
    let r = f.run(&["-c", &cfg]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.stdout, format!("{HOME} A changed none -> 127.0.0.1\n"));
    assert_eq!(
        f.kinds(),
        ["get", "set-v2", "get", "set-v2", "get", "set-v2"]
    );
    let answers: Vec<_> = f.be().proxy.seen().into_iter().map(|s| s.answer).collect();
    assert!(
        answers[3]
            .as_deref()
            .unwrap_or("")
            .contains("\"unavailable\""),
        "{answers:?}"
    );
    // A backend that keeps failing: transient, exit 1 once the deadline is over.
    let gateway = r#"{"Message":"Service Unavailable"}"#.to_string();
    f.be()
        .add_rule(Rule::always(Match::Any, Fault::Answer(502, gateway)));
    let r = f.run(&["-c", &cfg, "--timeout", "3"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("HTTP 502"), "{r}");
    assert!(r.stderr.contains("gave up after"), "{r}");
    assert!(r.elapsed < Duration::from_secs(20), "{r}");
}

#[test]
fn malformed_nonce_is_never_signed() {
    let f = Fixture::foreign(Style::Dyn53);
    let cfg = f.kv_config(&format!("hostname={HOME}\n"));
    // A line break would let the server choose what the signed text's lines say.
    f.peer().state.lock().unwrap().inject_nonce = Some("1.2.3\nAAAA".into());
    let r = f.run(&["-c", &cfg]);
    assert_ne!(r.code, 0, "{r}");
    assert!(r.stderr.contains("malformed nonce"), "{r}");
    assert_eq!(f.kinds(), ["get"], "nothing signed, no set sent");
}

#[test]
fn check_compares_dns_with_the_backend() {
    let f = Fixture::new();
    let cfg = f.kv_config(&format!("hostname={HOME}\n"));
    // .invalid never resolves, so DNS cannot agree with the backend.
    let r = f.run(&["-c", &cfg, "check"]);
    assert_eq!(r.code, 1, "{r}");
    assert_eq!(
        r.stdout,
        format!("{HOME} A out-of-sync dns=none expected=127.0.0.1\n")
    );
    assert!(r.stderr.contains("run dyn53 update"), "{r}");
    assert_eq!(f.kinds(), ["get"], "check changes nothing");
}

#[test]
fn double_nat_and_explicit_ip() {
    let f = Fixture::new();
    let cfg = f.kv_config(&format!("hostname={HOME}\n"));
    let r = f.run(&["-c", &cfg, "--ip", "100.64.12.34"]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stderr.contains("double NAT"), "{r}");
    assert_eq!(r.stdout, format!("{HOME} A changed none -> 127.0.0.1\n"));
    // Explicit mode for a host that does not allow it: refused, permanent.
    let r = f.run(&["-c", &cfg, "--ip", "203.0.113.5", "--explicit-ip"]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("not_allowed"), "{r}");
    // Allowed: the signed explicit address is set.
    f.be().add_host(HOME, SECRET, true);
    let r = f.run(&["-c", &cfg, "--ip", "203.0.113.5", "--explicit-ip"]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(
        r.stdout,
        format!("{HOME} A changed 127.0.0.1 -> 203.0.113.5\n")
    );
}

#[test]
fn environment_overrides_and_permission_warnings() {
    let f = Fixture::new();
    let cfg = f.dir.file_mode(
        "open.conf",
        format!("url=https://wrong.dyn53.invalid/\nhostname={HOME}\nsecret={SECRET}\n"),
        0o644,
    );
    let url = f.url();
    let r = f.checked(run_env(
        &["-c", &cfg],
        &[
            ("DYN53_URL", url.as_str()),
            ("DYN53_CA_FILE", f.ca_file.as_str()),
        ],
    ));
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stderr.contains("readable by group or others (mode 644)"),
        "{r}"
    );
    assert_eq!(r.stdout, format!("{HOME} A changed none -> 127.0.0.1\n"));
    // DYN53_CONFIG names the file when -c is absent; -q hides the warning.
    let r = f.checked(run_env(
        &["-q"],
        &[
            ("DYN53_CONFIG", cfg.as_str()),
            ("DYN53_URL", url.as_str()),
            ("DYN53_CA_FILE", f.ca_file.as_str()),
        ],
    ));
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r}");
    assert_eq!(r.stdout, format!("{HOME} A unchanged 127.0.0.1\n"));
}

#[test]
fn plain_http_to_loopback_works() {
    let be = Served::start(None);
    be.add_host(HOME, SECRET, false);
    let url = be.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let r = run_env(
        &["--url", &url, "--hostname", HOME],
        &[("DYN53_SECRET", SECRET)],
    );
    be.assert_nothing_secret_in(&r);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.stdout, format!("{HOME} A changed none -> 127.0.0.1\n"));
}

#[test]
fn help_and_version() {
    let r = run(&["--version"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, format!("dyn53 {}\n", env!("CARGO_PKG_VERSION")));
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    for word in [
        "update",
        "check",
        "--secret-file",
        "--explicit-ip",
        "--interface",
        "DYN53_SECRET_FILE",
        "DYN53_TIMEOUT",
        "secret_file",
        "record_type",
        "Exit codes",
        "transient",
        "permanent",
    ] {
        assert!(r.stdout.contains(word), "--help lacks {word}");
    }
}

#[test]
fn update_writes_the_status_file_and_status_prints_it() {
    let f = Fixture::new();
    f.be()
        .add_host("nas.dyn53.invalid", "another-secret-for-nas", false);
    f.be().set_record(HOME, "192.0.2.1");
    let status = f.dir.path().join("dyn53/status.json");
    let status = status.to_str().unwrap();
    // The config's status_file is used; DYN53_STATUS_FILE (set here) would override it,
    // so this run goes through a config file only.
    let cfg = f.kv_config(&format!(
        "records={HOME} nas.dyn53.invalid\nstatus_file={status}\n"
    ));
    let env = [("DYN53_STATUS_FILE", "")]; // empty = unset: the config's value applies
    let r = f.checked(run_env(&["-c", &cfg, "status"], &env));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.starts_with("no status yet: "), "{r}");
    assert!(r.stdout.contains(status), "{r}");

    let r = f.checked(run_env(&["-c", &cfg], &env));
    assert_eq!(r.code, 2, "{r}");
    let text = std::fs::read_to_string(status).unwrap();
    assert!(
        !text.contains(SECRET) && !text.contains("another-secret"),
        "{text}"
    );
    assert!(!text.contains(&f.url()), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(status).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }
    let head = text.lines().next().unwrap();
    assert!(
        head.starts_with("{\"time\":") && head.ends_with(",\"exit\":2,\"records\":["),
        "{text}"
    );
    let home = text.lines().nth(1).unwrap();
    assert!(
        home.starts_with(&format!(
            "{{\"hostname\":\"{HOME}\",\"type\":\"A\",\"result\":\"changed\",\
             \"address\":\"127.0.0.1\",\"previous\":\"192.0.2.1\",\
             \"message\":\"changed 192.0.2.1 -> 127.0.0.1\",\"time\":"
        )),
        "{text}"
    );
    let nas = text.lines().nth(2).unwrap();
    assert!(
        nas.starts_with(
            "{\"hostname\":\"nas.dyn53.invalid\",\"type\":\"A\",\"result\":\"error\",\
             \"message\":\"backend answered 'auth'"
        ),
        "{text}"
    );
    assert_eq!(text.lines().nth(3), Some("]}"), "{text}");
    // The whole file is one JSON document with the agreed keys (checked by Python's parser).
    let py = std::process::Command::new("python3")
        .args([
            "-c",
            "import json,sys; d=json.load(open(sys.argv[1])); \
             assert d['exit']==2 and [r['result'] for r in d['records']]==['changed','error']; \
             assert 'address' not in d['records'][1] and d['records'][0]['previous']=='192.0.2.1'",
            status,
        ])
        .status()
        .expect("python3");
    assert!(py.success());

    let r = f.checked(run_env(&["-c", &cfg, "status"], &env));
    assert_eq!(r.code, 0, "{r}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("last update: 20")
            && lines[0].ends_with(" UTC, exit code 2 (permanent failure, needs a fix)"),
        "{r}"
    );
    assert!(
        lines[1].starts_with(&format!("{HOME} A changed 192.0.2.1 -> 127.0.0.1 (")),
        "{r}"
    );
    assert!(
        lines[2].starts_with("nas.dyn53.invalid A error: backend answered 'auth'"),
        "{r}"
    );

    // A second run replaces the file; a dry run leaves it alone.
    let cfg = f.kv_config(&format!("hostname={HOME}\nstatus_file={status}\n"));
    let r = f.checked(run_env(&["-c", &cfg, "--dry-run"], &env));
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(std::fs::read_to_string(status).unwrap(), text);
    let r = f.checked(run_env(&["-c", &cfg], &env));
    assert_eq!(r.code, 0, "{r}");
    let text = std::fs::read_to_string(status).unwrap();
    assert!(text.contains(",\"exit\":0,"), "{text}");
    assert!(text.contains("\"result\":\"unchanged\""), "{text}");
    assert_eq!(
        std::fs::read_dir(f.dir.path().join("dyn53"))
            .unwrap()
            .count(),
        1,
        "no temporary file is left behind"
    );
}

#[test]
fn a_failed_status_write_is_a_warning_not_a_failed_update() {
    let f = Fixture::new();
    let blocker = f.dir.file("not-a-dir", "x");
    let status = format!("{blocker}/status.json");
    let cfg = f.kv_config(&format!("hostname={HOME}\n"));
    let r = f.checked(run_env(
        &["-c", &cfg],
        &[("DYN53_STATUS_FILE", status.as_str())],
    ));
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.stdout, format!("{HOME} A changed none -> 127.0.0.1\n"));
    assert!(
        r.stderr
            .contains(&format!("warning: cannot write the status file {status}: ")),
        "{r}"
    );
}
