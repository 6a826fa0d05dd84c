//! Checks the protocol against vectors computed by sha256sum, openssl and Python
//! (tests/vectors/generate.sh), not by this crate.

use dyn53::protocol::{
    v1_json, v1_token, v1_verify, IpMode, LanPrefix, RecordType, Request, SignedFields,
};

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split('\t').collect())
}

#[test]
fn v1_vectors() {
    let mut n = 0;
    for f in rows(include_str!("vectors/v1.tsv")) {
        let [ip, host, secret, want] = f[..] else {
            panic!("bad row {f:?}")
        };
        assert_eq!(v1_token(ip, host, secret), want, "{host}");
        assert!(v1_verify(ip, host, secret, &want.to_uppercase()));
        assert!(!v1_verify(ip, host, "wrong", want));
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn v2_vectors() {
    let mut n = 0;
    for f in rows(include_str!("vectors/v2.tsv")) {
        let [host, rtype, ip, mode, nonce, secret, want] = f[..] else {
            panic!("bad row {f:?}")
        };
        let fields = SignedFields {
            hostname: host,
            record_type: rtype.parse::<RecordType>().unwrap(),
            ip: ip.parse().unwrap(),
            ip_mode: if mode == "source" {
                IpMode::Source
            } else {
                IpMode::Explicit
            },
            nonce,
        };
        assert_eq!(fields.sign(secret), want, "{host}");
        assert!(fields.verify(secret, want));
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn v2_lan_prefix_vectors() {
    let (mut signed, mut refused) = (0, 0);
    for f in rows(include_str!("vectors/v2_lan.tsv")) {
        let [host, rtype, ip, mode, nonce, secret, sent, canonical, want] = f[..] else {
            panic!("bad row {f:?}")
        };
        let fields = SignedFields {
            hostname: host,
            record_type: rtype.parse::<RecordType>().unwrap(),
            ip: ip.parse().unwrap(),
            ip_mode: if mode == "source" {
                IpMode::Source
            } else {
                IpMode::Explicit
            },
            nonce,
        };
        let body = format!(
            r#"{{"execution_mode":"set","protocol":2,"ddns_hostname":"{host}","record_type":"{rtype}","ip":"{ip}","ip_mode":"{mode}","nonce":"{nonce}","signature":"{}","lan_prefix":"{sent}"}}"#,
            "0".repeat(64)
        );
        if canonical == "refused" {
            assert!(LanPrefix::parse(sent).is_err(), "{sent}");
            assert!(Request::from_json(body.as_bytes()).is_err(), "{sent}");
            refused += 1;
            continue;
        }
        let p = LanPrefix::parse(sent).unwrap();
        assert_eq!(p.to_string(), canonical);
        let Ok(Request::SetV2(r)) = Request::from_json(body.as_bytes()) else {
            panic!("{sent}: not read")
        };
        assert_eq!(r.lan_prefix, Some(p));
        assert_eq!(fields.sign_lan(secret, Some(&p)), want, "{sent}");
        assert!(fields.verify_lan(secret, Some(&p), want));
        signed += 1;
    }
    assert_eq!((signed, refused), (3, 4));
}

#[test]
fn v1_answers_are_written_as_python_json_dumps_writes_them() {
    let mut n = 0;
    for f in rows(include_str!("vectors/v1_answers.tsv")) {
        let [ok, message, want] = f[..] else {
            panic!("bad row {f:?}")
        };
        let message = String::from_utf8(hex::decode(message).unwrap()).unwrap();
        assert_eq!(v1_json(ok == "1", &message), want, "{message:?}");
        n += 1;
    }
    assert_eq!(n, 9);
}
