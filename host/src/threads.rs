//! Threads that work beside the one that starts them.

use std::io;
use std::thread::JoinHandle;

/// Start `work` on a thread named `name`, on another CPU than this thread's
/// where there is one. Linux may queue a new thread on its parent's CPU, and
/// a thread that ran in the last half millisecond counts as cache-hot and is
/// not moved to an idle CPU: so the two took turns on one CPU while the
/// other idled, and `anton sessions` waited 1.2 ms of its 5 for the store's
/// thread ahead.
pub fn spawn_beside<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> io::Result<JoinHandle<T>> {
    let thread = std::thread::Builder::new().name(name.into()).spawn(work)?;
    off_this_cpu(&thread);
    Ok(thread)
}

#[cfg(target_os = "linux")]
fn off_this_cpu<T>(thread: &JoinHandle<T>) {
    use std::os::unix::thread::JoinHandleExt;
    let set_size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: the set is plain data that the calls below only read and
    // write within its size, and the handle names a thread not yet joined.
    unsafe {
        let here = libc::sched_getcpu();
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if here < 0 || libc::sched_getaffinity(0, set_size, &mut allowed) != 0 {
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

    /// Where this process may use two CPUs or more, the thread may use
    /// every one of them but the one it was started from.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_thread_keeps_off_the_cpu_it_was_started_from() {
        fn allowed_cpus() -> i32 {
            // SAFETY: the set is plain data, written within its size.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                assert_eq!(libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set), 0);
                libc::CPU_COUNT(&set)
            }
        }
        let here = allowed_cpus();
        let there = spawn_beside("anton-test", allowed_cpus).unwrap().join().unwrap();
        assert_eq!(there, if here > 1 { here - 1 } else { here });
    }
}
