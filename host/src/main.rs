fn main() -> std::process::ExitCode {
    quiet_on_closed_pipe();
    anton::cli::main()
}

/// `anton sessions | head -1`: when the reader goes away, anton ends quietly
/// as Unix tools do, not with a panic from a failed print. (SIGPIPE stays
/// ignored, so a scratchpad that dies cannot take anton with it.)
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
