//! One `check_…` function per rule, each returning `Err` with what went wrong.

use sqlx::PgPool;

use super::harness::*;

pub(super) fn denied<T>() -> Answer<T> {
    Err(DENIED.to_owned())
}

/// Clients read their own bookings (by client id, or by email when there is no client id) and
/// their history, and nobody else's.
pub(super) async fn check_clients_read_only_their_own(
    pool: &PgPool,
    b: &Bookings,
) -> Result<(), String> {
    let mut ada = as_client(pool, ADA, ADA_EMAIL).await;
    expect!(
        ada.bookings().await,
        Ok(set(&[b.ada_by_id, b.ada_by_email])),
        "Ada reads her bookings (by client id and by email), not Bob's"
    );
    expect!(
        ada.history().await,
        Ok(set(&[b.ada_by_id, b.ada_by_email])),
        "Ada reads the history of her bookings only"
    );
    ada.end().await;

    let mut bob = as_client(pool, BOB, BOB_EMAIL).await;
    expect!(
        bob.bookings().await,
        Ok(set(&[b.bob_with_adas_email])),
        "Bob reads his booking only"
    );
    expect!(
        bob.history().await,
        Ok(set(&[b.bob_with_adas_email])),
        "Bob reads his booking's history only"
    );
    bob.end().await;

    let mut no_sub = as_authenticated_without_sub(pool).await;
    expect!(
        no_sub.bookings().await,
        Ok(set(&[])),
        "a token without sub reads nothing, even with a matching email"
    );
    expect!(
        no_sub.history().await,
        Ok(set(&[])),
        "a token without sub reads no history"
    );
    no_sub.end().await;
    Ok(())
}

/// The email branch compares ASCII case-insensitively only (a Kelvin sign is not a `k`), trims
/// the claim, and an empty or missing email claim matches nothing, not even an empty attendee.
pub(super) async fn check_email_match_is_strict(pool: &PgPool, b: &Bookings) -> Result<(), String> {
    let callers = [
        (
            MALLORY,
            KELVIN_KIM,
            set(&[b.mallory_by_id, b.kelvin_attendee]),
            "Mallory with a Kelvin sign for Kim's k",
        ),
        (KIM, " KIM@Example.com ", set(&[b.kim_by_email]), "Kim"),
    ];
    for (sub, email, own, who) in callers {
        let mut s = as_client(pool, sub, email).await;
        expect!(s.bookings().await, Ok(own.clone()), "{who} reads bookings");
        expect!(s.history().await, Ok(own), "{who} reads history");
        s.end().await;
    }
    for email in [Some(""), Some("  "), None] {
        let mut phone = as_phone_client(pool, email).await;
        expect!(
            phone.bookings().await,
            Ok(set(&[])),
            "a phone sign-in with email claim {email:?} reads bookings"
        );
        expect!(
            phone.history().await,
            Ok(set(&[])),
            "a phone sign-in with email claim {email:?} reads history"
        );
        phone.end().await;
    }
    Ok(())
}

/// Columns the bookings API does not show a client are refused to `authenticated` (42501), for
/// clients and admins alike; the shown ones are readable. The full comparison with the API's
/// client view is tests/api/rls/columns.rs.
pub(super) async fn check_hidden_columns_are_refused(pool: &PgPool) -> Result<(), String> {
    for admin in [false, true] {
        let mut s = if admin {
            as_admin(pool).await
        } else {
            as_client(pool, ADA, ADA_EMAIL).await
        };
        let who = if admin { "the admin" } else { "Ada" };
        for (table, column) in [
            ("bookings", "metadata"),
            ("bookings", "organizer"),
            ("bookings", "calcom_booking_id"),
            ("bookings", "*"),
            ("booking_history", "delivery_id"),
            ("booking_history", "id"),
            ("booking_history", "*"),
        ] {
            expect!(
                s.select(table, column).await,
                denied(),
                "{who} selects {table}.{column}"
            );
        }
        expect!(
            s.select(
                "bookings",
                "id, external_id, attendee_email, notes, client_id"
            )
            .await
            .map(|_| ()),
            Ok(()),
            "{who} selects the columns the API shows"
        );
        s.end().await;
    }
    Ok(())
}

/// app_metadata.role = admin reads everything; user_metadata.role = admin is ignored.
pub(super) async fn check_admin_is_told_by_app_metadata(
    pool: &PgPool,
    b: &Bookings,
) -> Result<(), String> {
    let mut admin = as_admin(pool).await;
    expect!(
        admin.bookings().await,
        Ok(b.all()),
        "the admin reads every booking"
    );
    expect!(
        admin.history().await,
        Ok(b.all()),
        "the admin reads all history"
    );
    admin.end().await;

    let mut mallory = as_self_declared_admin(pool).await;
    expect!(
        mallory.bookings().await,
        Ok(set(&[b.mallory_by_id])),
        "user_metadata.role = admin reads only its own bookings"
    );
    expect!(
        mallory.history().await,
        Ok(set(&[b.mallory_by_id])),
        "user_metadata.role = admin reads only its own history"
    );
    mallory.end().await;
    Ok(())
}

