//! The team's object storage (`[share] remote`): S3, GCS, Azure or a
//! mounted folder, through `object_store` with each cloud's standard
//! credential chain (anton stores none), and age encryption to teammates'
//! keys. Plugins reach this only through the `remote` interface.

mod keys;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};

pub use keys::{Identities, own_recipient, parse_recipients};

use crate::terminal::{self, Unit};

/// The most files a listing takes in: far more than a team shares.
const MAX_LISTED: usize = 100_000;
/// The largest file pushed or pulled: a `.anton` file's limit, plus what
/// encryption adds (16 bytes in 64 KiB, and a header).
pub const MAX_REMOTE_FILE: u64 = anton_share_format::MAX_FILE + (anton_share_format::MAX_FILE >> 12) + (1 << 20);
/// One part of an upload: S3 wants 5 MiB at least, save for the last.
const PART: usize = 8 << 20;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// The longest age header read: a stanza per recipient, a few hundred bytes each.
const MAX_HEADER: usize = 64 * 1024;
/// The most keys one push is encrypted to (each one a stanza in the header).
pub const MAX_RECIPIENTS: usize = 64;

/// One remote: where it is, and a client for it.
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// For a `file://` remote, its folder: anyone on the team drive can put
    /// a link or a FIFO there, so each file is checked before it is read.
    local_folder: Option<PathBuf>,
    /// As configured, for people to read (it holds no credential).
    pub location: String,
}

/// A file on the remote.
pub struct RemoteFile {
    pub name: String,
    pub size: u64,
    pub stored_at: i64,
}

impl Remote {
    /// `location`: `s3://bucket/prefix`, `gs://…`, `az://…` or `file:///folder`.
    pub fn open(location: &str) -> Result<Remote, String> {
        crate::llm::install_crypto_provider();
        let bad = |why: &str| format!("[share] remote = {location:?}: {why}");
        let url = reqwest::Url::parse(location).map_err(|e| bad(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
            return Err(bad(
                "it holds credentials; remove them: anton uses the cloud's own settings (AWS_* or ~/.aws, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*)",
            ));
        }
        let (scheme, prefix) =
            object_store::ObjectStoreScheme::parse(&url).map_err(|_| bad("use s3://, gs://, az:// or file:///"))?;
        let retry = RetryConfig {
            max_retries: 4,
            retry_timeout: Duration::from_secs(60),
            ..RetryConfig::default()
        };
        use object_store::ObjectStoreScheme as Scheme;
        let cloud = |e: object_store::Error| bad(&first_line(&e.to_string()));
        let mut local_folder = None;
        let (store, prefix): (Arc<dyn ObjectStore>, ObjectPath) = match scheme {
            Scheme::Local => {
                let folder = url
                    .to_file_path()
                    .map_err(|()| bad("a file:// remote needs an absolute path"))?;
                if !folder.is_dir() {
                    return Err(bad(&format!("{} is not a folder", folder.display())));
                }
                let local = object_store::local::LocalFileSystem::new_with_prefix(&folder).map_err(cloud)?;
                local_folder = Some(folder);
                (Arc::new(local), ObjectPath::default())
            }
            Scheme::AmazonS3 => {
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(location)
                    .with_retry(retry)
                    .build()
                    .map_err(cloud)?;
                (Arc::new(s3), prefix)
            }
            Scheme::GoogleCloudStorage => {
                let gcs = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(location)
                    .with_retry(retry)
                    .build()
                    .map_err(cloud)?;
                (Arc::new(gcs), prefix)
            }
            Scheme::MicrosoftAzure => {
                let azure = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(location)
                    .with_retry(retry)
                    .build()
                    .map_err(cloud)?;
                (Arc::new(azure), prefix)
            }
            _ => return Err(bad("use s3://, gs://, az:// or file:///")),
        };
        Ok(Remote {
            store,
            prefix,
            local_folder,
            location: location.trim_end_matches('/').to_string(),
        })
    }

    /// `name` under the prefix as the remote spells it: the name a listing
    /// gave, not re-encoded.
    fn object(&self, name: &str) -> Result<ObjectPath, String> {
        let path = match self.prefix.as_ref() {
            "" => name.to_string(),
            prefix => format!("{prefix}/{name}"),
        };
        ObjectPath::parse(&path).map_err(|_| {
            format!(
                "{} cannot hold a file named {}",
                self.location,
                terminal::sanitize_line(&format!("{name:?}"))
            )
        })
    }

    /// A `file://` remote's entry must be a regular file, not a link or a FIFO.
    fn check_local(&self, name: &str) -> Result<(), String> {
        let Some(folder) = &self.local_folder else {
            return Ok(());
        };
        match std::fs::symlink_metadata(folder.join(self.prefix.as_ref()).join(name)) {
            Ok(meta) if meta.is_file() => Ok(()),
            Ok(_) => Err(format!(
                "{name} on {} is not a plain file (a link or a device); anton reads only files",
                self.location
            )),
            Err(e) => Err(format!("{name} on {}: {e}", self.location)),
        }
    }

    fn failed(&self, what: &str, e: object_store::Error) -> String {
        let why = match e {
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                "it refused your credentials (the cloud's own settings: AWS_* or ~/.aws, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*)".into()
            }
            e => first_line(&e.to_string()),
        };
        format!("{what} {}: {why}", self.location)
    }

