//! DATA reader tests: dot-stuffing, the SMTP smuggling vectors, size and hop
//! limits, each fed through a tiny buffer so sequences straddle reads.

use super::*;
use std::io::{BufReader, Cursor, Read};

const REJECT: DataLimits = DataLimits {
    message_size_limit: 10_240_000,
    hopcount_limit: 50,
    bare_newline: BareNewline::Reject,
};

const NORMALIZE: DataLimits = DataLimits {
    bare_newline: BareNewline::Normalize,
    ..REJECT
};

/// Runs the reader; returns its result, the content and what is left unread.
/// The input goes through a 2-byte buffer (every sequence straddles reads) and
/// through one that holds it whole (runs inside a line are copied in one
/// piece); both must agree.
fn run(input: &[u8], limits: &DataLimits) -> (Result<DataSummary, DataError>, Vec<u8>, Vec<u8>) {
    let through = |capacity| {
        let mut r = BufReader::with_capacity(capacity, Cursor::new(input.to_vec()));
        let mut sink = Vec::new();
        let result = read_data(&mut r, &mut sink, limits);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        (result, sink, rest)
    };
    let small = through(2);
    let whole = through(input.len().max(1));
    assert_eq!(format!("{:?}", small.0), format!("{:?}", whole.0));
    assert_eq!(small.2, whole.2, "left unread");
    // After a refusal the sink holds whatever came before the problem's
    // chunk (discarded by the caller); only accepted content must agree.
    if small.0.is_ok() {
        assert_eq!(small.1, whole.1, "content");
    }
    small
}

#[test]
fn plain_message_and_dot_unstuffing() {
    let input = b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n";
    let (r, content, rest) = run(input, &REJECT);
    let s = r.unwrap();
    assert_eq!(content, b"Subject: x\r\n\r\n.leading dot\r\n");
    assert_eq!(s.size, content.len() as u64);
    assert_eq!(rest, b"QUIT\r\n", "nothing after the end is consumed");
    let (_, content, _) = run(b"a.b\r\n..\r\n.x\r\n.\r\n", &REJECT);
    assert_eq!(content, b"a.b\r\n.\r\nx\r\n");
}

#[test]
fn dot_crlf_at_start_is_an_empty_message() {
    let (r, content, rest) = run(b".\r\nMAIL FROM:<>\r\n", &REJECT);
    assert_eq!(r.unwrap().size, 0);
    assert!(content.is_empty());
    assert_eq!(rest, b"MAIL FROM:<>\r\n");
}

/// Each smuggling vector: under the default (reject) the message is refused after
/// the real end of data; under normalize it is not an end either. In both cases
/// the "smuggled" command after it is read as content, never left as a command.
#[test]
fn smuggling_vectors_never_end_the_data() {
    let vectors: [(&[u8], &str); 5] = [
        (b"\n.\n", "bare <LF> received"),
        (b"\n.\r\n", "bare <LF> received"),
        (b"\r.\r\n", "bare <CR> received"),
        (b"\r\n.\n", "bare <LF> received"),
        (b"\r\n.\r", "bare <CR> received"),
    ];
    for (end, expect) in vectors {
        let mut input = b"Subject: a\r\n\r\nbody".to_vec();
        input.extend_from_slice(end);
        input.extend_from_slice(b"MAIL FROM:<evil@example.org>\r\n\r\n.\r\nQUIT\r\n");
        let (r, content, rest) = run(&input, &REJECT);
        let e = r.unwrap_err();
        assert_eq!(e.to_string(), expect, "vector {end:?}");
        assert_eq!(
            e.reply(550).unwrap().log_text(),
            format!("550 5.5.2 Error: {expect}")
        );
        let stored = String::from_utf8_lossy(&content).into_owned();
        assert!(!stored.contains("evil"), "stored after refusal: {end:?}");
        assert_eq!(rest, b"QUIT\r\n", "vector {end:?}");

        let (r, content, rest) = run(&input, &NORMALIZE);
        if expect.contains("<LF>") {
            r.unwrap();
            let text = String::from_utf8_lossy(&content).into_owned();
            assert!(
                text.contains("MAIL FROM:<evil@example.org>"),
                "{end:?}: {text:?}"
            );
            assert!(!text.contains("\n\n") && !text.contains("\r\r"), "{text:?}");
            assert_eq!(rest, b"QUIT\r\n");
        }
    }
}