/// anon has no grant at all: every statement is refused with 42501, whatever the claims.
pub(super) async fn check_anon_reads_and_writes_nothing(
    pool: &PgPool,
    b: &Bookings,
) -> Result<(), String> {
    let mut anon = as_anon(pool).await;
    expect!(anon.bookings().await, denied(), "anon selects bookings");
    expect!(anon.history().await, denied(), "anon selects history");
    expect!(
        anon.insert_booking().await,
        denied(),
        "anon inserts a booking"
    );
    expect!(
        anon.update_booking(b.ada_by_id).await,
        denied(),
        "anon updates"
    );
    expect!(
        anon.delete_booking(b.ada_by_id).await,
        denied(),
        "anon deletes"
    );
    anon.end().await;

    let mut anon = as_anon_with_adas_claims(pool).await;
    expect!(
        anon.bookings().await,
        denied(),
        "anon with Ada's claims selects"
    );
    expect!(
        anon.history().await,
        denied(),
        "anon with Ada's claims reads history"
    );
    anon.end().await;
    Ok(())
}

/// Only the service role writes bookings; clients and admins are refused (no grant: 42501).
pub(super) async fn check_only_the_service_role_writes(
    pool: &PgPool,
    b: &Bookings,
) -> Result<(), String> {
    let mut ada = as_client(pool, ADA, ADA_EMAIL).await;
    expect!(
        ada.insert_booking().await,
        denied(),
        "Ada inserts a booking"
    );
    expect!(
        ada.update_booking(b.ada_by_id).await,
        denied(),
        "Ada updates her booking"
    );
    expect!(
        ada.delete_booking(b.ada_by_id).await,
        denied(),
        "Ada deletes her booking"
    );
    expect!(
        ada.insert_history(b.ada_by_id).await,
        denied(),
        "Ada writes history"
    );
    ada.end().await;

    let mut admin = as_admin(pool).await;
    expect!(admin.insert_booking().await, denied(), "the admin inserts");
    expect!(
        admin.update_booking(b.ada_by_id).await,
        denied(),
        "the admin updates"
    );
    expect!(
        admin.delete_booking(b.ada_by_id).await,
        denied(),
        "the admin deletes"
    );
    admin.end().await;

    for bypass in [true, false] {
        let (mut service, who) = if bypass {
            (as_service_role(pool).await, "service_role")
        } else {
            (
                as_service_role_without_bypass(pool).await,
                "service_role without BYPASSRLS",
            )
        };
        expect!(
            service.bookings().await,
            Ok(b.all()),
            "{who} reads every booking"
        );
        expect!(
            service.insert_booking().await,
            Ok(1),
            "{who} inserts a booking"
        );
        expect!(
            service.update_booking(b.ada_by_id).await,
            Ok(1),
            "{who} updates"
        );
        expect!(
            service.insert_history(b.ada_by_id).await,
            Ok(1),
            "{who} adds history"
        );
        expect!(
            service.delete_booking(b.bob_with_adas_email).await,
            Ok(1),
            "{who} deletes"
        );
        service.end().await;
    }
    Ok(())
}

/// booking_history is append-only for every API role, the service role included.
pub(super) async fn check_history_is_append_only(
    pool: &PgPool,
    b: &Bookings,
) -> Result<(), String> {
    let mut sessions = vec![
        ("service_role", as_service_role(pool).await),
        (
            "service_role without BYPASSRLS",
            as_service_role_without_bypass(pool).await,
        ),
        ("the admin", as_admin(pool).await),
        ("Ada", as_client(pool, ADA, ADA_EMAIL).await),
    ];
    for (who, s) in &mut sessions {
        expect!(
            s.update_history(b.ada_by_id).await,
            denied(),
            "{who} updates history"
        );
        expect!(
            s.delete_history(b.ada_by_id).await,
            denied(),
            "{who} deletes history"
        );
    }
    for (_, s) in sessions {
        s.end().await;
    }
    Ok(())
}

/// Deliveries (raw bodies), the outbox (addresses) and sqlx's table are closed to anon and
/// authenticated.
pub(super) async fn check_internal_tables_are_closed(pool: &PgPool) -> Result<(), String> {
    for table in ["webhook_deliveries", "email_outbox", "_sqlx_migrations"] {
        let mut admin = as_admin(pool).await;
        expect!(
            admin.count(table).await,
            denied(),
            "the admin reads {table}"
        );
        admin.end().await;
        let mut anon = as_anon(pool).await;
        expect!(anon.count(table).await, denied(), "anon reads {table}");
        anon.end().await;
    }
    Ok(())
}

/// Every check above, on one database.
pub(super) async fn check_all(pool: &PgPool, b: &Bookings) -> Result<(), String> {
    check_clients_read_only_their_own(pool, b).await?;
    check_email_match_is_strict(pool, b).await?;
    check_hidden_columns_are_refused(pool).await?;
    check_admin_is_told_by_app_metadata(pool, b).await?;
    check_anon_reads_and_writes_nothing(pool, b).await?;
    check_only_the_service_role_writes(pool, b).await?;
    check_history_is_append_only(pool, b).await?;
    check_internal_tables_are_closed(pool).await?;
    Ok(())
}
