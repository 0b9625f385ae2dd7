//! What `authenticated` may select through PostgREST equals what the bookings API shows a
//! client: the column grants are compared with the fields of real API answers, so a new column
//! (granted, or left out of the API's client view) cannot leak unnoticed.

use std::collections::BTreeSet;

use calbook::store::Store;
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::*;

/// Columns whose API field has another name.
const RENAMED: &[(&str, &str)] = &[("external_id", "uid")];
/// Granted without an API field: the keys that relate history to its booking.
const KEYS: &[&str] = &["bookings.id", "booking_history.booking_id"];
/// In the client view, but not granted: `organizer` is one JSON value holding the organizer's
/// email, which a client must not read (the API shows the rest of it).
const WITHHELD: &[&str] = &["bookings.organizer"];

/// `table.field` for every column of `table` that `authenticated` may select, named as the API
/// names it.
async fn granted(pool: &PgPool, table: &str) -> BTreeSet<String> {
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 \
           AND has_column_privilege('authenticated', format('public.%I', table_name), \
                                    column_name, 'SELECT')",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap();
    columns
        .into_iter()
        .map(|c| {
            let field = RENAMED
                .iter()
                .find(|(col, _)| *col == c)
                .map_or(c.as_str(), |(_, f)| f);
            format!("{table}.{field}")
        })
        .collect()
}

/// `Err` with the difference when the grants are not the client view (plus the keys, minus the
/// withheld fields).
async fn compare(pool: &PgPool, client_view: &BTreeSet<String>) -> Result<(), String> {
    let mut grants = granted(pool, "bookings").await;
    grants.extend(granted(pool, "booking_history").await);
    let expected: BTreeSet<String> = client_view
        .iter()
        .filter(|f| !WITHHELD.contains(&f.as_str()))
        .cloned()
        .chain(KEYS.iter().map(|k| k.to_string()))
        .collect();
    if grants == expected {
        Ok(())
    } else {
        Err(format!(
            "granted but not in the client view: {:?}; in the client view but not granted: {:?}",
            grants.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&grants).collect::<Vec<_>>()
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_grants_are_the_apis_client_view() {
    let app = TestApp::spawn_with_supabase(Backend::Postgres).await;
    book(&app, "own", hours_from_now(24), "ann@example.com", None).await;
    let token = hs256(&claims(CLIENT_1, "ann@example.com"));

    // The client view, as the API answers it.
    let (status, _, page) = get(&app, "/api/bookings", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, _, history) = get(&app, "/api/bookings/own/history", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let fields = |table: &str, v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .unwrap_or_else(|| panic!("an object: {v}"))
            .keys()
            .map(|k| format!("{table}.{k}"))
            .collect()
    };
    let mut client_view: BTreeSet<String> = fields("bookings", &page["bookings"][0])
        .into_iter()
        .collect();
    client_view.extend(fields("booking_history", &history["history"][0]));
    assert!(
        client_view.contains("bookings.notes") && !client_view.contains("bookings.metadata"),
        "{client_view:?}"
    );

    let Store::Postgres(pool) = &app.store else {
        unreachable!("a PostgreSQL app")
    };
    compare(pool, &client_view).await.unwrap();

    // The comparison notices a column granted beyond the client view.
    sqlx::query("GRANT SELECT (metadata) ON bookings TO authenticated")
        .execute(pool)
        .await
        .unwrap();
    let err = compare(pool, &client_view)
        .await
        .expect_err("metadata is granted");
    assert!(err.contains("bookings.metadata"), "{err}");
}
