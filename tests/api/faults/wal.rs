//! The SQLite WAL stays bounded under sustained writes while readers read, is written again in
//! place rather than cut and regrown, and shrinks once the writes stop. Before issue 13, the
//! background TRUNCATE checkpoint was starved by the ingest writer (it re-takes the write lock at
//! once after each commit), so the log grew with the load; then the writer cut it itself. Asserted
//! on the WAL file's size in bytes, sampled while deliveries arrive from many clients at once and
//! a reader lists bookings through the same pool the dashboard uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

/// `CALBOOK_WAL_TRUNCATE_MIB` for this test: 1 MiB, so a short load is many times the limit.
const LIMIT: u64 = 1024 * 1024;
/// The bound: `journal_size_limit`, four times the truncation limit (64 MiB by default).
const BOUND: u64 = 4 * LIMIT;
const CLIENTS: usize = 16;
const PER_CLIENT: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_stays_under_its_bound_in_place_while_a_reader_reads_and_shrinks_after_the_load() {
    let app = Arc::new(
        TestApp::spawn_with(Backend::Sqlite, |s| {
            s.store.sqlite_wal_truncate_bytes = Some(LIMIT);
        })
        .await,
    );
    let db = app.store.sqlite_file().expect("a SQLite store");
    let mut wal = db.into_os_string();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    let size = move || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);

    let done = Arc::new(AtomicBool::new(false));
    // The WAL's size, looked at every few milliseconds for as long as the load lasts.
    let peak = Arc::new(AtomicU64::new(0));
    // How often the file was cut back while the load lasted.
    let cuts = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak, cuts, size) = (done.clone(), peak.clone(), cuts.clone(), size.clone());
        tokio::spawn(async move {
            let (mut samples, mut last) = (0u64, 0u64);
            while !done.load(Ordering::Relaxed) {
                let now = size();
                if now < last {
                    cuts.fetch_add(1, Ordering::Relaxed);
                }
                last = now;
                peak.fetch_max(now, Ordering::Relaxed);
                samples += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            samples
        })
    };
    // A reader listing bookings without pause, as a busy dashboard would.
    let reader = {
        let (done, app) = (done.clone(), app.clone());
        tokio::spawn(async move {
            let mut reads = 0u64;
            let filter = calbook::store::BookingFilter::default();
            while !done.load(Ordering::Relaxed) {
                app.store
                    .bookings(&filter)
                    .await
                    .expect("the listing reads");
                reads += 1;
            }
            reads
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let app = app.clone();
            tokio::spawn(async move {
                for i in 0..PER_CLIENT {
                    let uid = format!("wal-{c}-{i}");
                    let body = booked_by(&uid, 24 + i as i64, "Ana", "ana@example.com");
                    let (status, _) = app.deliver(&body).await;
                    assert_eq!(status, StatusCode::OK, "delivery {uid}");
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let samples = sampler.await.unwrap();
    let reads = reader.await.unwrap();
    peak.fetch_max(size(), Ordering::Relaxed);

    let stored = app.count("bookings").await;
    assert_eq!(
        stored,
        (CLIENTS * PER_CLIENT) as i64,
        "every delivery stored"
    );
    assert!(
        reads > 0 && samples > 0,
        "the reader read and the sampler sampled"
    );
    let db_bytes = std::fs::metadata(app.store.sqlite_file().unwrap())
        .unwrap()
        .len();
    // The load wrote many times the bound: without the bound the WAL would hold all of it.
    assert!(
        db_bytes > 2 * BOUND,
        "the load is large enough to matter: the database is {db_bytes} bytes"
    );
    let peak = peak.load(Ordering::Relaxed);
    // The writer's log is written again from its start, in place: cutting the file and growing
    // it again (94 times in this load when the writer truncated at the limit) stalled the writer
    // at each cut. A cut is left only for when the nonstop reader kept the log from restarting
    // several times in a row (the fallback past twice the limit): 0 alone, 1 beside other tests.
    let cuts = cuts.load(Ordering::Relaxed);
    assert!(
        cuts <= 5,
        "the WAL was cut back {cuts} times during the load (peak {peak} bytes)"
    );
    assert!(
        peak < BOUND,
        "the WAL peaked at {peak} bytes, over its bound of {BOUND} (limit {LIMIT})"
    );

    // Once the writes stop, the log is emptied.
    let mut after = size();
    for _ in 0..200 {
        if after == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = size();
    }
    assert_eq!(after, 0, "the WAL is emptied once the load stops");
}
