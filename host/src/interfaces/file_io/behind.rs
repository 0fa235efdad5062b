//! What the host does with a plugin's chunks (hash them, write them) done on
//! a thread of its own, in the order given: a plugin exporting a large
//! session encodes the next chunk while the host hashes and writes this one.

use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, sync_channel};

type Job = Box<dyn FnOnce() + Send>;

/// Jobs in waiting.
const QUEUED: usize = 8;
/// A larger chunk is done at once, so the queue never holds more than
/// `QUEUED` times this.
const MAX_QUEUED_BYTES: usize = 4 << 20;

/// The one thread of the process, started on first use; `None` if no
/// thread could be had, and then every job is done at once.
fn queue() -> Option<&'static SyncSender<Job>> {
    static QUEUE: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (jobs, waiting) = sync_channel::<Job>(QUEUED);
            std::thread::Builder::new()
                .name("anton-io".into())
                .spawn(move || waiting.into_iter().for_each(|job| job()))
                .ok()?;
            Some(jobs)
        })
        .as_ref()
}

/// Do `job`, about `bytes` of work, after every job handed over before it.
pub(super) fn behind(bytes: usize, job: impl FnOnce() + Send + 'static) {
    match queue() {
        Some(jobs) if bytes <= MAX_QUEUED_BYTES => {
            if let Err(refused) = jobs.send(Box::new(job)) {
                (refused.0)();
            }
        }
        _ => {
            caught_up();
            job();
        }
    }
}

/// Return once every job handed over so far is done.
pub(super) fn caught_up() {
    let Some(jobs) = queue() else {
        return;
    };
    let (done, finished) = sync_channel::<()>(1);
    // The mark's sender drops when it runs, which ends the wait; the
    // worker ends only with the process, so it always runs.
    if jobs.send(Box::new(move || drop(done))).is_ok() {
        while finished.recv().is_ok() {}
    }
}
