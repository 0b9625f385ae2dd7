//! PostgreSQL over TLS: the test server accepts TCP only over TLS, and calbook's store checks the
//! server's certificate with `sslmode=verify-full` against the CA the test made. A wrong CA, or no
//! TLS at all, is refused.

use std::time::Duration;

use calbook::store::{Store, StoreError, StoreOptions};
use sqlx::Connection;

use crate::postgres_server;

fn options() -> StoreOptions {
    StoreOptions {
        acquire_timeout: Duration::from_secs(5),
        ..StoreOptions::default()
    }
}

#[tokio::test]
async fn verify_full_with_the_servers_ca_connects_over_tls_and_other_settings_are_refused() {
    let Some((host, port, ca, other_ca)) = postgres_server::tls_setup() else {
        eprintln!("skipped: CALBOOK_TEST_POSTGRES_URL points at a server this test did not set up");
        return;
    };
    let (_, db) = postgres_server::create_database().await;
    let url = |params: &str| format!("postgres://calbook@{host}:{port}/{db}?{params}");

    // The store itself (pool, migrations) over verified TLS.
    let good = url(&format!("sslmode=verify-full&sslrootcert={}", ca.display()));
    let store = Store::open(&good, &options())
        .await
        .expect("verify-full with the server's CA");
    assert!(matches!(store, Store::Postgres(_)));
    let mut conn = sqlx::PgConnection::connect(&good).await.unwrap();
    let (ssl, version): (bool, String) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(ssl, "the connection is encrypted");
    assert!(version.starts_with("TLS"), "{version}");
    conn.close().await.ok();

    // A CA that did not issue the server's certificate: the handshake fails.
    let wrong = url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        other_ca.display()
    ));
    let Err(err) = Store::connect(&wrong, &options()).await else {
        panic!("a wrong CA is refused")
    };
    assert!(
        matches!(err, StoreError::Unavailable(_) | StoreError::Database(_)),
        "{err:?}"
    );
    let msg = format!("{err:?}").to_lowercase();
    assert!(msg.contains("tls") || msg.contains("certificate"), "{msg}");

    // The right CA but an address the certificate does not name (it names only `localhost`):
    // verify-full checks the host name too, verify-ca does not.
    if host == "localhost" {
        let by_ip = |mode: &str| {
            format!(
                "postgres://calbook@127.0.0.1:{port}/{db}?sslmode={mode}&sslrootcert={}",
                ca.display()
            )
        };
        let Err(err) = Store::connect(&by_ip("verify-full"), &options()).await else {
            panic!("a host name the certificate lacks is refused")
        };
        let msg = format!("{err:?}").to_lowercase();
        assert!(msg.contains("tls") || msg.contains("certificate"), "{msg}");
        Store::connect(&by_ip("verify-ca"), &options())
            .await
            .expect("verify-ca does not check the name");
    }

    // No TLS: the server accepts TCP only over TLS.
    let plain = url("sslmode=disable");
    let Err(err) = Store::connect(&plain, &options()).await else {
        panic!("plaintext is refused")
    };
    assert!(format!("{err:?}").contains("pg_hba.conf"), "{err:?}");
}
