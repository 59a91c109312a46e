//! `ra-portal`: the portal's server and command line. All the work is in the library.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
