//! Tests of the config readers, layering and checks, through the public entry points.

use super::*;
use crate::protocol::RecordType;
use std::fs;
use std::time::Duration;

fn parse(text: &str) -> Result<FileConfig, Error> {
    parse_file_text(text.as_bytes(), "cfg")
}

fn settings(text: &str) -> Result<Settings, Error> {
    let f = parse(text)?;
    merge(&[&f.layer], None, &mut Vec::new())
}

fn err(text: &str) -> String {
    match settings(text) {
        Err(Error::Config(m)) => m,
        other => panic!("expected a config error for {text:?}, got {other:?}"),
    }
}

const UCI: &str = "\
# dyn53
config dyn53 'global'
\toption enabled '1'
\toption url 'https://abc.lambda-url.eu-west-1.on.aws/'
\toption secret 's3cr3t'     # or secret_file
\toption ca_file ''
\toption protocol '2'
\toption timeout '45'
\toption check_interval '600'

config record 'home'
\toption hostname 'Home.Example.com.'
\toption type 'A'
\toption interface 'wan'
\toption enabled '1'
\toption explicit_ip '0'

config record
\toption hostname \"home.example.com\"
\toption type AAAA
\toption interface wan6
\toption explicit_ip 1

config record 'off'
\toption hostname 'off.example.com'
\toption enabled '0'
";

#[test]
fn uci_full_example() {
    let s = settings(UCI).unwrap();
    assert_eq!(s.url.unwrap().host, "abc.lambda-url.eu-west-1.on.aws");
    assert_eq!(s.secret.unwrap().expose(), "s3cr3t");
    assert_eq!(s.ca_file, None);
    assert_eq!(s.protocol, Protocol::V2);
    assert_eq!(s.timeout, Duration::from_secs(45));
    assert_eq!(s.records.len(), 2);
    assert_eq!(s.records[0].hostname, "home.example.com");
    assert_eq!(s.records[0].record_type, RecordType::A);
    assert_eq!(s.records[0].interface.as_deref(), Some("wan"));
    assert!(!s.records[0].explicit_ip);
    assert_eq!(s.records[1].record_type, RecordType::Aaaa);
    assert!(s.records[1].explicit_ip);
}

#[test]
fn interface_filter_records_without_interface_follow_the_wan_names() {
    let text = format!("{UCI}\nconfig record\n\toption hostname 'any.example.com'\n");
    let f = parse(&text).unwrap();
    let names = |want| {
        let s = merge(&[&f.layer], Some(want), &mut Vec::new()).unwrap();
        let n: Vec<String> = s.records.iter().map(|r| r.to_string()).collect();
        (n, s.other_interfaces)
    };
    assert_eq!(
        names("wan6"),
        (
            vec!["home.example.com AAAA".into(), "any.example.com A".into()],
            1
        )
    );
    assert_eq!(names("wan_6"), (vec!["any.example.com A".into()], 2));
    assert_eq!(names("lan"), (vec![], 3));
}

#[test]
fn interface_may_name_several() {
    let text =
        "config record\n\toption hostname 'a.example.com'\n\toption interface ' wan6  wan_6 '\n";
    let f = parse(text).unwrap();
    let s = merge(&[&f.layer], Some("wan_6"), &mut Vec::new()).unwrap();
    assert_eq!(s.records[0].interfaces(), ["wan6", "wan_6"]);
    let s = merge(&[&f.layer], Some("wan"), &mut Vec::new()).unwrap();
    assert!(s.records.is_empty());
}

#[test]
fn uci_booleans_and_quoted_option_names() {
    for (word, on) in [
        ("enabled", true),
        ("disabled", false),
        ("Off", false),
        ("yes", true),
    ] {
        let text = format!(
            "config dyn53\n\toption 'enabled' '{word}'\nconfig record\n\toption \"hostname\" 'a.example.com'\n\toption enabled \"{word}\"\n"
        );
        let s = settings(&text).unwrap();
        assert_eq!(s.enabled, on, "{word}");
        assert_eq!(s.records.len(), usize::from(on), "{word}");
    }
}

