//! The `dyn53` router client: parse the command line, run, report, exit with the
//! documented code (0 ok, 1 transient failure, 2 permanent failure).

use dyn53::cli::{self, Parsed};
use dyn53::error::EXIT_OK;

fn main() {
    let code = match cli::parse_args() {
        Ok(Parsed::Help) => {
            print!("{}", cli::HELP);
            EXIT_OK
        }
        Ok(Parsed::Version) => {
            println!("dyn53 {}", env!("CARGO_PKG_VERSION"));
            EXIT_OK
        }
        Ok(Parsed::Run(args)) => match dyn53::app::run(*args) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("dyn53: error: {e}");
                e.exit_code()
            }
        },
        Err(e) => {
            eprintln!("dyn53: error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// Replaces musl's `pthread_setname_np` in the static router binary. musl's formats a
/// `/proc/self/task/<tid>/comm` path with `snprintf`, which alone links all of `printf` (about
/// 10 KB of MIPS code) into the binary; std calls it only for named threads, and dyn53 names
/// none (nor does ureq), so this one is never reached. It reports success and does nothing.
#[cfg(all(target_os = "linux", target_env = "musl"))]
#[no_mangle]
pub extern "C" fn pthread_setname_np(_thread: usize, _name: *const std::ffi::c_char) -> i32 {
    0
}
