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

/// The only C maths functions anton calls (SQLite's and the standard
/// library's), defined in the binary so the loader need not map libm at
/// every start: that took `anton sessions` about 0.12 ms. They are musl's
/// algorithms, by way of the `libm` crate. A new one that is missing here
/// only brings libm back (`tests/link.rs` notices).
mod c_maths {
    use std::ffi::c_int;

    #[unsafe(no_mangle)]
    extern "C" fn pow(x: f64, y: f64) -> f64 {
        libm::pow(x, y)
    }

    #[unsafe(no_mangle)]
    extern "C" fn log(x: f64) -> f64 {
        libm::log(x)
    }

    #[unsafe(no_mangle)]
    extern "C" fn log2(x: f64) -> f64 {
        libm::log2(x)
    }

    #[unsafe(no_mangle)]
    extern "C" fn exp2(x: f64) -> f64 {
        libm::exp2(x)
    }

    #[unsafe(no_mangle)]
    extern "C" fn ldexp(x: f64, exp: c_int) -> f64 {
        libm::ldexp(x, exp)
    }

    #[cfg(test)]
    mod tests {
        /// Through the standard library, which calls the functions above.
        #[test]
        fn the_maths_functions_give_the_usual_answers() {
            assert_eq!(2f64.powf(10.0), 1024.0);
            assert_eq!(9f64.powf(0.5), 3.0);
            assert!(f64::NAN.powf(1.0).is_nan());
            assert_eq!(0f64.powf(-1.0), f64::INFINITY);
            assert_eq!(std::f64::consts::E.ln(), 1.0);
            assert_eq!(0f64.ln(), f64::NEG_INFINITY);
            assert!((-1f64).ln().is_nan());
            assert_eq!(1024f64.log2(), 10.0);
            assert_eq!(3f64.exp2(), 8.0);
            assert_eq!(super::ldexp(1.5, 4), 24.0);
            assert!((super::pow(1.0001, 10_000.0) - 2.718_145_926_825_225).abs() < 1e-12);
        }
    }
}
