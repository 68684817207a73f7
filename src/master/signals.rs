//! Signals as channel messages: SIGHUP asks for a reload, SIGTERM and SIGINT
//! for a stop that lets connections finish, SIGQUIT (`postfix abort`) for a
//! stop that does not wait.
//!
//! Mirrors Postfix master_sig.c (SIGHUP reload, SIGTERM "terminating on
//! signal"). Reads no parameters.

use crossbeam_channel::{unbounded, Receiver};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use super::error::MasterError;

/// What a signal asks the master to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Reload,
    /// Stop accepting, let connections finish for a grace period.
    Stop(i32),
    /// Stop now.
    Abort(i32),
}

/// Handlers registered before the daemon binds anything, so an early SIGTERM
/// is not lost; the forwarding thread starts later with `forward`.
pub struct Pending(Signals);

/// Registers the handlers (the default actions no longer apply from here on).
pub fn register() -> Result<Pending, MasterError> {
    Signals::new([SIGHUP, SIGTERM, SIGINT, SIGQUIT])
        .map(Pending)
        .map_err(MasterError::Signals)
}

/// Starts the thread that turns signals into `Event`s.
pub fn forward(pending: Pending) -> Result<Receiver<Event>, MasterError> {
    let (tx, rx) = unbounded();
    let mut signals = pending.0;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let ev = match sig {
                    SIGHUP => Event::Reload,
                    SIGQUIT => Event::Abort(sig),
                    other => Event::Stop(other),
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
        })
        .map_err(MasterError::Spawn)?;
    Ok(rx)
}
