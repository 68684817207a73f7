//! The scheduler's hand-out rules: destination and process limits, and the
//! batches local delivery takes.

use super::*;
use crate::mail::delivery::{DeliveryJob, JobRecipient};
use crate::queue::Store;

fn work(dest: &str, n: u32) -> Work {
    Work {
        job: DeliveryJob {
            queue_id: "5BTFLw54r6".into(),
            transport: "discard".into(),
            nexthop: dest.into(),
            sender: String::new(),
            arrival: 0,
            active_since: 0.0,
            envid: None,
            ret: None,
            client: Default::default(),
            recipients: vec![JobRecipient {
                index: n,
                address: format!("{n}@{dest}"),
                orig_rcpt: None,
                notify: None,
                orcpt: None,
                retry: false,
            }],
            content: Arc::new(Vec::new()),
        },
        dest: dest.into(),
        origin: Default::default(),
        backlog: false,
    }
}

#[test]
fn destination_concurrency_and_process_limits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("main.cf"),
        format!(
            "queue_directory = {}\ndiscard_destination_concurrency_limit = 2\n",
            d.display()
        ),
    )
    .unwrap();
    std::fs::write(d.join("master.cf"), "discard unix - - n - 3 discard\n").unwrap();
    let cfg = Arc::new(Config::load(d).unwrap());
    let store = Store::open(d).unwrap();
    let mut s = Scheduler::new(cfg, store.handle()).unwrap();
    for n in 0..5 {
        s.waiting.push_back(work("a", n));
    }
    for n in 5..10 {
        s.waiting.push_back(work("b", n));
    }
    s.dispatch();
    let busy = |s: &Scheduler, d: &str| s.dest_busy.get(&("discard".into(), d.into())).copied();
    assert_eq!(busy(&s, "a"), Some(2), "destination limit");
    assert_eq!(busy(&s, "b"), Some(1), "process limit 3 in all");
    assert_eq!(s.waiting.len(), 7);
    // Each answer makes room for one more job at the same destination.
    let ev = s.events_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let QmgrEvent::Done { ref dest, .. } = ev;
    let dest = dest.clone();
    s.event(ev);
    s.dispatch();
    assert_eq!(s.waiting.len(), 6);
    assert_eq!(busy(&s, &dest), Some(if dest == "a" { 2 } else { 1 }));
}

#[test]
fn batches_share_a_destination_evenly() {
    // No limit at the destination, or one job: one at a time.
    assert_eq!(batch_size(100, 0, 8), 1);
    assert_eq!(batch_size(1, 2, 8), 1);
    // An even share of the free places, capped.
    assert_eq!(batch_size(3, 2, 8), 2);
    assert_eq!(batch_size(10, 2, 8), 5);
    assert_eq!(batch_size(100, 2, 8), 8);
    assert_eq!(batch_size(100, 1, 1), 1);
    assert_eq!(batch_size(0, 2, 8), 1);
}

/// Local delivery takes a destination's backlog in batches: each batch is
/// one place at the destination, its jobs are answered one by one, and
/// only the last answer of a batch frees the place.
#[test]
fn local_jobs_go_out_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("main.cf"),
        format!(
            "queue_directory = {}\nlocal_destination_concurrency_limit = 2\n\
             alias_maps =\nmydestination = a\n",
            d.display()
        ),
    )
    .unwrap();
    std::fs::write(d.join("master.cf"), "local unix - n n - - local\n").unwrap();
    let cfg = Arc::new(Config::load(d).unwrap());
    let store = Store::open(d).unwrap();
    let mut s = Scheduler::new(cfg, store.handle()).unwrap();
    for n in 0..20 {
        let mut w = work("a", n);
        w.job.transport = "local".into();
        s.waiting.push_back(w);
    }
    s.dispatch();
    let key = ("local".to_string(), "a".to_string());
    assert_eq!(s.dest_busy.get(&key).copied(), Some(2));
    assert_eq!(s.registry.get("local").busy, 2);
    assert_eq!(s.waiting.len(), 4, "two batches of 8");
    // 16 answers, two of them last of their batch, in each batch's order.
    let mut last = 0;
    let mut order: HashMap<bool, Vec<u32>> = HashMap::new();
    for _ in 0..16 {
        let ev = s.events_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let QmgrEvent::Done {
            ref result,
            last: is_last,
            ..
        } = ev;
        assert_eq!(result.recipients.len(), 1);
        let index = result.recipients[0].index;
        order.entry(index < 8).or_default().push(index);
        if is_last {
            last += 1;
        }
        let before = s.dest_busy.get(&key).copied().unwrap_or(0);
        s.event(ev);
        let after = s.dest_busy.get(&key).copied().unwrap_or(0);
        assert_eq!(before - after, usize::from(is_last));
    }
    assert_eq!(last, 2);
    assert_eq!(order[&true], (0..8).collect::<Vec<_>>());
    assert_eq!(order[&false], (8..16).collect::<Vec<_>>());
    assert!(s.events_rx.try_recv().is_err());
    // The rest: an even share of the two free places.
    s.dispatch();
    assert_eq!(s.dest_busy.get(&key).copied(), Some(2));
    assert_eq!(s.waiting.len(), 0);
}
