//! What a 250 leaves in the queue: envelope, Received header, added headers for
//! local clients, virtual alias rewriting with duplicate elimination.

use super::Server;

fn send_one(srv: &Server, rcpts: &[&str], content: &str) -> String {
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-",
    );
    c.reply();
    c.dialogue(
        "c -> MAIL FROM:<alice@sender.example> RET=HDRS ENVID=abc
         s <- 250 2.1.0 Ok",
    );
    for r in rcpts {
        c.send(format!("RCPT TO:<{r}> NOTIFY=FAILURE\r\n").as_bytes());
        assert_eq!(c.reply(), "250 2.1.5 Ok");
    }
    c.dialogue("c -> DATA\ns <- 354");
    c.send(content.as_bytes());
    c.send(b".\r\n");
    let r = c.reply();
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    r.rsplit(' ').next().unwrap().to_string()
}

#[test]
fn stored_message_has_envelope_received_and_added_headers() {
    let srv = Server::start("");
    let id = send_one(
        &srv,
        &["bob@example.org", "carol@example.org"],
        "Subject: x\r\n\r\nbody\r\n",
    );
    let m = &srv.messages()[0];
    assert_eq!(m.entry.queue_id.to_string(), id);
    assert_eq!(m.entry.sender, "alice@sender.example");
    assert_eq!(m.entry.recipients.len(), 2);
    assert_eq!(m.envid.as_deref(), Some("abc"));
    assert!(m.entry.recipients[0].notify.is_some());
    assert_eq!(m.entry.size, m.content.len() as u64);
    let text = String::from_utf8_lossy(&m.content).into_owned();
    // Two recipients: no "for" clause, the date on its own line.
    assert!(text.starts_with(&format!(
        "Received: from client.example (localhost [127.0.0.1])\r\n\tby mx.example.org (Postfix) with ESMTP id {id};\r\n\t"
    )), "{text}");
    // 127.0.0.1 is an interface address: local_header_rewrite_clients applies.
    assert!(
        text.contains("Message-Id: <") && text.contains(&format!(".{id}@mx.example.org>\r\n")),
        "{text}"
    );
    assert!(text.contains("\r\nDate: "), "{text}");
    assert!(text.ends_with("\r\n\r\nbody\r\n"), "{text}");
}

#[test]
fn existing_message_id_is_kept_and_logged() {
    let srv = Server::start("");
    let id = send_one(
        &srv,
        &["bob@example.org"],
        "Message-ID: <m1@client>\r\nDate: x\r\n\r\nb\r\n",
    );
    let text = String::from_utf8_lossy(&srv.messages()[0].content).into_owned();
    assert_eq!(text.matches("Message-I").count(), 1, "{text}");
    assert!(srv.logged(&format!("{id}: message-id=<m1@client>")));
}

#[test]
fn virtual_alias_rewriting_keeps_the_original_and_drops_duplicates() {
    let srv = Server::start("");
    let table = srv.dir.path().join("virtual");
    std::fs::write(
        &table,
        "bob@example.org carol@example.org, dave@example.org\nteam@example.org carol@example.org\n",
    )
    .unwrap();
    let srv2 = Server::start(&format!(
        "virtual_alias_maps = texthash:{}",
        table.display()
    ));
    let _ = srv;
    send_one(
        &srv2,
        &["bob@example.org", "team@example.org", "erin@example.org"],
        "Subject: v\r\n\r\nb\r\n",
    );
    let m = &srv2.messages()[0];
    let got: Vec<(String, Option<String>)> = m
        .entry
        .recipients
        .iter()
        .map(|r| (r.address.clone(), r.orig_rcpt.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("carol@example.org".into(), Some("bob@example.org".into())),
            ("dave@example.org".into(), Some("bob@example.org".into())),
            ("carol@example.org".into(), Some("team@example.org".into())),
            ("erin@example.org".into(), None),
        ]
    );
}

#[test]
fn queue_write_error_acknowledges_nothing() {
    let mut srv = Server::start("");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> HELO client.example
         s <- 250
         c -> MAIL FROM:<a@b.example>
         s <- 250
         c -> RCPT TO:<bob@example.org>
         s <- 250
         c -> DATA
         s <- 354",
    );
    srv.stop_queue();
    c.dialogue(
        "c -> Subject: x
         c ->
         c -> body
         c -> .
         s <- 451 4.3.0 Error: queue file write error
         c -> QUIT
         s <- 221",
    );
    assert!(srv.messages().is_empty());
}

#[test]
fn no_headers_added_for_remote_clients_and_smtputf8_protocol() {
    // An empty local_header_rewrite_clients makes every client remote.
    let srv = Server::start("local_header_rewrite_clients =");
    let mut c = srv.connect();
    c.dialogue(
        "s <- 220
         c -> EHLO client.example
         s <- 250-",
    );
    c.reply();
    c.dialogue(
        "c -> MAIL FROM:<a@b.example> SMTPUTF8
         s <- 250 2.1.0 Ok
         c -> RCPT TO:<bob@example.org>
         s <- 250 2.1.5 Ok
         c -> DATA
         s <- 354
         c -> Subject: remote
         c ->
         c -> b
         c -> .
         s <- 250 2.0.0 Ok: queued as",
    );
    let m = &srv.messages()[0];
    assert_eq!(m.protocol, "UTF8SMTP");
    assert!(m.smtputf8);
    let text = String::from_utf8_lossy(&m.content).into_owned();
    assert!(
        !text.contains("Message-Id:") && !text.contains("\r\nDate:"),
        "{text}"
    );
    assert!(text.contains(" with UTF8SMTP id "), "{text}");
    assert!(srv.logged(": message-id=<>"), "{:#?}", srv.log());
}
