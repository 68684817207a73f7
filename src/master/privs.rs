//! Privileges: who `mail_owner` is, handing the queue and data directories to
//! it, and dropping the whole process to it once the root-only work is done.
//!
//! Mirrors Postfix mail_params.c (check_mail_owner), util/set_ugid.c and the
//! ownership post-install gives the queue. Reads `mail_owner`.

use std::path::Path;

use nix::unistd::{Gid, Uid, User};

use super::error::MasterError;
use super::names;
use crate::config::Config;

/// The unprivileged account network-facing threads run as.
#[derive(Debug, Clone)]
pub struct Owner {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
}

/// Is this process root (so it must bind, then drop)?
pub fn is_root() -> bool {
    Uid::effective().is_root()
}

/// Looks up `mail_owner`, refusing root or a missing user with Postfix's words.
pub fn mail_owner(cfg: &Config) -> Result<Owner, MasterError> {
    let name = cfg.get(names::MAIL_OWNER);
    let main_cf = cfg.dir().join("main.cf");
    let user = User::from_name(&name)
        .map_err(|e| MasterError::UserLookup {
            user: name.clone(),
            source: e.into(),
        })?
        .ok_or_else(|| MasterError::UnknownOwner {
            main_cf: main_cf.clone(),
            user: name.clone(),
        })?;
    if user.uid.is_root() {
        return Err(MasterError::PrivilegedOwner {
            main_cf,
            user: name,
        });
    }
    if user.gid.as_raw() == 0 {
        return Err(MasterError::PrivilegedGroup {
            main_cf,
            user: name,
        });
    }
    Ok(Owner {
        name,
        uid: user.uid,
        gid: user.gid,
    })
}

/// Gives `path` to the owner (not following a symlink put there by someone else).
pub fn chown(path: &Path, owner: &Owner) -> Result<(), MasterError> {
    nix::unistd::fchownat(
        None,
        path,
        Some(owner.uid),
        Some(owner.gid),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| MasterError::Chown {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

/// Drops every thread of the process to the owner for good: supplementary
/// groups first, then the group, then the user, as set_ugid.c. With glibc
/// `setresuid` reaches every thread; on FreeBSD credentials are per process.
pub fn drop_to(owner: &Owner) -> Result<(), MasterError> {
    let err = |e: nix::errno::Errno| MasterError::Drop {
        user: owner.name.clone(),
        source: e.into(),
    };
    nix::unistd::setgroups(&[owner.gid]).map_err(err)?;
    nix::unistd::setresgid(owner.gid, owner.gid, owner.gid).map_err(err)?;
    nix::unistd::setresuid(owner.uid, owner.uid, owner.uid).map_err(err)?;
    // A drop that can be undone is no drop (set_ugid.c checks the same way).
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(MasterError::Drop {
            user: owner.name.clone(),
            source: std::io::Error::other("root privileges could be regained"),
        });
    }
    Ok(())
}

/// Forks the privileged local/virtual delivery helper (local/helper.rs) while
/// the process is root and single-threaded; `Ok(None)` when not root. Call it
/// after the configuration is loaded and before `signals::register()`, the
/// queue store or any listener thread; hand the client to
/// `LocalContext::with_helper` and `VirtualContext::with_helper`.
pub fn spawn_delivery_helper(
    config_dir: &Path,
) -> Result<Option<crate::local::helper::HelperClient>, crate::local::helper::HelperError> {
    crate::local::helper::spawn(config_dir, delivery_agents)
}

/// The helper's agents for one configuration (the [`Handler`] the master
/// gives the helper).
///
/// [`Handler`]: crate::local::helper::Handler
pub fn delivery_agents(cfg: Config) -> Box<dyn crate::local::helper::Agents> {
    Box::new(HelperAgents {
        cfg,
        local: None,
        virtual_: None,
    })
}

/// Each agent's context is built at its first job and kept; one that cannot
/// be built (a missing alias table, say) defers the job and is tried again at
/// the next, so `newaliases` mends it without a reload.
struct HelperAgents {
    cfg: Config,
    local: Option<crate::local::agent::LocalContext>,
    virtual_: Option<crate::virtual_::agent::VirtualContext>,
}

/// The context in `slot`, built first when there is none.
fn built<T, E>(slot: &mut Option<T>, build: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
    match slot {
        Some(ctx) => Ok(ctx),
        None => build().map(|ctx| &*slot.insert(ctx)),
    }
}

impl crate::local::helper::Agents for HelperAgents {
    fn deliver(
        &mut self,
        agent: crate::local::wire::Agent,
        job: &crate::mail::delivery::DeliveryJob,
    ) -> crate::mail::delivery::DeliveryResult {
        use crate::local::agent::LocalContext;
        use crate::local::wire::Agent;
        use crate::virtual_::agent::VirtualContext;
        let failed = |e: &dyn std::fmt::Display| {
            ::log::warn!("{e}");
            crate::local::helper::defer_job(job, "mail system configuration error")
        };
        match agent {
            Agent::Local => match built(&mut self.local, || LocalContext::new(&self.cfg)) {
                Ok(ctx) => crate::local::agent::deliver(job, ctx),
                Err(e) => failed(&e),
            },
            Agent::Virtual => match built(&mut self.virtual_, || VirtualContext::new(&self.cfg)) {
                Ok(ctx) => crate::virtual_::agent::deliver(job, ctx),
                Err(e) => failed(&e),
            },
        }
    }
}
