//! Replays the `event` fuzz target's seed corpus and saved crashing inputs
//! (tests/fuzz/corpus/event/, tests/fuzz/regressions/event/) through the same check, so
//! what a fuzzer found stays fixed without the fuzzer.

#[path = "../../../tests/fuzz/checks_backend.rs"]
mod checks_backend;

#[test]
fn event_inputs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join("event")) else {
            continue;
        };
        for e in entries {
            checks_backend::event(&std::fs::read(e.unwrap().path()).unwrap());
            n += 1;
        }
    }
    assert!(n >= 3, "expected the seed events, found {n} inputs");
}
