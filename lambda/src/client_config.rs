//! Ready-to-paste client configs (OpenWrt UCI and Merlin key=value) for `host add`/`rotate`.

use crate::host::HostConfig;
use dyn53::protocol::RecordType;

/// URL printed when the admin did not give one.
pub const URL_PLACEHOLDER: &str = "https://YOUR-FUNCTION-URL.lambda-url.REGION.on.aws/";

/// Whether `url` can be pasted into both formats unchanged (no quotes, spaces or controls).
pub fn url_ok(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'\'' | b'"' | b'\\' | b'`' | b'$'))
}

fn section_name(hostname: &str, t: RecordType, both: bool) -> String {
    let label = hostname.split('.').next().unwrap_or("host");
    let mut name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if both && t == RecordType::Aaaa {
        name.push_str("_v6");
    }
    name
}

fn protocol(host: &HostConfig) -> u8 {
    if host.protocols.v2 {
        2
    } else {
        1
    }
}

/// `/etc/config/dyn53` for OpenWrt.
pub fn openwrt(host: &HostConfig, url: &str, secret: &str) -> String {
    let mut out = format!(
        "config dyn53 'global'\n\toption enabled '1'\n\toption url '{url}'\n\toption secret '{secret}'\n\
         \toption protocol '{}'\n\toption timeout '60'\n\toption check_interval '600'\n",
        protocol(host)
    );
    let both = host.types.len() > 1;
    for t in &host.types {
        let iface = match t {
            RecordType::A => "wan",
            // PPPoE links name their DHCPv6 side wan_6.
            RecordType::Aaaa => "wan6 wan_6",
        };
        out.push_str(&format!(
            "\nconfig record '{}'\n\toption hostname '{}'\n\toption type '{t}'\n\
             \toption interface '{iface}'\n\toption enabled '1'\n\toption explicit_ip '0'\n",
            section_name(&host.hostname, *t, both),
            host.hostname
        ));
    }
    out
}

/// `/jffs/addons/dyn53.d/dyn53.conf` for Asuswrt-Merlin.
pub fn merlin(host: &HostConfig, url: &str, secret: &str) -> String {
    let mut out = format!("url={url}\nsecret={secret}\n");
    match host.types.as_slice() {
        [RecordType::A] => out.push_str(&format!("hostname={}\n", host.hostname)),
        [t] => out.push_str(&format!("hostname={}\nrecord_type={t}\n", host.hostname)),
        types => {
            let list: Vec<String> = types
                .iter()
                .map(|t| format!("{}:{t}", host.hostname))
                .collect();
            out.push_str(&format!("records={}\n", list.join(" ")));
        }
    }
    out.push_str(&format!(
        "protocol={}\ntimeout=60\nexplicit_ip=0\n",
        protocol(host)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs() {
        let mut h = HostConfig::new("home-1.example.com", "Z1", String::new());
        h.types = vec![RecordType::A, RecordType::Aaaa];
        let uci = openwrt(&h, "https://x.example/", "abc");
        assert!(uci.contains("config record 'home_1'\n"));
        assert!(uci.contains("config record 'home_1_v6'\n"));
        assert!(uci.contains("\toption type 'AAAA'\n\toption interface 'wan6 wan_6'\n"));
        assert!(uci.contains("\toption secret 'abc'\n"));
        let kv = merlin(&h, "https://x.example/", "abc");
        assert!(kv.contains("records=home-1.example.com:A home-1.example.com:AAAA\n"));
        h.types = vec![RecordType::Aaaa];
        h.protocols.v2 = false;
        let kv = merlin(&h, "https://x.example/", "abc");
        assert!(kv.contains("hostname=home-1.example.com\nrecord_type=AAAA\n"));
        assert!(kv.contains("protocol=1\n"));
        assert!(url_ok("https://abc.lambda-url.eu-west-1.on.aws/"));
        assert!(!url_ok("https://a'b/"));
        assert!(!url_ok("ftp://a/"));
    }
}
