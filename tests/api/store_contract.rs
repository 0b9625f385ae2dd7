//! The store's contract: every public `Store`, `Tx` and `WriterConnection` method of the booking
//! store (bookings, history, deliveries, reschedule chains, revoked sessions) gives the same
//! answer on SQLite and on PostgreSQL for the same inputs, list orders included, and the answer
//! is the one the method documents (values read back equal the values written).
//!
//! Lists whose order a method does not promise (`bookings_with_uids`, `lock_bookings` on SQLite)
//! are compared sorted by uid; every other list is compared as returned. The email outbox's
//! methods are covered by the outbox tests on both backends.

use std::collections::BTreeSet;
use std::fmt::Debug;

use bytes::Bytes;
use calbook::booking::{Booking, HistoryEntry, Person, Status};
use calbook::store::{
    BookingFilter, Cursor, Delivery, Outcome, Owner, Scope, SortOrder, Store, StoreError,
    StoreOptions,
};
use jiff::Timestamp;
use uuid::Uuid;

use crate::postgres_server;

/// What one backend answered, step by step: `(step, answer)`. Answers are compared as JSON
/// values: PostgreSQL's `jsonb` does not keep the key order of a stored JSON object (SQLite's
/// text does), and calbook gives that order no meaning.
type Transcript = Vec<(String, serde_json::Value)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_method_answers_the_same_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::default();
    let sqlite_url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let sqlite = Store::open(&sqlite_url, &options).await.unwrap();
    let (pg_url, _) = postgres_server::create_database().await;
    let postgres = Store::open(&pg_url, &options).await.unwrap();

    let on_sqlite = run_contract(&sqlite).await;
    let on_postgres = run_contract(&postgres).await;

    assert_eq!(on_sqlite.len(), on_postgres.len());
    for ((step, a), (_, b)) in on_sqlite.iter().zip(&on_postgres) {
        assert_eq!(a, b, "{step}: SQLite and PostgreSQL disagree");
    }

    // What differs by design: the backend's name and SQLite's background checkpoints.
    assert_eq!(sqlite.backend(), calbook::store::Backend::Sqlite);
    assert_eq!(postgres.backend(), calbook::store::Backend::Postgres);
    let upkeep = sqlite
        .start_upkeep()
        .expect("SQLite checkpoints in the background");
    assert!(postgres.start_upkeep().is_none());
    sqlite.close().await;
    postgres.close().await;
    upkeep.await.unwrap();
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

fn person(name: &str, email: &str) -> Person {
    Person {
        name: Some(name.to_owned()),
        email: Some(email.to_owned()),
        time_zone: Some("Europe/Berlin".to_owned()),
        locale: None,
    }
}

