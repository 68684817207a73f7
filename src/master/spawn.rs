//! Starting threads the way master(8) starts processes: a service thread that
//! panics is logged and started again; a connection thread that panics is
//! logged and ends alone.
//!
//! Mirrors Postfix master_spawn.c (restart of a service that died, with a pause
//! as its throttle) and msg_panic's `panic:` lines. Reads no parameters.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a service thread that panicked waits before it runs again, so a
/// thread that panics at once does not spin (master's `throttle_time` idea).
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// Logs every panic as `panic: ...` with its place, as Postfix's msg_panic(),
/// instead of Rust's message on a stderr nobody reads.
pub fn install_panic_logger() {
    std::panic::set_hook(Box::new(|info| {
        let what = payload_text(info.payload());
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        match info.location() {
            // "panic:" is Postfix's severity prefix; the log module maps it to
            // the syslog severity `crit`.
            Some(l) => ::log::info!("panic: thread {name}: {what} at {}:{}", l.file(), l.line()),
            None => ::log::info!("panic: thread {name}: {what}"),
        }
    }));
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Starts a long-lived service thread named `name` that runs `body` again
/// whenever it panics, until it returns normally.
pub fn supervised<F>(name: &str, body: F) -> io::Result<JoinHandle<()>>
where
    F: Fn() + Send + 'static,
{
    let label = name.to_string();
    std::thread::Builder::new()
        .name(label.clone())
        .spawn(move || loop {
            match catch_unwind(AssertUnwindSafe(&body)) {
                Ok(()) => return,
                Err(_) => {
                    ::log::warn!("thread {label} ended with a panic; restarting it");
                    std::thread::sleep(RESTART_PAUSE);
                }
            }
        })
}

/// Runs `body` in a new thread; a panic in it ends that thread only.
pub fn contained<F>(name: &str, body: F) -> io::Result<JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            // The panic logger already wrote the `panic:` line.
            let _ = catch_unwind(AssertUnwindSafe(body));
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn contained_panic_ends_only_its_thread() {
        let t = contained("boom", || panic!("connection went wrong")).unwrap();
        assert!(t.join().is_ok());
    }

    #[test]
    fn supervised_thread_is_restarted_after_a_panic() {
        let runs = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&runs);
        let t = supervised("flaky", move || {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first run fails");
            }
        })
        .unwrap();
        t.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