#[test]
fn the_openwrt_default_config_follows_pppoe_wan_6() {
    let f = parse(include_str!("../../openwrt/files/dyn53.config")).unwrap();
    // Filled in and switched on as the owner would (url, enabled records).
    let mut layer = f.layer.clone();
    layer.url = Some(Val::new("https://example.com/", "test"));
    layer.secret = None;
    for spec in layer.records.as_mut().unwrap() {
        spec.enabled = None;
    }
    let s = merge(&[&layer], None, &mut Vec::new()).unwrap();
    let six = s
        .records
        .iter()
        .find(|r| r.record_type == RecordType::Aaaa)
        .unwrap();
    assert_eq!(six.interfaces(), ["wan6", "wan_6"]);
}

#[test]
fn uci_tokenizer() {
    assert_eq!(
        uci_words(r#"option  url 'a b'"c\"d"e\ f # x"#).unwrap(),
        ["option", "url", "a bc\"de f"]
    );
    assert_eq!(uci_words("option a ''").unwrap(), ["option", "a", ""]);
    assert!(uci_words("option a 'b").is_err());
    assert!(uci_words("option a \"b").is_err());
    assert!(uci_words("option a b\\").is_err());
}

#[test]
fn kv_example() {
    let s = settings(
        "url=https://abc.lambda-url.eu-west-1.on.aws/\n\
         secret='p#ss word'   # quoted\n\
         records=home.example.com:A home.example.com:AAAA, nas.example.com\n\
         ca_file=\n\
         protocol=1\n\
         timeout=30\r\n\
         explicit_ip=0\n",
    )
    .unwrap();
    assert_eq!(s.secret.unwrap().expose(), "p#ss word");
    assert_eq!(s.protocol, Protocol::V1);
    assert_eq!(s.timeout, Duration::from_secs(30));
    let names: Vec<String> = s.records.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        names,
        [
            "home.example.com A",
            "home.example.com AAAA",
            "nas.example.com A"
        ]
    );
}

#[test]
fn kv_single_hostname_and_type() {
    let s = settings(
        "url=https://x.example/\nhostname=home.example.com\nrecord_type=AAAA\nsecret=a#b\n",
    )
    .unwrap();
    assert_eq!(s.records[0].record_type, RecordType::Aaaa);
    assert_eq!(s.secret.unwrap().expose(), "a#b");
    let s = settings("hostname=\"h.example.com\" # home\n").unwrap();
    assert_eq!(s.records[0].hostname, "h.example.com");
}

