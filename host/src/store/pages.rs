//! A session's rows read ahead: a thread with a connection of its own
//! fetches (and redacts) the next page while the caller works on this one,
//! so an export's reading and its writing take turns on two cores.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use super::*;
use crate::scrub::{Report, Scrubber};

/// A row a session is read in pages of.
pub trait PagedRow: Send + Sized + 'static {
    /// Where paging goes on from.
    fn id(&self) -> i64;
    fn page(store: &Store, session_id: &str, after: i64, max_bytes: usize) -> Result<Vec<Self>>;
    /// Redacts the row, then holds it to what the store keeps: a
    /// placeholder may be longer than the secret it replaces.
    fn redact(&mut self, scrubber: &Scrubber, report: &mut Report);
}

impl PagedRow for Message {
    fn id(&self) -> i64 {
        self.id
    }

    fn page(store: &Store, session_id: &str, after: i64, max_bytes: usize) -> Result<Vec<Self>> {
        store.messages_page(session_id, after, max_bytes)
    }

    fn redact(&mut self, scrubber: &Scrubber, report: &mut Report) {
        let (content, meta) = scrubber.scrub_message(&self.role, &self.content, &self.meta, report);
        (self.content, self.meta) = writer::fit_message(content, meta, writer::MAX_EXPORTED_META);
    }
}

/// A cell and its id.
impl PagedRow for (i64, Cell) {
    fn id(&self) -> i64 {
        self.0
    }

    fn page(store: &Store, session_id: &str, after: i64, max_bytes: usize) -> Result<Vec<Self>> {
        store.cells_page(session_id, after, max_bytes)
    }

    fn redact(&mut self, scrubber: &Scrubber, report: &mut Report) {
        for text in self.1.texts_mut() {
            *text = scrubber.scrub_counting(text, report);
        }
        writer::fit_cell(&mut self.1);
    }
}

pub struct ReadAhead<T: PagedRow> {
    /// Each request is the page size asked for.
    requests: Option<SyncSender<usize>>,
    pages: Receiver<Result<Vec<T>>>,
    report: Arc<Mutex<Report>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl<T: PagedRow> ReadAhead<T> {
    /// Page `session_id` on `store` (a connection for this reader alone),
    /// redacting with `scrubber` when there is one.
    pub fn start(store: Store, session_id: String, scrubber: Option<Arc<Scrubber>>) -> std::io::Result<Self> {
        let (requests, asked) = sync_channel::<usize>(1);
        let (pages, read) = sync_channel(1);
        let report = Arc::new(Mutex::new(Report::new()));
        let counted = report.clone();
        let fetch = move |after: i64, max_bytes: usize| {
            T::page(&store, &session_id, after, max_bytes).map(|mut rows| {
                if let Some(scrubber) = &scrubber {
                    let mut report = counted.lock().unwrap_or_else(|p| p.into_inner());
                    rows.iter_mut().for_each(|row| row.redact(scrubber, &mut report));
                }
                rows
            })
        };
        let worker = crate::threads::spawn_beside("anton-read-ahead", move || {
            let mut sent_to = 0;
            let mut ahead: Option<(usize, Result<Vec<T>>)> = None;
            for max_bytes in asked {
                let page = match ahead.take() {
                    Some((size, page)) if size == max_bytes => page,
                    _ => fetch(sent_to, max_bytes),
                };
                let more = match &page {
                    Ok(rows) => rows.last().map(|last| sent_to = last.id()).is_some(),
                    Err(_) => false,
                };
                if pages.send(page).is_err() {
                    return;
                }
                if more {
                    ahead = Some((max_bytes, fetch(sent_to, max_bytes)));
                }
            }
        })?;
        Ok(ReadAhead {
            requests: Some(requests),
            pages: read,
            report,
            worker: Some(worker),
        })
    }

    /// The next page: rows up to about `max_bytes`, one at least while any
    /// are left; empty at the end.
    pub fn next_page(&self, max_bytes: usize) -> Result<Vec<T>> {
        let stopped = || StoreError::from(String::from("the session's reader stopped"));
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests.send(max_bytes).map_err(|_| stopped())?;
        self.pages.recv().map_err(|_| stopped())?
    }

    /// What redaction replaced so far, by kind.
    pub fn report(&self) -> Report {
        self.report.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl<T: PagedRow> Drop for ReadAhead<T> {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(worker) = self.worker.take() {
            // A reader that panicked has nothing left to tidy.
            drop(worker.join());
        }
    }
}
