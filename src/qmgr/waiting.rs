//! The jobs waiting for a worker or for room at their destination: one FIFO
//! per (transport, destination), visited in the order the destinations first
//! had mail waiting, so handing out jobs costs a step per destination, not a
//! step per waiting job (a burst of thousands of messages to one destination
//! made every event walk all of them).
//!
//! Mirrors the per-destination queues of Postfix qmgr_queue.c and the round
//! robin over them in qmgr_transport.c. Reads nothing.

use std::collections::{HashMap, VecDeque};

use super::worker::Work;

/// (transport, destination).
pub type Key = (String, String);

#[derive(Default)]
pub struct Waiting {
    queues: HashMap<Key, VecDeque<Work>>,
    order: Vec<Key>,
    len: usize,
}

impl Waiting {
    fn key(w: &Work) -> Key {
        (w.job.transport.clone(), w.dest.clone())
    }

    /// Adds a job behind the others of its destination.
    pub fn push_back(&mut self, w: Work) {
        let key = Self::key(&w);
        let queue = self.queues.entry(key.clone()).or_insert_with(|| {
            self.order.push(key);
            VecDeque::new()
        });
        queue.push_back(w);
        self.len += 1;
    }

    /// Puts a job that could not be handed out back in front.
    pub fn push_front(&mut self, w: Work) {
        let key = Self::key(&w);
        let queue = self.queues.entry(key.clone()).or_insert_with(|| {
            self.order.push(key);
            VecDeque::new()
        });
        queue.push_front(w);
        self.len += 1;
    }

    /// The next job for `key`.
    pub fn pop(&mut self, key: &Key) -> Option<Work> {
        let queue = self.queues.get_mut(key)?;
        let w = queue.pop_front();
        if w.is_some() {
            self.len -= 1;
        }
        if queue.is_empty() {
            self.queues.remove(key);
            self.order.retain(|k| k != key);
        }
        w
    }

    /// Jobs still waiting for `key`.
    pub fn remaining(&self, key: &Key) -> usize {
        self.queues.get(key).map_or(0, VecDeque::len)
    }

    /// The destinations with jobs waiting, oldest first.
    pub fn keys(&self) -> Vec<Key> {
        self.order.clone()
    }

    pub fn len(&self) -> usize {
        self.len
    }
}