    /// Every file directly under the prefix, newest first.
    pub async fn list(&self) -> Result<Vec<RemoteFile>, String> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.prefix))
            .await
            .map_err(|e| match e {
                object_store::Error::InvalidPath { .. } => format!(
                    "cannot list {}: a file there has a name anton cannot read ({}); rename or delete it",
                    self.location,
                    first_line(&e.to_string())
                ),
                e => self.failed("cannot list", e),
            })?;
        let mut files: Vec<RemoteFile> = listing
            .objects
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?.to_string();
                self.check_local(&name).ok()?;
                Some(RemoteFile {
                    name,
                    size: meta.size,
                    stored_at: meta.last_modified.timestamp_millis(),
                })
            })
            .collect();
        files.sort_by(|a, b| b.stored_at.cmp(&a.stored_at).then_with(|| b.name.cmp(&a.name)));
        files.truncate(MAX_LISTED);
        Ok(files)
    }

    /// `name` with a random part before its extension (`stem-1f3a9c.ext`),
    /// one the remote does not have: an upload replaces what its name holds,
    /// so two pushes in the same second must never share one.
    pub async fn free_name(&self, name: &str) -> Result<String, String> {
        let (stem, extension) = match name.split_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
            _ => (name, String::new()),
        };
        for _ in 0..8 {
            let candidate = format!("{stem}-{}{extension}", random_part());
            match self.store.head(&self.object(&candidate)?).await {
                Err(object_store::Error::NotFound { .. }) => return Ok(candidate),
                Err(e) => return Err(self.failed("cannot reach", e)),
                Ok(_) => continue,
            }
        }
        Err(format!("{} has every name tried for {name}; push again", self.location))
    }

    /// Upload the bytes `source` produces as `name`, in parts: nothing is
    /// listed until the last part is in, and a failed upload is aborted.
    /// `produce` runs on a thread of its own, writing into the sink it is given.
    pub async fn upload(
        &self,
        name: &str,
        total: u64,
        produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'static,
    ) -> Result<u64, String> {
        let upload = self
            .store
            .put_multipart(&self.object(name)?)
            .await
            .map_err(|e| self.failed("cannot write to", e))?;
        let mut parts = WriteMultipart::new_with_chunk_size(upload, PART);
        let (chunks, mut received) = tokio::sync::mpsc::channel::<Vec<u8>>(PARTS_IN_FLIGHT);
        let producer = std::thread::spawn(move || {
            let mut sink = ChunkSink {
                chunks,
                buffer: Vec::with_capacity(PART),
            };
            produce(&mut sink).and_then(|()| sink.flush())
        });
        let what = format!("pushing {name}");
        let mut sent = 0u64;
        let mut failure = None;
        while let Some(chunk) = received.recv().await {
            if let Err(e) = parts.wait_for_capacity(PARTS_IN_FLIGHT).await {
                failure = Some(self.failed("cannot write to", e));
                break;
            }
            sent += chunk.len() as u64;
            parts.put(chunk.into());
            terminal::progress(&what, sent.min(total), total.max(sent), Unit::Bytes);
        }
        drop(received);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the file's reader stopped")));
        terminal::clear_progress();
        let failure = failure.or_else(|| produced.err().map(|e| format!("cannot read what to push: {e}")));
        if let Some(failure) = failure {
            if let Err(e) = parts.abort().await {
                return Err(format!(
                    "{failure}; its parts stay unlisted on the remote until the remote's own cleanup ({})",
                    first_line(&e.to_string())
                ));
            }
            return Err(failure);
        }
        parts
            .finish()
            .await
            .map_err(|e| self.failed("cannot finish the upload to", e))?;
        Ok(sent)
    }

    /// Whether the remote has a file named `name`.
    pub async fn has(&self, name: &str) -> Result<bool, String> {
        let Ok(path) = self.object(name) else {
            return Ok(false);
        };
        // A link or a FIFO on a team folder is there, to be refused by name.
        if let Some(folder) = &self.local_folder {
            return Ok(std::fs::symlink_metadata(folder.join(self.prefix.as_ref()).join(name)).is_ok());
        }
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed("cannot reach", e)),
        }
    }

    /// Download `name` into `into`, refusing one larger than a share can be.
    pub async fn download(&self, name: &str, into: &mut File) -> Result<u64, String> {
        self.check_local(name)?;
        let got = self.store.get(&self.object(name)?).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => format!(
                "{} has no {name}; `share list --remote` shows what it has",
                self.location
            ),
            e => self.failed("cannot read from", e),
        })?;
        let size = got.meta.size;
        if size > MAX_REMOTE_FILE {
            return Err(format!(
                "{name} on {} is {size} bytes, more than a share can be",
                self.location
            ));
        }
        let what = format!("pulling {name}");
        let mut stream = got.into_stream();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.failed("cannot read from", e))?;
            received += chunk.len() as u64;
            if received > size {
                return Err(format!("{name} on {} grew while it was read", self.location));
            }
            into.write_all(&chunk).map_err(|e| format!("cannot keep {name}: {e}"))?;
            terminal::progress(&what, received, size, Unit::Bytes);
        }
        terminal::clear_progress();
        if received != size {
            return Err(format!("{name} on {} arrived cut short; pull it again", self.location));
        }
        Ok(received)
    }
}