#[test]
fn hostile_input() {
    // Huge line.
    let long = format!("url=https://{}/\n", "a".repeat(5000));
    assert!(err(&long).contains("line 1 is longer than 4096 bytes"));
    // NUL byte.
    assert!(err("url=https://a.example/\nsec\0ret=x\n").contains("line 2 contains a NUL byte"));
    // Invalid UTF-8.
    match parse_file_text(b"url=\xff\xfe\n", "cfg") {
        Err(Error::Config(m)) => assert!(m.contains("line 1 is not valid UTF-8"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Duplicate keys.
    assert!(err("url=https://a.example/\nurl=https://b.example/\n")
        .contains("line 2: 'url' is set twice (first on line 1)"));
    assert!(err(
        "config dyn53\n option url 'https://a.example/'\n option url 'https://b.example/'\n"
    )
    .contains("line 3: option 'url' is set twice"));
    assert!(err("config dyn53\nconfig dyn53\n").contains("a second 'config dyn53'"));
    // Garbage lines.
    assert!(err("this is not a config\n").contains("expected key=value"));
    assert!(
        err("config dyn53\n bogus line here\n").contains("expected 'config', 'option' or 'list'")
    );
    assert!(err("option url 'x'\n").contains("expected key=value"));
    assert!(err("package x\noption url 'x'\n").contains("before any 'config'"));
    assert!(err("config dyn53\n option url\n").contains("expected: option <name> '<value>'"));
    assert!(err("URL=https://a.example/\n").contains("not a setting name"));
    assert!(err("ca_file=  protocol=2  timeout=60\n").contains("several settings on one line"));
    assert!(err("secret='abc\n").contains("unterminated ' quote"));
    assert!(err("secret='abc' def\n").contains("text after the closing quote"));
    // Bad hostnames.
    assert!(err("hostname=bad_host name.example.com\n").contains("hostname"));
    assert!(err("hostname=localhost\n").contains("fully qualified"));
    assert!(err("hostname=a..example.com\n").contains("empty label"));
    assert!(err("hostname=203.0.113.7\n").contains("is an IP address"));
    assert!(err(&format!("hostname={}.com\n", "a".repeat(70))).contains("longer than 63"));
    assert!(err("hostname=h.example.com:MX\n").contains("must be A or AAAA"));
    assert!(err("hostname=h.example.com:AAAA\nrecord_type=A\n").contains("given twice"));
    assert!(err("records=a.example.com a.example.com\n").contains("listed twice"));
    // A disabled copy is not a duplicate.
    let dup = "config record\n option hostname 'a.example.com'\n\
               config record\n option hostname 'a.example.com'\n option enabled '0'\n";
    assert_eq!(settings(dup).unwrap().records.len(), 1);
    assert!(err("hostname=a.example.com\nrecords=b.example.com\n").contains("not both"));
    assert!(err("record_type=A\n").contains("hostname is not"));
    assert!(err("config record\n option type 'A'\n").contains("record has no hostname"));
    // Bad numbers and switches.
    for t in ["0", "-5", "abc", "99999999999999999999", "3601", "1.5", " "] {
        let m = err(&format!("timeout='{t}'\n"));
        assert!(m.contains("timeout must be whole seconds"), "{t}: {m}");
    }
    assert!(err("protocol=3\n").contains("protocol must be 1, 1-query or 2"));
    assert!(err("explicit_ip=maybe\n").contains("not a boolean"));
    // Bad URLs.
    assert!(err("url=ftp://a.example/\n").contains("must start with https://"));
    assert!(err("url=http://a.example/\n").contains("only allowed for a loopback host"));
    assert!(err("url=https://user:pw@a.example/\n").contains("user name or password"));
    let m = err("url=https:///path\n");
    assert!(
        m.contains("not a valid URL") || m.contains("no host"),
        "{m}"
    );
    // Secrets.
    assert!(err("secret=a\nsecret_file=/x\n").contains("both secret and secret_file"));
    assert!(err(&format!("secret={}\n", "x".repeat(2000))).contains("longer than 1024"));
    // Errors never echo the secret.
    let m = err("secret=hunter2hunter2\nsecret_file=/x\n");
    assert!(!m.contains("hunter2"), "{m}");
}

#[test]
fn plain_http_is_fine_for_loopback() {
    for u in [
        "http://127.0.0.1:8053/",
        "http://localhost:1/",
        "http://[::1]:80/x",
    ] {
        let url = parse_url(&Val::new(u, "t")).unwrap();
        assert!(!url.host.contains('['), "{}", url.host);
    }
}

#[test]
fn unknown_keys_warn() {
    let f =
        parse("url=https://a.example/\ncolour=blue\ncheck_interval=600\nlan_prefix=1\n").unwrap();
    assert_eq!(f.warnings.len(), 1);
    assert!(f.warnings[0].contains("unknown setting 'colour'"));
    let f = parse("config dyn53\n option colour 'blue'\n option lan_prefix 'lan'\nconfig foo\n option x 'y'\n")
        .unwrap();
    assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
}

#[test]
fn precedence_flags_env_file() {
    let file = parse("url=https://file.example/\ntimeout=10\nprotocol=1\nsecret=filesecret\n")
        .unwrap()
        .layer;
    let env = env_layer(&|k| match k {
        "DYN53_URL" => Some("https://env.example/".into()),
        "DYN53_TIMEOUT" => Some("20".into()),
        "DYN53_PROTOCOL" => Some(String::new()), // empty = unset
        _ => None,
    })
    .unwrap();
    let args = Args {
        timeout: Some("30".into()),
        ..Args::default()
    };
    let flags = flag_layer(&args);
    let s = merge(&[&flags, &env, &file], None, &mut Vec::new()).unwrap();
    assert_eq!(s.url.unwrap().host, "env.example");
    assert_eq!(s.timeout, Duration::from_secs(30));
    assert_eq!(s.protocol, Protocol::V1);
    assert_eq!(s.secret.unwrap().expose(), "filesecret");
    let env = env_layer(&|k| match k {
        "DYN53_TIMEOUT" => Some("soon".into()),
        _ => None,
    })
    .unwrap();
    match merge(&[&env], None, &mut Vec::new()) {
        Err(Error::Config(m)) => assert!(m.starts_with("DYN53_TIMEOUT: "), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(env_layer(&|k| k.starts_with("DYN53_SECRET").then(|| "x".into())).is_err());
}

#[test]
fn query_form_keeps_the_name_as_written() {
    let s = settings(
        "url=https://x.example/prod\nsecret=s\nprotocol=1-query\nhostname=Home.Example.com.\n",
    )
    .unwrap();
    assert_eq!(s.protocol, Protocol::V1Query);
    assert_eq!(s.records[0].hostname, "home.example.com");
    assert_eq!(s.records[0].hostname_raw, "Home.Example.com.");
}

#[test]
fn flags_replace_records_and_force_explicit() {
    let file = parse("records=a.example.com b.example.com:AAAA\nexplicit_ip=0\n")
        .unwrap()
        .layer;
    let args = Args {
        hostnames: vec!["c.example.com:aaaa".into()],
        explicit_ip: true,
        ..Args::default()
    };
    let s = merge(&[&flag_layer(&args), &file], None, &mut Vec::new()).unwrap();
    assert_eq!(
        s.records,
        [Record {
            hostname: "c.example.com".into(),
            hostname_raw: "c.example.com".into(),
            record_type: RecordType::Aaaa,
            interface: None,
            explicit_ip: true
        }]
    );
}

#[test]
fn secret_files() {
    let dir = std::env::temp_dir().join(format!("dyn53-cfg-test-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("secret");
    let v = Val::new(path.to_string_lossy(), "test");
    fs::write(&path, "  t0ps3cret\r\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut w = Vec::new();
    assert_eq!(read_secret_file(&v, &mut w).unwrap().expose(), "t0ps3cret");
    #[cfg(unix)]
    assert!(
        w[0].contains("readable by group or others (mode 644)"),
        "{w:?}"
    );
    fs::write(&path, "two\nlines\n").unwrap();
    let e = read_secret_file(&v, &mut w).unwrap_err().to_string();
    assert!(e.contains("line break") && !e.contains("two"), "{e}");
    fs::write(&path, "\n").unwrap();
    assert!(read_secret_file(&v, &mut w)
        .unwrap_err()
        .to_string()
        .contains("empty"));
    fs::write(&path, vec![b'x'; 5000]).unwrap();
    assert!(read_secret_file(&v, &mut w)
        .unwrap_err()
        .to_string()
        .contains("larger than"));
    let missing = Val::new(dir.join("nope").to_string_lossy(), "--secret-file");
    let e = read_secret_file(&missing, &mut w).unwrap_err().to_string();
    assert!(
        e.contains("cannot open secret file (from --secret-file)"),
        "{e}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn secret_debug_is_redacted() {
    let s = Secret("hunter2".into());
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn ip_hints() {
    assert_eq!(
        parse_ip_hint("::ffff:203.0.113.9").unwrap().to_string(),
        "203.0.113.9"
    );
    assert!(parse_ip_hint("300.1.1.1").is_err());
    assert!(parse_ip_hint("").is_err());
    assert!(parse_ip_hint("1.2.3.4/24").is_err());
}