/// A booking with every column set to something distinctive.
fn booking(n: u128, uid: &str, starts_in_hours: i64, status: Status) -> Booking {
    Booking {
        id: id(n),
        uid: uid.to_owned(),
        calcom_id: Some(1000 + n as i64),
        client_id: (n == 1).then(|| id(900)),
        title: format!("Meeting {uid}"),
        description: Some("Über \"quotes\" and 'apostrophes'".to_owned()),
        notes: None,
        starts_at: at(starts_in_hours * 3600),
        ends_at: at(starts_in_hours * 3600 + 1800),
        status,
        attendee_email: Some(format!("{uid}@Example.com")),
        attendee_name: Some(format!("Attendee {uid}")),
        attendees: vec![
            person("Kim", "kim@example.com"),
            person("Lee", "lee@example.com"),
        ],
        organizer: Some(person("Org", "org@example.com")),
        location: Some("integrations:daily".to_owned()),
        meeting_url: Some("https://meet.example.com/x".to_owned()),
        ical_uid: Some(format!("{uid}@cal.com")),
        ical_sequence: n as i64,
        event_type_id: Some(42),
        event_type_slug: Some("intro".to_owned()),
        metadata: serde_json::json!({"nested": {"list": [1, 2.5, null, "x"]}, "n": n as u64}),
        rescheduled_from: None,
        rescheduled_to: None,
        cancellation_reason: None,
        cancelled_by: None,
        rejection_reason: None,
        meeting_started_at: (n == 2).then(|| at(7200)),
        meeting_ended_at: None,
        created_at: at(-3600),
        updated_at: at(-3600 + n as i64),
        extra: calbook::booking::BookingExtras {
            series_id: Some(format!("series-{n}")),
            series_key: Some("k".repeat(32)),
            recurring_event: Some(calbook::booking::RecurringRule {
                freq: 2,
                count: Some(4),
                interval: 1,
            }),
            series_cancelled_from: (n == 1).then(|| at(3600)),
            seats_per_time_slot: Some(5),
            seats_show_attendees: Some(n == 2),
            attendee_states: [(
                "lee@example.com".to_owned(),
                calbook::booking::AttendeeState {
                    seat: Some(calbook::booking::SeatState::Cancelled),
                    seat_reason: Some("Über".to_owned()),
                    moved_to: None,
                    no_show: Some(true),
                },
            )]
            .into(),
            host_no_show: Some(false),
            payment: Some(calbook::booking::Payment {
                id: Some("pay_1".to_owned()),
                amount: Some(4500),
                currency: Some("EUR".to_owned()),
            }),
            links: calbook::booking::EmailLinks {
                booker_url: Some("https://acme-org.cal.com".to_owned()),
                seats: [("lee@example.com".to_owned(), format!("seat-ref-{n}"))].into(),
            },
        },
    }
}

fn delivery(n: u128, received: i64, digest: &str, outcome: Outcome, uid: Option<&str>) -> Delivery {
    Delivery {
        id: id(500 + n),
        received_at: at(received),
        body_sha256: digest.to_owned(),
        trigger_event: Some("BOOKING_CREATED".to_owned()),
        webhook_version: n.is_multiple_of(2).then(|| "2021-10-20".to_owned()),
        content_type: Some("application/json".to_owned()),
        booking_uid: uid.map(str::to_owned),
        outcome,
        error: (outcome == Outcome::Rejected).then(|| "malformed JSON".to_owned()),
        body: Bytes::from(format!("{{\"n\":{n}}}")),
    }
}

fn history(n: u128, booking: &Booking, created: i64, delivery: Option<Uuid>) -> HistoryEntry {
    HistoryEntry {
        id: id(700 + n),
        booking_id: booking.id,
        action: format!("action-{n}"),
        old_values: (n > 1).then(|| serde_json::json!({"status": "pending"})),
        new_values: Some(serde_json::json!({"status": "accepted", "n": n as u64})),
        delivery_id: delivery,
        source: calbook::booking::Source::Webhook,
        created_at: at(created),
    }
}

/// The same list without the bodies, as listings return deliveries.
fn listed(list: &[&Delivery]) -> Vec<Delivery> {
    list.iter()
        .map(|d| Delivery {
            body: Bytes::new(),
            ..(*d).clone()
        })
        .collect()
}

fn uids(list: &[Booking]) -> Vec<&str> {
    list.iter().map(|b| b.uid.as_str()).collect()
}

fn sorted(mut list: Vec<Booking>) -> Vec<Booking> {
    list.sort_by(|a, b| a.uid.cmp(&b.uid));
    list
}

fn error_kind<T: Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(StoreError::Conflict) => "Conflict".to_owned(),
        Err(e) => panic!("unexpected store error: {e}"),
    }
}

