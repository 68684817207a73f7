//! A small bounded answer cache keyed by (name, type); entries live for their TTL,
//! negative answers for the SOA minimum.
//!
//! Mirrors: nothing in Postfix, whose smtp processes rely on the system resolver's
//! cache; here one process holds every smtp worker, so a cache per resolver spares
//! the local recursive server the same MX and A questions for each message.
//! main.cf parameters: none (size and negative TTL come from `ResolverSettings`).
//! RFCs: RFC 1035 section 3.2.1 (TTL), RFC 2181 section 8 (TTL is 31 bits),
//! RFC 2308 sections 3 and 5 (negative caching: min(SOA TTL, SOA MINIMUM)).
//!
//! The clock is a parameter (`now`) so expiry is tested without sleeping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hickory_proto::rr::{Name, RecordType};

use super::resolver::Response;

/// Positive answers are kept at most a day, whatever their TTL says, so that a
/// changed MX is seen by a long-running daemon.
const MAX_POSITIVE_TTL: Duration = Duration::from_secs(86_400);
/// RFC 2308 section 5: negative answers SHOULD NOT be kept longer than 1-3 hours.
const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(10_800);

/// What a cache entry remembers about one question.
#[derive(Debug, Clone)]
pub enum Cached {
    /// A NOERROR reply; its answer section may hold no record of the type (NODATA).
    Reply(Response),
    /// NXDOMAIN.
    NxDomain { authentic: bool },
}

#[derive(Debug)]
struct Entry {
    expires: Instant,
    value: Cached,
}

/// Bounded TTL cache. Owned by one `Resolver`, so no lock: see `mod.rs`.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    entries: HashMap<(Name, RecordType), Entry>,
}

impl Cache {
    pub fn new(capacity: usize) -> Self {
        Cache {
            capacity,
            entries: HashMap::new(),
        }
    }

    /// The cached value for a question, unless absent or expired.
    pub fn get(&mut self, name: &Name, rtype: RecordType, now: Instant) -> Option<Cached> {
        let key = (name.to_lowercase(), rtype);
        match self.entries.get(&key) {
            Some(entry) if entry.expires > now => Some(entry.value.clone()),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Stores a value for `ttl`; a zero TTL means "do not cache" (RFC 1035 section
    /// 3.2.1). When full, expired entries go first, then the one nearest expiry.
    pub fn put(
        &mut self,
        name: &Name,
        rtype: RecordType,
        value: Cached,
        ttl: Duration,
        now: Instant,
    ) {
        let cap = match value {
            Cached::Reply(ref r) if !r.is_nodata() => MAX_POSITIVE_TTL,
            _ => MAX_NEGATIVE_TTL,
        };
        let ttl = ttl.min(cap);
        if self.capacity == 0 || ttl.is_zero() {
            return;
        }
        let key = (name.to_lowercase(), rtype);
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.entries.retain(|_, e| e.expires > now);
            if self.entries.len() >= self.capacity {
                let nearest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone());
                if let Some(k) = nearest {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(
            key,
            Entry {
                expires: now + ttl,
                value,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn nx() -> Cached {
        Cached::NxDomain { authentic: false }
    }

    #[test]
    fn entry_expires_at_its_ttl() {
        let mut cache = Cache::new(4);
        let t0 = Instant::now();
        cache.put(
            &name("a.test."),
            RecordType::MX,
            nx(),
            Duration::from_secs(10),
            t0,
        );
        assert!(cache
            .get(
                &name("A.Test."),
                RecordType::MX,
                t0 + Duration::from_secs(9)
            )
            .is_some());
        assert!(cache.get(&name("a.test."), RecordType::A, t0).is_none());
        assert!(cache
            .get(
                &name("a.test."),
                RecordType::MX,
                t0 + Duration::from_secs(10)
            )
            .is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn zero_ttl_and_zero_capacity_store_nothing() {
        let t0 = Instant::now();
        let mut cache = Cache::new(4);
        cache.put(&name("a.test."), RecordType::A, nx(), Duration::ZERO, t0);
        assert_eq!(cache.len(), 0);
        let mut off = Cache::new(0);
        off.put(
            &name("a.test."),
            RecordType::A,
            nx(),
            Duration::from_secs(5),
            t0,
        );
        assert_eq!(off.len(), 0);
    }

    #[test]
    fn negative_ttl_capped_per_rfc2308() {
        let t0 = Instant::now();
        let mut cache = Cache::new(4);
        cache.put(
            &name("a.test."),
            RecordType::A,
            nx(),
            Duration::from_secs(1 << 30),
            t0,
        );
        assert!(cache
            .get(&name("a.test."), RecordType::A, t0 + MAX_NEGATIVE_TTL)
            .is_none());
    }

    #[test]
    fn bounded_size_evicts_expired_then_nearest_expiry() {
        let t0 = Instant::now();
        let mut cache = Cache::new(2);
        cache.put(
            &name("short.test."),
            RecordType::A,
            nx(),
            Duration::from_secs(5),
            t0,
        );
        cache.put(
            &name("long.test."),
            RecordType::A,
            nx(),
            Duration::from_secs(50),
            t0,
        );
        cache.put(
            &name("new.test."),
            RecordType::A,
            nx(),
            Duration::from_secs(20),
            t0,
        );
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&name("short.test."), RecordType::A, t0).is_none());
        assert!(cache.get(&name("long.test."), RecordType::A, t0).is_some());
        let later = t0 + Duration::from_secs(30);
        cache.put(
            &name("x.test."),
            RecordType::A,
            nx(),
            Duration::from_secs(5),
            later,
        );
        assert!(cache
            .get(&name("long.test."), RecordType::A, later)
            .is_some());
        assert!(cache.get(&name("x.test."), RecordType::A, later).is_some());
    }
}