#[test]
fn normalize_unstuffs_after_bare_lf_but_only_crlf_dot_crlf_ends() {
    let input = b"a\n..b\n.\r\nc\r\n.\r\n";
    let (r, content, _) = run(input, &NORMALIZE);
    r.unwrap();
    assert_eq!(content, b"a\r\n.b\r\n\r\nc\r\n");
}

#[test]
fn eof_before_end_of_data_is_a_disconnect() {
    let (r, _, _) = run(b"Subject: a\r\n\r\nbody\n.\n", &NORMALIZE);
    assert!(matches!(r, Err(DataError::Disconnected)));
    let (r, _, _) = run(b"Subject: a\r\n\r\nbody\r\n.", &REJECT);
    assert!(matches!(r, Err(DataError::Disconnected)));
    assert!(DataError::Disconnected.reply(550).is_none());
}

#[test]
fn nul_is_refused_in_both_modes() {
    for limits in [REJECT, NORMALIZE] {
        let (r, content, _) = run(b"a\0b\r\n.\r\n", &limits);
        let e = r.unwrap_err();
        assert!(matches!(e, DataError::Nul));
        assert_eq!(
            e.reply(550).unwrap().log_text(),
            "550 5.6.0 Error: NUL character in message content"
        );
        assert!(!content.contains(&b'b'), "stored after refusal");
    }
}

#[test]
fn size_limit_reads_to_the_end_then_552() {
    let limits = DataLimits {
        message_size_limit: 100,
        ..REJECT
    };
    let mut input = vec![b'x'; 1000];
    input.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
    let (r, content, rest) = run(&input, &limits);
    let e = r.unwrap_err();
    assert!(matches!(e, DataError::TooBig { limit: 100 }));
    assert_eq!(
        e.reply(550).unwrap().log_text(),
        "552 5.3.4 Message size exceeds fixed limit"
    );
    assert!(content.len() <= 100, "stored {} bytes", content.len());
    assert_eq!(rest, b"QUIT\r\n");
    let exact = [vec![b'y'; 98], b"\r\n.\r\n".to_vec()].concat();
    assert_eq!(run(&exact, &limits).0.unwrap().size, 100);
    let unlimited = DataLimits {
        message_size_limit: 0,
        ..REJECT
    };
    assert!(run(&input, &unlimited).0.is_ok());
}

#[test]
fn hop_count_only_in_headers() {
    let limits = DataLimits {
        hopcount_limit: 2,
        ..REJECT
    };
    let two =
        b"Received: a\r\nreceived: b\r\n\tcontinued\r\nSubject: x\r\n\r\nReceived: body\r\n.\r\n";
    assert_eq!(run(two, &limits).0.unwrap().hops, 2);
    let three = b"Received: a\r\nRECEIVED: b\r\nReceived:c\r\n\r\n.\r\n";
    let e = run(three, &limits).0.unwrap_err();
    assert!(matches!(e, DataError::TooManyHops { hops: 3, limit: 2 }));
    assert_eq!(e.reply(550).unwrap().log_text(), "554 5.4.0 Too many hops");
    let not = b"X-Received: a\r\nReceived-SPF: x\r\nReceivedx: y\r\n\r\n.\r\n";
    assert_eq!(run(not, &limits).0.unwrap().hops, 0);
}

#[test]
fn large_message_streams_through_small_buffers() {
    let line = b"0123456789012345678901234567890123456789012345678901234567890123456789\r\n";
    let mut input = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..20_000 {
        input.extend_from_slice(line);
    }
    input.extend_from_slice(b".\r\n");
    let mut r = BufReader::with_capacity(4096, Cursor::new(input.clone()));
    let mut sink = Vec::new();
    let s = read_data(&mut r, &mut sink, &REJECT).unwrap();
    assert_eq!(sink.len(), input.len() - 3);
    assert_eq!(s.size as usize, sink.len());
}

#[test]
fn sink_failure_is_reported() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "no space"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut r = Cursor::new(b"a\r\n.\r\n".to_vec());
    let e = read_data(&mut r, &mut Full, &REJECT).unwrap_err();
    assert!(matches!(e, DataError::Sink(_)));
    assert_eq!(
        e.reply(550).unwrap().log_text(),
        "451 4.3.0 Error: queue file write error"
    );
}
