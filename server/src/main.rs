//! `ra-portal`: the portal's server and command line. All the work is in the library.

fn main() -> std::process::ExitCode {
    server::memory::map_large_blocks();
    server::cli::main()
}
