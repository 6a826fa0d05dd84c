//! Replays the fuzz seed corpus and every saved crashing input (tests/fuzz/corpus/<target>/ and
//! tests/fuzz/regressions/<target>/) through the same checks the fuzz targets run, so a bug
//! a fuzzer once found stays fixed without needing the fuzzer.

#[path = "fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            check(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    assert!(n > 0, "no inputs for fuzz target {target}");
}

#[test]
fn request_inputs() {
    replay("request", checks::request);
}

#[test]
fn response_inputs() {
    replay("response", checks::response);
}

#[test]
fn config_inputs() {
    replay("config", checks::config);
}

#[test]
fn verify_inputs() {
    replay("verify", checks::verify);
}
