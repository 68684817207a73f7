//! Runs a file delivery with the recipient's file-system identity when the
//! process is root: on Linux the calling thread's fsuid/fsgid and supplementary
//! groups are switched for the duration of one delivery and switched back.
//!
//! Mirrors Postfix util/set_eugid.c as local(8) and virtual(8) use it around
//! each mailbox, Maildir and file delivery. Reads no parameters.
//!
//! Why per thread: Postern delivers from several threads of one process, and
//! glibc broadcasts setuid/setgid/setgroups to every thread, which would change
//! the rights of all daemons at once. The Linux fsuid/fsgid are per-thread kernel
//! attributes (glibc does not broadcast `setfsuid`), and the raw `setgroups`
//! system call changes only the calling thread. Elsewhere (FreeBSD) there is no
//! per-thread identity: a root process delivers as root and gives new mailbox
//! files to the recipient (mbox.rs `fchown`); the privileged helper is the way
//! to full rights separation there. When the process is not root, nothing is
//! switched: the delivery runs as the current user.

use super::exec::Identity;

/// The identity could not be taken; the delivery is deferred, never made as
/// root instead.
#[derive(Debug, thiserror::Error)]
#[error("cannot set file system identity to uid {uid} gid {gid}")]
pub struct PrivsError {
    pub uid: u32,
    pub gid: u32,
}

/// Runs `f` with `id`'s file-system rights when we are root on Linux.
pub fn as_user<T>(id: &Identity, f: impl FnOnce() -> T) -> Result<T, PrivsError> {
    if !nix::unistd::geteuid().is_root() || id.uid == 0 {
        return Ok(f());
    }
    imp::with_fs_identity(id.uid, id.gid, f)
}

#[cfg(target_os = "linux")]
mod imp {
    use nix::unistd::{setfsgid, setfsuid, Gid, Uid};

    /// Restores root's fsuid, fsgid and groups when dropped, also on unwinding.
    struct Restore {
        groups: Vec<libc::gid_t>,
    }

    impl Drop for Restore {
        fn drop(&mut self) {
            // fsuid 0 first: it gives back the capabilities needed below.
            setfsuid(Uid::from_raw(0));
            setfsgid(Gid::from_raw(0));
            set_thread_groups(&self.groups);
        }
    }

    pub fn with_fs_identity<T>(
        uid: u32,
        gid: u32,
        f: impl FnOnce() -> T,
    ) -> Result<T, super::PrivsError> {
        let groups = nix::unistd::getgroups()
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default();
        let _restore = Restore { groups };
        // Groups first: after fsuid changes the thread keeps CAP_SETGID, but
        // doing it first keeps the order of set_eugid.c (groups, gid, uid).
        set_thread_groups(&[gid]);
        setfsgid(Gid::from_raw(gid));
        setfsuid(Uid::from_raw(uid));
        // setfsuid() reports the previous value, never an error: a second call
        // tells whether the first one took.
        let (now_uid, now_gid) = (
            setfsuid(Uid::from_raw(uid)).as_raw(),
            setfsgid(Gid::from_raw(gid)).as_raw(),
        );
        if now_uid != uid || now_gid != gid {
            return Err(super::PrivsError { uid, gid });
        }
        Ok(f())
    }

    /// setgroups(2) for the calling thread only: the raw system call, not
    /// glibc's wrapper, which would apply it to every thread.
    fn set_thread_groups(groups: &[libc::gid_t]) {
        // SAFETY: the pointer and length describe a live slice of gid_t for the
        // duration of the call; the kernel only reads it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_setgroups,
                groups.len() as libc::size_t,
                groups.as_ptr(),
            )
        };
        if rc != 0 {
            log::warn!("setgroups: {}", std::io::Error::last_os_error());
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    /// No per-thread identity on this system: run as the process user.
    pub fn with_fs_identity<T>(
        _uid: u32,
        _gid: u32,
        f: impl FnOnce() -> T,
    ) -> Result<T, super::PrivsError> {
        Ok(f())
    }
}
