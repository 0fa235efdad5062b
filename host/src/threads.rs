//! Threads that work beside the one that starts them.

use std::io;
use std::thread::JoinHandle;

/// Start `work` on a thread named `name` that keeps, for its whole life, off
/// the CPU this thread is on where there is another. Linux may queue a new
/// thread on its parent's CPU, and a thread that ran in the last half
/// millisecond counts as cache-hot and is not moved to an idle CPU: so the
/// two took turns on one CPU while the other idled, and `anton sessions`
/// waited 1.2 ms of its 5 for the store's thread ahead.
pub fn spawn_beside<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> io::Result<JoinHandle<T>> {
    // The work waits until the thread is placed: a thread that had already
    // ended would have no id left, and glibc would move this thread instead.
    let (placed, wait_until_placed) = std::sync::mpsc::sync_channel::<()>(0);
    let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
        // Nothing is sent: the sender goes away once the thread is placed.
        wait_until_placed.recv().unwrap_err();
        work()
    })?;
    off_this_cpu(&thread);
    drop(placed);
    Ok(thread)
}

#[cfg(target_os = "linux")]
fn off_this_cpu<T>(thread: &JoinHandle<T>) {
    use std::os::unix::thread::JoinHandleExt;
    let set_size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: the set is plain data that the calls below only read and
    // write within its size; the thread has not ended (it waits to be
    // placed), so its handle still names it.
    unsafe {
        let here = libc::sched_getcpu();
        // CPU_CLR indexes the set unchecked: a CPU past its 1024 would panic.
        let in_set = usize::try_from(here).is_ok_and(|cpu| cpu < 8 * set_size);
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if !in_set || libc::sched_getaffinity(0, set_size, &mut allowed) != 0 {
            return;
        }
        libc::CPU_CLR(here as usize, &mut allowed);
        if libc::CPU_COUNT(&allowed) > 0 {
            // Best effort: a thread the kernel leaves where it is still
            // does its work, only later.
            libc::pthread_setaffinity_np(thread.as_pthread_t(), set_size, &allowed);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn off_this_cpu<T>(_thread: &JoinHandle<T>) {}

#[cfg(test)]
mod tests {
    use super::spawn_beside;

    #[test]
    fn the_work_runs_and_its_result_comes_back() {
        let thread = spawn_beside("anton-test", || 6 * 7).unwrap();
        assert_eq!(thread.join().unwrap(), 42);
    }

    /// How many CPUs the calling thread may use; `None` where the kernel
    /// knows more CPUs than a set holds.
    #[cfg(target_os = "linux")]
    fn allowed_cpus() -> Option<i32> {
        // SAFETY: the set is plain data, written within its size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            (libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) == 0).then(|| libc::CPU_COUNT(&set))
        }
    }

    /// Where this thread may use two CPUs or more, the new thread may use
    /// every one of them but the one it was started from.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_thread_keeps_off_the_cpu_it_was_started_from() {
        let Some(here) = allowed_cpus() else { return };
        let there = spawn_beside("anton-test", allowed_cpus).unwrap().join().unwrap();
        assert_eq!(there, Some(if here > 1 { here - 1 } else { here }));
    }

    /// A thread whose work is over at once must not leave the one that
    /// started it with fewer CPUs.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_that_ends_at_once_leaves_its_starter_where_it_was() {
        let before = allowed_cpus();
        for _ in 0..200 {
            spawn_beside("anton-test", || ()).unwrap().join().unwrap();
        }
        assert_eq!(allowed_cpus(), before);
    }
}
