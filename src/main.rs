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
