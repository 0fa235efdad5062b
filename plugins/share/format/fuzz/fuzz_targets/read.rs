//! `cargo +nightly fuzz run read -- corpus/read ../../../../tests/fixtures/hostile`
//! Any input must give a bundle or a one-line error: never a panic, a hang or
//! a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((bundle, _)) = anton_share_format::read(data) {
        // What was read writes back and reads again the same.
        let again = anton_share_format::read(&anton_share_format::write_v1(&bundle)).expect("own output reads");
        assert_eq!(again.0.conversation, bundle.conversation);
    }
});
