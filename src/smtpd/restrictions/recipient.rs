//! reject_unlisted_recipient and reject_unlisted_sender: an address in one of
//! our domains must exist in the table for its class (local_recipient_maps,
//! virtual_alias_maps, virtual_mailbox_maps, relay_recipient_maps).
//!
//! Mirrors Postfix `smtpd/smtpd_check.c` check_rcpt_maps()/check_recipient_rcpt_maps()
//! and the key order of `global/mail_addr_find.c` (full address, address
//! without extension, local part for our own domains, `@domain`). Reads
//! `local_recipient_maps`, `virtual_alias_maps`, `virtual_mailbox_maps`,
//! `relay_recipient_maps`, `recipient_delimiter`, `show_user_unknown_table_name`
//! and the `unknown_*_reject_code` parameters.

use crate::config::Config;
use crate::maps::OpenFlags;

use super::evaluate::{Eval, Outcome};
use super::relay::Class;
use super::reply::{dsn_fix, make, st};
use super::{names, RestrictionError, TableList};

pub struct RecipientMaps {
    local: TableList,
    virtual_alias: TableList,
    virtual_mailbox: TableList,
    relay: TableList,
    show_table: bool,
}

impl RecipientMaps {
    pub fn new(cfg: &Config, flags: OpenFlags) -> Result<RecipientMaps, RestrictionError> {
        Ok(RecipientMaps {
            local: TableList::open(cfg, names::LOCAL_RECIPIENT_MAPS, flags)?,
            virtual_alias: TableList::open(cfg, names::VIRTUAL_ALIAS_MAPS, flags)?,
            virtual_mailbox: TableList::open(cfg, names::VIRTUAL_MAILBOX_MAPS, flags)?,
            relay: TableList::open(cfg, names::RELAY_RECIPIENT_MAPS, flags)?,
            show_table: cfg.get_bool(names::SHOW_UNKNOWN_TABLE)?,
        })
    }
}

/// mail_addr_find() keys: `user+ext@domain`, `user@domain`, then for our own
/// domains `user+ext`, `user`, and finally `@domain`.
fn addr_keys(local: &str, domain: &str, delim: &str, ours: bool) -> Vec<String> {
    let base = (!delim.is_empty())
        .then(|| {
            local
                .find(|c| delim.contains(c))
                .filter(|&i| i > 0)
                .map(|i| &local[..i])
        })
        .flatten();
    let mut keys = vec![format!("{local}@{domain}")];
    keys.extend(base.map(|b| format!("{b}@{domain}")));
    if ours {
        keys.push(local.to_string());
        keys.extend(base.map(str::to_string));
    }
    keys.push(format!("@{domain}"));
    keys
}

/// Checks `addr` (the recipient or sender as given) against the table of
/// its class; `class` is the reply class ("Recipient address"/"Sender address").
pub fn check(e: &mut Eval, addr: &str, class: &'static str) -> Outcome {
    let r = e.r;
    let resolved = match r.resolver.resolve(addr) {
        Ok(res) => res,
        Err(err) => return e.lookup_failed("resolve", addr, &err),
    };
    let maps = &r.rcpt_maps;
    let (table, code, what) = match resolved.class {
        Class::Local => (&maps.local, r.codes.unknown_local, "local recipient"),
        Class::VirtualAlias => (&maps.virtual_alias, r.codes.unknown_valias, "virtual alias"),
        Class::VirtualMailbox => (
            &maps.virtual_mailbox,
            r.codes.unknown_vmailbox,
            "virtual mailbox",
        ),
        Class::Relay => (&maps.relay, r.codes.unknown_relay, "relay recipient"),
        Class::Default => return Outcome::Dunno,
    };
    // Postfix: an empty local_recipient_maps (or relay_recipient_maps) turns
    // the check off for that class; alias and mailbox domains always need one.
    if table.is_empty() && matches!(resolved.class, Class::Local | Class::Relay) {
        return Outcome::Dunno;
    }
    let ours = resolved.class == Class::Local;
    let keys = addr_keys(&resolved.local, &resolved.domain, &r.delimiter, ours);
    // Any address with a virtual alias exists, whatever its class.
    for t in [&maps.virtual_alias, table] {
        match t.find_first(&keys) {
            Ok(Some(_)) => return Outcome::Dunno,
            Ok(None) => {}
            Err(err) => return e.lookup_failed(t.param, addr, &err),
        }
    }
    let table_name = if maps.show_table {
        format!(" in {what} table")
    } else {
        String::new()
    };
    e.reject(make(
        code,
        dsn_fix(st("5.1.1"), class),
        format!("<{addr}>: {class} rejected: User unknown{table_name}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::addr_keys;

    #[test]
    fn keys_in_mail_addr_find_order() {
        assert_eq!(
            addr_keys("joe+x", "localhost", "+", true),
            [
                "joe+x@localhost",
                "joe@localhost",
                "joe+x",
                "joe",
                "@localhost"
            ]
        );
        assert_eq!(
            addr_keys("joe", "example.com", "", false),
            ["joe@example.com", "@example.com"]
        );
    }
}
