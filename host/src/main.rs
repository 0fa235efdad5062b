fn main() -> std::process::ExitCode {
    anton::cli::main()
}
