//! Threads the foreground hands work to.

use std::thread::JoinHandle;

/// Spawn a named thread for short work that must run beside the caller from
/// its start. Linux queues a new thread on its parent's CPU and moves it to
/// an idle one only at the next balancing tick, about a millisecond on: by
/// then the foreground has done the work itself. The thread is kept off the
/// caller's CPU for its whole life, which is why its work must be short.
pub fn spawn_beside(name: &str, work: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let (placed, wait) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
        let _placed = Placed(wait);
        work();
    })?;
    keep_off_this_cpu(&thread);
    drop(placed);
    Ok(())
}

/// Holds a thread that ends, even by a panic, until it is placed: glibc
/// places the caller instead of a thread that is gone.
struct Placed(std::sync::mpsc::Receiver<()>);

impl Drop for Placed {
    fn drop(&mut self) {
        self.0.recv().unwrap_or_default();
    }
}

/// Where no other CPU is allowed, or the kernel refuses, the thread stays
/// where it was queued: it starts later, nothing else changes.
fn keep_off_this_cpu(thread: &JoinHandle<()>) {
    use std::os::unix::thread::JoinHandleExt;
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `allowed` is a plain bit set the calls read and write within
    // `size`, and the thread is alive, so its pthread_t names it.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size, &mut allowed) != 0 {
            return;
        }
        let here = libc::sched_getcpu();
        if !(0..libc::CPU_SETSIZE).contains(&here) || libc::CPU_COUNT(&allowed) < 2 {
            return;
        }
        libc::CPU_CLR(here as usize, &mut allowed);
        libc::pthread_setaffinity_np(thread.as_pthread_t(), size, &allowed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    const SIZE: usize = std::mem::size_of::<libc::cpu_set_t>();

    fn allowed_here() -> libc::cpu_set_t {
        // SAFETY: a zeroed bit set is valid, and the call writes within SIZE.
        unsafe {
            let mut allowed: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(libc::sched_getaffinity(0, SIZE, &mut allowed), 0);
            allowed
        }
    }

    fn count(set: &libc::cpu_set_t) -> i32 {
        // SAFETY: reads the bit set within its size.
        unsafe { libc::CPU_COUNT(set) }
    }

    /// The CPUs the spawned thread may run on once spawn_beside has returned.
    fn mask_of_spawned() -> libc::cpu_set_t {
        let (go, wait) = mpsc::channel::<()>();
        let (report, mask) = mpsc::channel();
        spawn_beside("anton-test", move || {
            wait.recv().unwrap();
            report.send(allowed_here()).unwrap();
        })
        .unwrap();
        go.send(()).unwrap();
        mask.recv().unwrap()
    }

    #[test]
    fn the_thread_may_run_on_every_allowed_cpu_but_the_callers() {
        let allowed = count(&allowed_here());
        let spawned = count(&mask_of_spawned());
        assert_eq!(spawned, if allowed < 2 { allowed } else { allowed - 1 });
    }

    #[test]
    fn a_thread_done_before_it_is_placed_leaves_the_callers_cpus_alone() {
        // A busy CPU makes the new thread likelier to run, and end, first.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = {
            let stop = stop.clone();
            std::thread::spawn(move || while !stop.load(std::sync::atomic::Ordering::Relaxed) {})
        };
        let before = count(&allowed_here());
        let kept = (0..3000).all(|_| {
            spawn_beside("anton-test", || {}).unwrap();
            count(&allowed_here()) == before
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        busy.join().unwrap();
        assert!(kept, "the caller was moved off its CPU");
    }

    #[test]
    fn with_one_cpu_allowed_the_thread_keeps_to_it() {
        let before = allowed_here();
        // SAFETY: bit sets within SIZE; 0 is this test's own thread.
        let one = unsafe {
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(libc::sched_getcpu() as usize, &mut one);
            assert_eq!(libc::sched_setaffinity(0, SIZE, &one), 0);
            one
        };
        let spawned = mask_of_spawned();
        // SAFETY: as above.
        assert_eq!(unsafe { libc::sched_setaffinity(0, SIZE, &before) }, 0);
        assert_eq!(count(&spawned), 1);
        // SAFETY: reads both bit sets within their size.
        assert!(unsafe { libc::CPU_EQUAL(&spawned, &one) });
    }
}
