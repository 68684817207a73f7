//! BDAT (CHUNKING): exactly the announced octets of each chunk, always read so
//! the session stays in step, then cleanup and the queue receipt after LAST.
//!
//! Mirrors Postfix smtpd.c `bdat_cmd` (Postfix 3.4+: "250 2.0.0 Ok: N bytes"
//! per chunk, "551 5.7.1 Null BDAT request", errors after the chunk is read).
//! Reads `message_size_limit`, `hopcount_limit`, `smtpd_forbid_bare_newline`,
//! `smtpd_min_data_rate`, `smtpd_per_request_deadline`. Implements RFC 3030
//! sections 2-4 (the chunk is consumed even when refused).

use super::bdat::BdatReader;
use super::data::DataError;
use super::data_cmd::{finish, limits, refuse};
use super::reply::{self, Reply};
use super::session::{Flow, Session};
use crate::mail::dsn::StatusCode;
use std::io::BufRead;

pub(super) fn bdat(s: &mut Session, size: u64, last: bool) -> Flow {
    let st = &s.svc.settings;
    s.reader
        .get_mut()
        .start_request(st.per_request_deadline, st.min_data_rate);
    let refusal = match &s.tx {
        None => Some(reply::NEED_RCPT),
        Some(tx) if tx.rcpts.is_empty() => Some(reply::NO_VALID_RECIPIENTS),
        Some(_) if size == 0 && !last => Some(reply::NULL_BDAT),
        Some(_) => None,
    };
    if let Some(r) = refusal {
        // RFC 3030 section 2: the chunk follows the command whatever the reply.
        if skip(&mut s.reader, size).is_err() {
            s.lost_connection(Some(0));
            return Flow::Close;
        }
        s.send(&r);
        return Flow::Continue;
    }
    let limits = limits(s);
    let Session { tx, reader, .. } = s;
    let Some(tx) = tx.as_mut() else {
        return Flow::Continue;
    };
    let (chunks, content) = tx
        .bdat
        .get_or_insert_with(|| (BdatReader::new(limits), Vec::new()));
    let read = chunks.read_chunk(reader, size, content);
    let received = content.len() as u64;
    if let Err(e) = read {
        return refuse(s, e, received);
    }
    if !last {
        let r = Reply::new(
            250,
            Some(StatusCode::new(2, 0, 0)),
            format!("Ok: {size} bytes"),
        );
        s.send(&r);
        return Flow::Continue;
    }
    let Some((chunks, mut content)) = s.tx.as_mut().and_then(|t| t.bdat.take()) else {
        return Flow::Continue;
    };
    let mut tail = Vec::new();
    match chunks.finish(&mut tail) {
        Ok(_) => {
            content.extend_from_slice(&tail);
            finish(s, content)
        }
        Err(e) => refuse(s, e, received),
    }
}

/// Reads and drops `n` octets.
fn skip<R: BufRead>(reader: &mut R, mut n: u64) -> Result<(), DataError> {
    while n > 0 {
        let buf = reader.fill_buf().map_err(DataError::Read)?;
        if buf.is_empty() {
            return Err(DataError::Disconnected);
        }
        let take = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        reader.consume(take);
        n -= take as u64;
    }
    Ok(())
}
