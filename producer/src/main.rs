//! `wacast`: the operator's CLI; everything but this entry point is the library's.

use std::process::ExitCode;

fn main() -> ExitCode {
    wacast_producer::main()
}
