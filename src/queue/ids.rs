//! Queue IDs: unique, time-ordered names for queued messages.
//!
//! Mirrors Postfix's long queue IDs (global/mail_queue.c, `enable_long_queue_ids`):
//! the arrival time in a vowel-free alphabet, so IDs never spell words and sort by
//! age. Reads no main.cf parameters. No RFC.
//!
//! Format: 10 characters from the 51-character alphabet
//! `0-9 B-Z b-y` without vowels (ASCII order, so string order is time order):
//! 6 digits of seconds since the Unix epoch (51^6 s lasts past the year 2500) then
//! 4 digits of microseconds (51^4 > 10^6). Postfix adds an inode number after a `z`
//! to make its IDs unique; Postern has one writer per queue instead, so the
//! generator hands out strictly increasing microsecond stamps: two IDs asked for in
//! the same microsecond, by any threads, get consecutive stamps. After a restart the
//! generator starts above the newest ID in the queue, so a clock that stepped back
//! cannot reuse an ID.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8; 51] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy";
const SECOND_DIGITS: usize = 6;
const MICRO_DIGITS: usize = 4;
/// Length of every queue ID.
pub const ID_LEN: usize = SECOND_DIGITS + MICRO_DIGITS;

/// A queue ID such as `4ZbCq3d8Fk`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId(String);

impl QueueId {
    /// Accepts text in the format above (as `postsuper -d ID` must check its input).
    pub fn parse(text: &str) -> Option<QueueId> {
        decode(text).map(|_| QueueId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Microseconds since the epoch that the ID encodes.
    pub fn micros(&self) -> u64 {
        decode(&self.0).unwrap_or(0)
    }

    fn from_micros(micros: u64) -> QueueId {
        let mut s = encode(micros / 1_000_000, SECOND_DIGITS);
        s.push_str(&encode(micros % 1_000_000, MICRO_DIGITS));
        QueueId(s)
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn encode(mut value: u64, width: usize) -> String {
    let mut digits = vec![ALPHABET[0]; width];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(value % 51) as usize];
        value /= 51;
    }
    digits.into_iter().map(char::from).collect()
}

fn decode_digits(text: &str) -> Option<u64> {
    text.bytes().try_fold(0u64, |acc, b| {
        let d = ALPHABET.iter().position(|&a| a == b)? as u64;
        Some(acc * 51 + d)
    })
}

fn decode(text: &str) -> Option<u64> {
    if text.len() != ID_LEN || !text.is_ascii() {
        return None;
    }
    let secs = decode_digits(&text[..SECOND_DIGITS])?;
    let micros = decode_digits(&text[SECOND_DIGITS..])?;
    if micros >= 1_000_000 {
        return None;
    }
    Some(secs * 1_000_000 + micros)
}

/// Hands out strictly increasing IDs to any number of threads, without a lock.
#[derive(Debug, Default)]
pub struct IdGenerator {
    last: AtomicU64,
}

impl IdGenerator {
    /// A generator whose IDs all sort after `newest` (the newest ID already in the
    /// queue, if any).
    pub fn starting_after(newest: Option<&QueueId>) -> IdGenerator {
        IdGenerator {
            last: AtomicU64::new(newest.map_or(0, QueueId::micros)),
        }
    }

    /// The next ID: the current time in microseconds, or one more than the last ID
    /// handed out when the clock has not moved on (or moved back).
    pub fn next_id(&self) -> QueueId {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let prev = self
            .last
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(now.max(last + 1))
            })
            .unwrap_or_else(|v| v); // ok: the closure always returns Some
        QueueId::from_micros(now.max(prev + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn alphabet_is_sorted_and_vowel_free() {
        assert!(ALPHABET.windows(2).all(|w| w[0] < w[1]));
        assert!(!ALPHABET.iter().any(|b| b"AEIOUaeiouz".contains(b)));
    }

    #[test]
    fn ids_round_trip_and_sort_by_time() {
        let a = QueueId::from_micros(1_700_000_000_000_001);
        let b = QueueId::from_micros(1_700_000_000_999_999);
        let c = QueueId::from_micros(1_700_000_001_000_000);
        assert!(a < b && b < c);
        assert_eq!(a.as_str().len(), ID_LEN);
        assert_eq!(QueueId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.micros(), 1_700_000_000_000_001);
        assert_eq!(QueueId::parse("short"), None);
        assert_eq!(QueueId::parse("AAAAAAAAAA"), None, "vowels are not digits");
        assert_eq!(QueueId::parse("000000yyyy"), None, "microseconds overflow");
    }

    #[test]
    fn many_threads_get_unique_increasing_ids() {
        let gen = Arc::new(IdGenerator::default());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let g = Arc::clone(&gen);
                std::thread::spawn(move || {
                    let ids: Vec<QueueId> = (0..2000).map(|_| g.next_id()).collect();
                    assert!(ids.windows(2).all(|w| w[0] < w[1]));
                    ids
                })
            })
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(all.insert(id), "duplicate queue id");
            }
        }
        assert_eq!(all.len(), 16_000);
    }

    #[test]
    fn restart_continues_after_newest_id_even_if_clock_is_behind() {
        let future = QueueId::from_micros(4_000_000_000_000_000);
        let gen = IdGenerator::starting_after(Some(&future));
        let next = gen.next_id();
        assert!(next > future);
        assert_eq!(next.micros(), future.micros() + 1);
    }
}
