//! `cargo +nightly fuzz run read -- corpus/read ../../../../tests/fixtures/hostile`
//! (or `RUSTC_BOOTSTRAP=1 cargo fuzz run read …` on a stable toolchain).
//! Any input must give a bundle or a one-line error: never a panic, a hang or
//! a huge allocation. The first byte sets the buffer the streaming reader is
//! given (1 to 256 bytes), so values split across reads are fuzzed too: read
//! whole or in pieces, a file must come out the same.
#![no_main]

use std::io::{BufReader, Cursor};

use anton_share_format::{Bundle, local_sha256, read, read_from, write_v01, write_v1};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&buffer, data)) = input.split_first() else {
        return;
    };
    let whole = read(data);
    let mut streamed = Bundle::default();
    let pieces = BufReader::with_capacity(usize::from(buffer) + 1, Cursor::new(data));
    let in_pieces = read_from(pieces, &mut streamed, local_sha256);
    match (&whole, &in_pieces) {
        (Ok((bundle, _)), Ok(_)) => {
            assert_eq!(bundle.conversation, streamed.conversation);
            assert_eq!(bundle.cells, streamed.cells);
            // What was read writes back and reads again the same, in both formats.
            for written in [write_v1(bundle), write_v01(bundle)] {
                let again = read(&written).expect("own output reads");
                assert_eq!(again.0.conversation, bundle.conversation);
            }
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "same fault, whatever the buffer"),
        _ => panic!("read whole: {:?}; in pieces: {:?}", whole.is_ok(), in_pieces.map(|_| ())),
    }
});
