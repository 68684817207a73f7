//! cleanup against a real queue: the hold queue for HOLD, header limits, and
//! the virtual alias limits.

use super::*;
use crate::mail::address::parse_mailbox;
use crate::mail::envelope::RcptParams;
use crate::maps::OpenFlags;
use crate::queue::{Reader, Store};

fn settings() -> Settings {
    Settings {
        myhostname: "mx.example.org".into(),
        mail_name: "Postfix".into(),
        header_size_limit: 20,
        always_add_missing_headers: false,
        alias_limits: virtual_alias::Limits {
            recursion: 3,
            expansion: 2,
        },
        alias_extensions: virtual_alias::Extensions {
            split: crate::mail::extension::Splitter::new("+", true, "double-bounce"),
            propagate: true,
        },
    }
}

fn submit(
    store: &Store,
    aliases: Option<&MapList>,
    hold: bool,
    rcpt: &str,
) -> Result<Durable, CleanupError> {
    let h = store.handle();
    let sender = Path::Null;
    let params = MailParams::default();
    let rcpts = vec![Recipient::new(
        parse_mailbox(rcpt).unwrap(),
        RcptParams::default(),
    )];
    cleanup(
        &settings(),
        aliases,
        &h,
        Submission {
            queue_id: h.new_id(),
            sender: &sender,
            params: &params,
            recipients: &rcpts,
            client_name: "unknown",
            client_addr: "192.0.2.1",
            client_rfc_addr: "192.0.2.1",
            helo: None,
            protocol: "SMTP",
            tls: None,
            tls_received_header: false,
            ask_ccert: false,
            local_client: false,
            hold,
            arrival: 1_398_793_360,
            content: b"Subject: a header longer than twenty bytes\r\n\r\nbody\r\n".to_vec(),
        },
    )
}

#[test]
fn hold_goes_to_the_hold_queue_and_long_headers_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let receipt = submit(&store, None, true, "bob@example.org").unwrap();
    let reader = Reader::open(dir.path()).unwrap();
    let held = reader.list_queue(QueueName::Hold).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(&held[0].queue_id, receipt.queue_id());
    let m = reader.load(receipt.queue_id()).unwrap().unwrap();
    let text = String::from_utf8_lossy(&m.content).into_owned();
    assert!(
        text.starts_with("Received: from unknown (unknown [192.0.2.1])\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\nSubject: a header lo\r\n\r\nbody\r\n"),
        "{text}"
    );
}

#[test]
fn alias_loops_and_fan_out_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("virtual");
    std::fs::write(
        &table,
        "loop@example.org loop2@example.org\nloop2@example.org loop@example.org\n\
         fan@example.org a@x.example, b@x.example, c@x.example\n",
    )
    .unwrap();
    let maps = MapList::open(
        &format!("texthash:{}", table.display()),
        OpenFlags::default(),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("q")).unwrap();
    let store = Store::open(&dir.path().join("q")).unwrap();
    let e = submit(&store, Some(&maps), false, "loop@example.org").unwrap_err();
    assert!(e.to_string().contains("nesting"), "{e}");
    let e = submit(&store, Some(&maps), false, "fan@example.org").unwrap_err();
    assert!(e.to_string().contains("expansion size"), "{e}");
    assert!(Reader::open(&dir.path().join("q"))
        .unwrap()
        .list()
        .unwrap()
        .is_empty());
}
