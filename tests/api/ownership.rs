//! The ownership rule on both backends, through the bookings API and the store: a booking
//! without a client id belongs to the client whose verified, non-empty email is the attendee's,
//! compared ASCII case-insensitively; and the upgrade to migration 0004 clears every client id
//! that was never proven. (PostgreSQL's row-level security applies the same rule: tests/api/rls.)

use calbook::booking::Booking;
use calbook::store::{BookingFilter, Owner, Scope, Store, StoreOptions};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_kelvin_sign_is_not_a_k,
    an_empty_email_owns_nothing,
    the_upgrade_clears_client_ids_that_were_never_proven,
);

/// `K` (U+212A KELVIN SIGN) lower-cases to `k` under Unicode rules.
const KELVIN_KIM: &str = "\u{212A}im@example.com";

async fn a_kelvin_sign_is_not_a_k(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    book(&app, "kims", hours_from_now(24), "Kim@Example.com", None).await;
    book(&app, "kelvins", hours_from_now(48), KELVIN_KIM, None).await;

    let kim = hs256(&claims(CLIENT_1, " KIM@example.COM "));
    let kelvin = hs256(&claims(CLIENT_2, KELVIN_KIM));
    assert_eq!(
        uids(&app, "/api/bookings", &kelvin).await,
        ["kelvins"],
        "a token whose email has a Kelvin sign does not get kim@'s booking"
    );
    assert_eq!(
        uids(&app, "/api/bookings", &kim).await,
        ["kims"],
        "A-Z fold (and surrounding spaces go); the Kelvin sign is not a k"
    );
    for (token, uid) in [(&kelvin, "kims"), (&kim, "kelvins")] {
        for path in [
            format!("/api/bookings/{uid}"),
            format!("/api/bookings/{uid}/history"),
        ] {
            let (status, _, body) = get(&app, &path, Some(token)).await;
            assert!(
                matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{path}: {status} {body}"
            );
        }
    }
    let (status, _, body) = get(&app, "/api/bookings/kims", Some(&kim)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Adopted rows may have an empty attendee email; a client with an empty email (a phone
/// sign-in) must not own them.
async fn an_empty_email_owns_nothing(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    book(&app, "template", hours_from_now(24), "x@example.com", None).await;
    let template = app.booking("template").await;
    let blank = stored_copy(&app, &template, "blank", "").await;
    let spaces = stored_copy(&app, &template, "spaces", "  ").await;

    for email in ["", "  ", "\t"] {
        let owner = Owner {
            client_id: Uuid::new_v4(),
            email: Some(email.to_owned()),
        };
        for b in [&blank, &spaces] {
            assert!(!owner.owns(b), "{email:?} owns {:?}", b.attendee_email);
        }
        let listed = app
            .store
            .bookings(&BookingFilter {
                scope: Scope::Owner(owner),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed, Vec::<Booking>::new(), "email {email:?}");
    }

    // Through the API: an empty `email` claim, and one of spaces.
    for email in ["", "  "] {
        let token = hs256(&claims(CLIENT_1, email));
        assert_eq!(
            uids(&app, "/api/bookings", &token).await,
            Vec::<String>::new(),
            "email claim {email:?}"
        );
        let (status, _, body) = get(&app, "/api/bookings/spaces", Some(&token)).await;
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "email claim {email:?}: {status} {body}"
        );
    }
}

/// Stores a copy of `template` under `uid` with `attendee_email`, as an adopted row could be.
async fn stored_copy(
    app: &TestApp,
    template: &Booking,
    uid: &str,
    attendee_email: &str,
) -> Booking {
    let b = Booking {
        id: Uuid::now_v7(),
        uid: uid.to_owned(),
        attendee_email: Some(attendee_email.to_owned()),
        ..template.clone()
    };
    let mut tx = app.store.begin().await.unwrap();
    tx.insert_bookings(std::slice::from_ref(&b)).await.unwrap();
    tx.commit().await.unwrap();
    b
}

/// A database at version 3 holds a booking whose client id came from `metadata[client_id]`;
/// after the upgrade the id is gone (the metadata keeps it), the history says so, and the
/// booking belongs to the attendee's email.
async fn the_upgrade_clears_client_ids_that_were_never_proven(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(backend, dir.path()).await;
    let claimant = Uuid::new_v4();
    let (claimed, unclaimed) = (Uuid::new_v4(), Uuid::new_v4());
    at_version_3(backend, &db.url, claimant, claimed, unclaimed).await;

    let store = Store::open(&db.url, &StoreOptions::default())
        .await
        .expect("the upgrade runs");
    let b = store.booking("claimed").await.unwrap().unwrap();
    assert_eq!(b.client_id, None, "the unproven client id is cleared");
    assert_eq!(
        b.metadata,
        json!({"client_id": claimant.to_string(), "lead_ref": "LR-1"}),
        "the metadata is kept"
    );
    let history = store.history(claimed).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["owner_cleared"]);
    assert_eq!(
        history[0].old_values,
        Some(json!({"client_id": claimant.to_string()}))
    );
    assert_eq!(history[0].new_values, Some(json!({"client_id": null})));
    assert_eq!(history[0].delivery_id, None);
    assert!(store.history(unclaimed).await.unwrap().is_empty());
    let u = store.booking("unclaimed").await.unwrap().unwrap();
    assert_eq!(u.attendee_email.as_deref(), Some("other@example.com"));

    let listing = |client_id, email: &str| BookingFilter {
        scope: Scope::Owner(Owner {
            client_id,
            email: Some(email.to_owned()),
        }),
        limit: 10,
        ..Default::default()
    };
    let uids_of = |v: Vec<Booking>| v.into_iter().map(|b| b.uid).collect::<Vec<_>>();
    assert_eq!(
        uids_of(
            store
                .bookings(&listing(claimant, "attacker@example.com"))
                .await
                .unwrap()
        ),
        Vec::<String>::new(),
        "the claimant no longer sees the booking"
    );
    assert_eq!(
        uids_of(
            store
                .bookings(&listing(Uuid::new_v4(), "victim@example.com"))
                .await
                .unwrap()
        ),
        ["claimed"],
        "the attendee does"
    );
    store.close().await;
}

/// Migrates `url` to version 3 and stores two bookings there: `claimed` with `client_id` (and
/// the same id in its metadata), `unclaimed` without.
async fn at_version_3(backend: Backend, url: &str, claimant: Uuid, claimed: Uuid, unclaimed: Uuid) {
    const BOOKING: &str = "INSERT INTO bookings (id, client_id, title, starts_at, ends_at, \
         external_id, attendee_email, metadata, created_at, updated_at) VALUES ";
    match backend {
        Backend::Sqlite => {
            use sqlx::sqlite::SqliteConnectOptions;
            let options: SqliteConnectOptions = url.parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            sqlx::migrate!("migrations/sqlite")
                .run_to(3, &pool)
                .await
                .unwrap();
            let t = "'2026-03-10T14:00:00.000Z'";
            let sql = format!(
                "{BOOKING} ('{claimed}', '{claimant}', 'Intro', {t}, {t}, 'claimed', \
                   'victim@example.com', '{{\"client_id\":\"{claimant}\",\"lead_ref\":\"LR-1\"}}', {t}, {t}), \
                 ('{unclaimed}', NULL, 'Intro', {t}, {t}, 'unclaimed', 'other@example.com', '{{}}', {t}, {t})"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::migrate!("migrations/postgres")
                .run_to(3, &pool)
                .await
                .unwrap();
            let sql = format!(
                "{BOOKING} ('{claimed}', '{claimant}', 'Intro', now(), now(), 'claimed', \
                   'victim@example.com', '{{\"client_id\":\"{claimant}\",\"lead_ref\":\"LR-1\"}}', now(), now()), \
                 ('{unclaimed}', NULL, 'Intro', now(), now(), 'unclaimed', 'other@example.com', '{{}}', now(), now())"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}
