//! The `calbook` binary: parse the command line and hand over to the library.

fn main() -> std::process::ExitCode {
    calbook::cli::main()
}

/// mimalloc: less time in the allocator on the ingest path than glibc's malloc, and no
/// `malloc_consolidate` stalls in the SQLite thread.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
