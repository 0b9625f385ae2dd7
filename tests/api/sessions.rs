//! Signing out of the dashboard (issue 16, row 11): the session is revoked on the server, so a
//! copy of the cookie is refused afterwards, by this instance and by every other instance on the
//! same database; the database keeps a hash of the session's nonce, never the cookie.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(signing_out_revokes_the_session_on_every_instance);

async fn signing_out_revokes_the_session_on_every_instance(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.spawn_sibling().await;
    // An old revocation, long expired: the next sign-out clears it away.
    let past = jiff::Timestamp::from_second(1_700_000_000).unwrap();
    app.store
        .revoke_session("expired", past, past)
        .await
        .unwrap();

    let session = app.sign_in_as_admin().await;
    let copy = session.cookie.clone();
    for instance in [&app, &sibling] {
        let (status, _) = session.get(instance, "/admin/bookings").await;
        assert_eq!(status, StatusCode::OK, "signed in on both instances before");
    }
    let http = no_redirects();
    let r = http
        .post(app.url("/admin/logout"))
        .header("cookie", &session.cookie)
        .form(&[("csrf", session.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    assert!(
        set_cookie(&r, "calbook_admin")
            .unwrap()
            .contains("Max-Age=0")
    );

    // The copied cookie, on this instance and on the other one: back to the sign-in page.
    for (name, instance) in [("this instance", &app), ("another instance", &sibling)] {
        let r = http
            .get(instance.url("/admin/bookings"))
            .header("cookie", &copy)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{name}: {}", r.status());
        assert_eq!(
            r.headers()[CACHE_CONTROL],
            "no-store",
            "{name}: the redirect too"
        );
        assert_eq!(
            r.headers()[LOCATION],
            "/admin/login?next=%2Fadmin%2Fbookings",
            "{name}"
        );
        // Nor can it post a form, with its once valid CSRF token.
        let r = http
            .post(instance.url("/admin/emails/retry-dead"))
            .header("cookie", &copy)
            .form(&[("csrf", session.csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
    }

    // One row, the new one, and it is a hash: neither the cookie nor its nonce.
    assert_eq!(
        app.count("revoked_sessions").await,
        1,
        "the expired one was pruned"
    );
    let stored: String = match &app.store {
        calbook::store::Store::Sqlite(s) => {
            sqlx::query_scalar("SELECT nonce_hash FROM revoked_sessions")
                .fetch_one(&s.pool)
                .await
                .unwrap()
        }
        calbook::store::Store::Postgres(p) => {
            sqlx::query_scalar("SELECT nonce_hash FROM revoked_sessions")
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    let nonce = copy.split('.').nth(2).unwrap();
    assert_eq!(stored.len(), 64);
    assert!(!copy.contains(&stored) && !stored.contains(nonce));

    // Signing in again gives a new session that works.
    let again = app.sign_in_as_admin().await;
    let (status, _) = again.get(&sibling, "/admin/emails").await;
    assert_eq!(status, StatusCode::OK);

    if let calbook::store::Store::Postgres(p) = &app.store {
        // The table is calbook's own: Supabase's API roles cannot read or write it.
        for role in ["anon", "authenticated"] {
            let mut tx = p.begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
                .execute(&mut *tx)
                .await
                .unwrap();
            let denied = sqlx::query("SELECT count(*) FROM revoked_sessions")
                .execute(&mut *tx)
                .await
                .unwrap_err();
            let code = denied.as_database_error().and_then(|e| e.code());
            assert_eq!(code.as_deref(), Some("42501"), "{role}: {denied}");
        }
    }
}