/// Runs every method with the same inputs; asserts each answer and returns them all.
async fn run_contract(store: &Store) -> Transcript {
    let mut t = Transcript::new();
    let mut note = |step: &str, answer: &dyn erased::Answer| {
        t.push((step.to_owned(), answer.to_json()));
    };

    store.migrate().await.expect("migrating twice is a no-op");
    store.ready().await.expect("ready once migrated");

    let mut a = booking(1, "uid-a", 48, Status::Confirmed);
    let mut b = booking(2, "uid-b", 24, Status::Pending);
    let c = booking(3, "uid-c", 24, Status::Cancelled);
    b.rescheduled_from = Some("uid-gone".to_owned());
    b.rescheduled_to = Some("uid-a".to_owned());
    a.rescheduled_from = Some("uid-b".to_owned());
    // Two deliveries received in the same instant: `id` orders them.
    let d1 = delivery(1, 10, "digest-1", Outcome::Applied, Some("uid-a"));
    let d2 = delivery(2, 20, "digest-2", Outcome::Rejected, None);
    let d3 = delivery(3, 20, "digest-3", Outcome::Ignored, Some("uid-b"));
    let d4 = delivery(4, 5, "digest-1", Outcome::Duplicate, Some("uid-a"));
    // Two history entries at the same instant: `id` orders them.
    let h1 = history(1, &a, 30, Some(d1.id));
    let h2 = history(2, &a, 30, Some(d4.id));
    let h3 = history(3, &b, 31, Some(d3.id));

    // The ingest writer's path: one connection, one transaction.
    let mut writer = store.writer().await.unwrap();
    let mut tx = writer.begin().await.unwrap();
    assert!(tx.seen_bodies(&["digest-1"]).await.unwrap().is_empty());
    assert!(tx.lock_bookings(&["uid-a"]).await.unwrap().is_empty());
    tx.insert_bookings(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    tx.insert_deliveries(&[d1.clone(), d2.clone(), d3.clone(), d4.clone()])
        .await
        .unwrap();
    tx.insert_history(&[h2.clone(), h1.clone(), h3.clone()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    drop(writer);
    store.durability_barrier().await.unwrap();

    // Reads by key: what was written comes back unchanged.
    for x in [&a, &b, &c] {
        let by_uid = store.booking(&x.uid).await.unwrap();
        assert_eq!(by_uid.as_ref(), Some(x));
        // Email links compare equal whatever they hold (they are never a change): read them.
        let links = &by_uid.as_ref().unwrap().extra.links;
        assert_eq!(links.booker_url, x.extra.links.booker_url);
        assert_eq!(links.seats, x.extra.links.seats);
        note(&format!("booking({})", x.uid), &by_uid);
        let by_id = store.booking_by_id(x.id).await.unwrap();
        assert_eq!(by_id.as_ref(), Some(x));
    }
    assert_eq!(store.booking("uid-none").await.unwrap(), None);
    assert_eq!(store.booking_by_id(id(999)).await.unwrap(), None);
    let some = sorted(
        store
            .bookings_with_uids(&["uid-c", "uid-none", "uid-a"])
            .await
            .unwrap(),
    );
    assert_eq!(some, [a.clone(), c.clone()]);
    note("bookings_with_uids", &some);
    assert!(store.bookings_with_uids(&[]).await.unwrap().is_empty());

    // Listings: every filter, both orders, a cursor.
    let filters: Vec<(&str, BookingFilter, Vec<&str>)> = vec![
        (
            "all, latest first",
            filter(|_| {}),
            vec!["uid-a", "uid-c", "uid-b"],
        ),
        (
            "all, earliest first",
            filter(|f| f.order = SortOrder::Ascending),
            vec!["uid-b", "uid-c", "uid-a"],
        ),
        (
            "status",
            filter(|f| f.status = Some(Status::Pending)),
            vec!["uid-b"],
        ),
        (
            "from and to",
            filter(|f| {
                f.from = Some(at(24 * 3600));
                f.to = Some(at(48 * 3600));
            }),
            vec!["uid-c", "uid-b"],
        ),
        (
            "attendee email, any case",
            filter(|f| f.attendee_email = Some(" UID-C@EXAMPLE.COM ".to_owned())),
            vec!["uid-c"],
        ),
        (
            "search",
            filter(|f| f.search = Some("attendee uid-b".to_owned())),
            vec!["uid-b"],
        ),
        (
            "owner: by client id or by email",
            filter(|f| {
                f.scope = Scope::Owner(Owner {
                    client_id: id(900),
                    email: Some("uid-b@example.com".to_owned()),
                });
            }),
            vec!["uid-a", "uid-b"],
        ),
        ("limit", filter(|f| f.limit = 2), vec!["uid-a", "uid-c"]),
        (
            "after a cursor",
            filter(|f| {
                f.limit = 2;
                f.after = Some(Cursor::after(&a));
            }),
            vec!["uid-c", "uid-b"],
        ),
    ];
    for (name, f, expected) in filters {
        let page = store.bookings(&f).await.unwrap();
        assert_eq!(uids(&page), expected, "{name}");
        note(&format!("bookings({name})"), &page);
    }

    // History and deliveries, in their documented orders.
    let hist = store.history(a.id).await.unwrap();
    assert_eq!(hist, [h1.clone(), h2.clone()], "oldest first, then by id");
    note("history", &hist);
    let newest = store.deliveries(10).await.unwrap();
    assert_eq!(
        newest,
        listed(&[&d3, &d2, &d1, &d4]),
        "newest first, then by id"
    );
    note("deliveries", &newest);
    let two = store.deliveries(2).await.unwrap();
    assert_eq!(two, listed(&[&d3, &d2]));
    let applied = store
        .deliveries_with_outcome(Some(Outcome::Applied), 10)
        .await
        .unwrap();
    assert_eq!(applied, listed(&[&d1]));
    let all = store.deliveries_with_outcome(None, 10).await.unwrap();
    assert_eq!(all, newest);
    let of_a = store.deliveries_of_booking(a.id).await.unwrap();
    assert_eq!(of_a, listed(&[&d4, &d1]), "oldest first");
    note("deliveries_of_booking", &of_a);

    // The reschedule chain: gone ← b → a.
    let chain = store.reschedule_chain(&a, &Scope::All).await.unwrap();
    let chain: Vec<(String, Option<Uuid>)> = chain
        .into_iter()
        .map(|e| (e.uid, e.booking.map(|b| b.id)))
        .collect();
    assert_eq!(
        chain,
        [
            ("uid-gone".to_owned(), None),
            ("uid-b".to_owned(), Some(b.id)),
            ("uid-a".to_owned(), Some(a.id)),
        ]
    );
    note("reschedule_chain", &chain);

    // Updates: the locked rows, rewritten; identity and creation time never change.
    let mut tx = store.begin().await.unwrap();
    let seen = tx
        .seen_bodies(&["digest-1", "digest-2", "digest-3", "digest-x"])
        .await
        .unwrap();
    assert_eq!(
        seen.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["digest-1", "digest-3"]),
        "applied and ignored bodies only"
    );
    let locked = sorted(
        tx.lock_bookings(&["uid-b", "uid-a", "uid-none"])
            .await
            .unwrap(),
    );
    assert_eq!(locked, [a.clone(), b.clone()]);
    let mut a2 = a.clone();
    a2.status = Status::Cancelled;
    a2.title = "Renamed".to_owned();
    a2.notes = Some("now with notes".to_owned());
    a2.organizer = None;
    a2.cancellation_reason = Some("conflict".to_owned());
    a2.meeting_ended_at = Some(at(9000));
    a2.metadata = serde_json::json!({});
    a2.updated_at = at(100);
    tx.update_bookings(std::slice::from_ref(&a2)).await.unwrap();
    tx.commit().await.unwrap();
    let updated = store.booking("uid-a").await.unwrap();
    assert_eq!(updated.as_ref(), Some(&a2));
    note("booking after update", &updated);

    // Conflicts: a uid already stored, a body already applied.
    let mut tx = store.begin().await.unwrap();
    let again = tx
        .insert_bookings(&[booking(9, "uid-b", 1, Status::Pending)])
        .await;
    note("insert_bookings(existing uid)", &error_kind(again));
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let redelivered = tx
        .insert_deliveries(&[delivery(9, 50, "digest-3", Outcome::Applied, None)])
        .await;
    note(
        "insert_deliveries(body already ignored)",
        &error_kind(redelivered),
    );
    drop(tx);
    assert_eq!(store.booking("uid-b").await.unwrap().as_ref(), Some(&b));
    assert_eq!(store.deliveries(10).await.unwrap().len(), 4, "rolled back");

    // Revoked sessions.
    assert!(!store.session_revoked("nonce-1").await.unwrap());
    store
        .revoke_session("nonce-1", at(3600), at(0))
        .await
        .unwrap();
    store
        .revoke_session("nonce-1", at(3600), at(0))
        .await
        .unwrap();
    store
        .revoke_session("nonce-2", at(10), at(0))
        .await
        .unwrap();
    let revoked = (
        store.session_revoked("nonce-1").await.unwrap(),
        store.session_revoked("nonce-2").await.unwrap(),
    );
    assert_eq!(revoked, (true, true));
    // A later revocation forgets the ones that expired.
    store
        .revoke_session("nonce-3", at(7200), at(20))
        .await
        .unwrap();
    let after_prune = (
        store.session_revoked("nonce-1").await.unwrap(),
        store.session_revoked("nonce-2").await.unwrap(),
    );
    assert_eq!(after_prune, (true, false));
    note("session_revoked", &(revoked, after_prune));

    t
}

fn filter(edit: impl FnOnce(&mut BookingFilter)) -> BookingFilter {
    let mut f = BookingFilter {
        limit: 10,
        ..BookingFilter::default()
    };
    edit(&mut f);
    f
}

mod erased {
    /// An answer to record, whatever its type.
    pub trait Answer {
        fn to_json(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Answer for T {
        fn to_json(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("answers serialize")
        }
    }
}

/// On PostgreSQL the writes' multi-row INSERTs are planned once per statement text and
/// connection (`Tx::plan_once_per_statement`), not at every execution as the connection's
/// default does for reads; `Tx::plan_each_execution` goes back to that default. Asserted on
/// PostgreSQL's own count of generic and custom plans of the prepared INSERT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plans_the_writes_inserts_once_and_other_statements_each_time() {
    let (url, _) = postgres_server::create_database().await;
    let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
    let mut writer = store.writer().await.unwrap();
    let mut tx = writer.begin().await.unwrap();
    let a = booking(1, "plan-a", 1, Status::Confirmed);
    tx.insert_bookings(std::slice::from_ref(&a)).await.unwrap();

    tx.plan_once_per_statement().await.unwrap();
    for n in 0..3 {
        tx.insert_history(&[history(n, &a, 10 + n as i64, None)])
            .await
            .unwrap();
    }
    assert_eq!(
        insert_plans(&mut tx).await,
        (3, 0),
        "three inserts, each with the generic plan made once"
    );

    tx.plan_each_execution().await.unwrap();
    tx.insert_history(&[history(9, &a, 20, None)])
        .await
        .unwrap();
    assert_eq!(
        insert_plans(&mut tx).await,
        (3, 1),
        "back to a plan for each execution"
    );
    tx.commit().await.unwrap();
}

/// PostgreSQL's counts of generic and custom plans of this session's prepared history INSERTs.
async fn insert_plans(tx: &mut calbook::store::Tx<'_>) -> (i64, i64) {
    let calbook::store::Tx::Postgres(pg) = tx else {
        panic!("a PostgreSQL transaction")
    };
    sqlx::query_as::<_, (i64, i64)>(
        "SELECT coalesce(sum(generic_plans), 0)::bigint, coalesce(sum(custom_plans), 0)::bigint \
         FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO booking_history%'",
    )
    .fetch_one(&mut **pg)
    .await
    .unwrap()
}
