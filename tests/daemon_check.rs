//! `postfix check` on files: private keys readable by others, the queue not
//! owned by mail_owner (as root), and indexed tables without their database.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::daemon::Instance;

fn check(inst: &Instance) -> String {
    let o = inst.postfix(&["check"]);
    o.stderr
}

#[test]
fn world_readable_key_is_reported() {
    let inst = Instance::new("");
    let key = inst.path().join("key.pem");
    std::fs::write(&key, "not really a key\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    inst.write_main(&format!(
        "smtpd_tls_cert_file = {d}/key.pem\nsmtpd_tls_key_file = {d}/key.pem",
        d = inst.path().display()
    ));
    let want = format!(
        "warning: smtpd_tls_key_file: private key file {} is readable by group or other users (mode 0644)",
        key.display()
    );
    let err = check(&inst);
    assert!(err.contains(&want), "{err}");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = check(&inst);
    assert!(!err.contains("private key file"), "{err}");

    std::fs::remove_file(&key).unwrap();
    let err = check(&inst);
    assert!(
        err.contains(&format!(
            "warning: smtpd_tls_key_file: cannot read private key file {}: No such file or directory",
            key.display()
        )),
        "{err}"
    );
}

#[test]
fn missing_indexed_table_is_reported() {
    let inst = Instance::new("");
    let source = inst.path().join("transport");
    std::fs::write(&source, "example.com smtp:[127.0.0.1]\n").unwrap();
    inst.write_main(&format!("transport_maps = hash:{}", source.display()));
    let err = check(&inst);
    assert!(
        err.contains(&format!(
            "transport_maps: database {s}.db of table hash:{s} does not exist",
            s = source.display()
        )),
        "{err}"
    );
}

#[test]
fn queue_not_owned_by_mail_owner_is_reported() {
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    let inst = Instance::new("");
    inst.start();
    assert_eq!(inst.postfix(&["stop"]).code, 0);
    let err = check(&inst);
    assert!(!err.contains("not owned by"), "{err}");
    let queue = inst.path().join("queue");
    nix::unistd::chown(&queue, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    let err = check(&inst);
    assert!(
        err.contains(&format!(
            "warning: not owned by postfix: {}",
            queue.display()
        )),
        "{err}"
    );
}
