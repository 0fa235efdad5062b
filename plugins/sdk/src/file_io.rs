//! Files of any size, a piece at a time (`anton:plugin@0.2.0`): one the user
//! named, read through [`std::io::Read`], [`BufRead`] and [`Seek`]; one the
//! host makes in `.anton/output/`, written through [`std::io::Write`].

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};

use crate::HostError;
use crate::bindings::anton::plugin0_2_0::file_io as host;

pub use host::WrittenFile;

/// How much one call to the host moves.
const CHUNK: usize = 1 << 20;

/// A file the user named in the command's arguments (needs `named-files`).
pub struct NamedFile {
    file: host::NamedFile,
    size: u64,
    /// Where reading goes on.
    position: u64,
    /// The bytes from `buffer_start` on.
    buffer: Vec<u8>,
    buffer_start: u64,
    consumed: usize,
}

/// Open `path`, as the user typed it among the command's arguments.
pub fn open_named(path: &str) -> Result<NamedFile, HostError> {
    Ok(NamedFile::from_host(host::open_named_file(path)?))
}

impl NamedFile {
    /// A file the host opened (a named one, or one pulled from a remote).
    pub(crate) fn from_host(file: host::NamedFile) -> NamedFile {
        NamedFile {
            size: file.size(),
            file,
            position: 0,
            buffer: Vec::new(),
            buffer_start: 0,
            consumed: 0,
        }
    }

    /// Its size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The sha256 (hex) of its bytes, taken when it was opened.
    pub fn sha256(&self) -> String {
        self.file.sha256()
    }
}

fn io_error(error: HostError) -> io::Error {
    io::Error::other(error.message())
}

impl BufRead for NamedFile {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.consumed >= self.buffer.len() {
            self.buffer = self.file.read_at(self.position, CHUNK as u32).map_err(io_error)?;
            self.buffer_start = self.position;
            self.consumed = 0;
        }
        Ok(&self.buffer[self.consumed..])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.buffer.len() - self.consumed);
        self.consumed += amount;
        self.position += amount as u64;
    }
}

impl Read for NamedFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl Seek for NamedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a seek before the start of the file"))?;
        let end = self.buffer_start + self.buffer.len() as u64;
        if (self.buffer_start..end).contains(&target) {
            // Inside what is buffered: no call to the host.
            self.consumed = (target - self.buffer_start) as usize;
        } else {
            self.buffer.clear();
            self.consumed = 0;
        }
        self.position = target;
        Ok(target)
    }
}

/// A file the host makes in `.anton/output/` (needs `output-files`). It
/// appears under its name only at [`OutputFile::finish`]; dropped before, it
/// is removed.
pub struct OutputFile {
    file: host::OutputFile,
    buffer: Vec<u8>,
}

/// Start `name` (a plain file name) in the output folder.
pub fn create_output(name: &str) -> Result<OutputFile, HostError> {
    Ok(OutputFile {
        file: host::create_output_file(name)?,
        buffer: Vec::with_capacity(CHUNK),
    })
}

impl OutputFile {
    /// Write what is left, make it durable and give it its name (`-2`, `-3`,
    /// … before the extension when the name is taken).
    pub fn finish(mut self) -> Result<WrittenFile, HostError> {
        self.send()?;
        self.file.finish()
    }

    fn send(&mut self) -> Result<(), HostError> {
        if !self.buffer.is_empty() {
            self.file.write(&self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + bytes.len() > CHUNK {
            self.send().map_err(io_error)?;
        }
        if bytes.len() >= CHUNK {
            self.file.write(bytes).map_err(io_error)?;
        } else {
            self.buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send().map_err(io_error)
    }
}

/// SHA-256 computed by the host, fed in pieces: many times faster than
/// hashing in the plugin.
pub struct Sha256(host::Sha256);

impl Sha256 {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Sha256 {
        Sha256(host::Sha256::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes)
    }

    /// Lowercase hex of everything given so far.
    pub fn hex_digest(&self) -> String {
        self.0.hex_digest()
    }
}