/// Bytes in parts of [`PART`], handed to the upload as each fills.
struct ChunkSink {
    chunks: tokio::sync::mpsc::Sender<Vec<u8>>,
    buffer: Vec<u8>,
}

impl Write for ChunkSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = PART - self.buffer.len();
        let taken = bytes.len().min(room);
        self.buffer.extend_from_slice(&bytes[..taken]);
        if self.buffer.len() == PART {
            self.send()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.buffer.is_empty() {
            true => Ok(()),
            false => self.send(),
        }
    }
}

impl ChunkSink {
    fn send(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART));
        self.chunks
            .blocking_send(full)
            .map_err(|_| std::io::Error::other("the upload stopped"))
    }
}

/// Copy `file` into `sink`, encrypted to `recipients` when there are any.
pub fn encrypt_into(
    mut file: File,
    recipients: &[Box<dyn age::Recipient + Send>],
    sink: &mut dyn Write,
) -> std::io::Result<()> {
    if recipients.is_empty() {
        std::io::copy(&mut file, sink)?;
        return Ok(());
    }
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut writer = encryptor.wrap_output(sink)?;
    std::io::copy(&mut file, &mut writer)?;
    writer.finish()?;
    Ok(())
}

/// Decrypt `encrypted` into `into` with the user's identities, holding the
/// result to `max` bytes.
pub fn decrypt_into(encrypted: &Path, identities: &Identities, into: &mut File, max: u64) -> Result<u64, String> {
    let shown = encrypted.display();
    let mut source = File::open(encrypted).map_err(|e| format!("cannot read {shown}: {e}"))?;
    // The header ends at its `---` line; age reads a long one in time that
    // grows with its square, so a teammate's file could stall every pull.
    let mut start = Vec::new();
    (&mut source)
        .take(MAX_HEADER as u64)
        .read_to_end(&mut start)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !start.windows(5).any(|w| w == b"\n--- ") {
        return Err(format!(
            "its age header is longer than {} KiB or broken: not a share anton makes",
            MAX_HEADER / 1024
        ));
    }
    let source = File::open(encrypted).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let decryptor = age::Decryptor::new_buffered(std::io::BufReader::new(source))
        .map_err(|e| format!("the file is not an age-encrypted share: {e}"))?;
    let mut reader = decryptor.decrypt(identities.all()).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => identities.none_fits(),
        e => format!("cannot decrypt it: {e}"),
    })?;
    let mut buffer = vec![0; 1 << 20];
    let mut written = 0u64;
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| format!("cannot decrypt it: {e}"))?;
        if n == 0 {
            return Ok(written);
        }
        written += n as u64;
        if written > max {
            return Err(format!(
                "it decrypts to more than {max} bytes, more than a share can be"
            ));
        }
        into.write_all(&buffer[..n])
            .map_err(|e| format!("cannot keep it: {e}"))?;
    }
}

/// Six hex digits no other push in the same second is likely to draw.
fn random_part() -> String {
    use sha2::{Digest, Sha256};
    static DRAWN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!(
        "{nanos} {} {} {}",
        std::process::id(),
        crate::store::hostname(),
        DRAWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    crate::files::hex(&Sha256::digest(seed.as_bytes())[..3])
}

fn first_line(text: &str) -> String {
    terminal::sanitize_line(text.lines().next().unwrap_or(""))
}

/// Where pulled files are kept: `<workspace>/.anton/pulled/`.
pub fn pulled_dir(anton_dir: &Path) -> PathBuf {
    anton_dir.join("pulled")
}
