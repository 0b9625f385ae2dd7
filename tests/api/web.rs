//! The pages over plain HTTP: sign-in, sessions and CSRF refusals, the booking page's prefill,
//! headers and redirect rules, and the dashboard's listing on both databases. (The browser tests
//! in `browser.rs` show the same pages working in Chromium.)

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    the_dashboard_lists_filters_and_pages_through_bookings,
    admin_forms_refuse_a_missing_or_wrong_csrf_token,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_needs_a_session_and_the_right_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let http = no_redirects();
    for path in [
        "/admin",
        "/admin/bookings",
        "/admin/deliveries",
        "/admin/emails",
    ] {
        let r = http.get(app.url(path)).send().await.unwrap();
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        let to = r.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(to.starts_with("/admin"), "{path} → {to}");
    }
    let r = http
        .get(app.url("/admin/bookings"))
        .header("cookie", "calbook_admin=v1.99999999999.00.00")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()[LOCATION],
        "/admin/login?next=%2Fadmin%2Fbookings",
        "forged cookie"
    );

    // The login form's own token: without it, refused; with a wrong admin token, refused.
    let form = http.get(app.url("/admin/login")).send().await.unwrap();
    let login_cookie = set_cookie(&form, "calbook_login").unwrap();
    let login_cookie = login_cookie.split(';').next().unwrap().to_owned();
    let nonce = hidden(&form.text().await.unwrap(), "csrf");
    let r = http
        .post(app.url("/admin/login"))
        .form(&[("csrf", nonce.as_str()), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no login cookie");
    assert!(set_cookie(&r, "calbook_admin").is_none());
    let r = http
        .post(app.url("/admin/login"))
        .header("cookie", &login_cookie)
        .form(&[
            ("csrf", nonce.as_str()),
            ("token", "wrong-token-0123456789"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&r, "calbook_admin").is_none());
    assert!(r.text().await.unwrap().contains("not right"));
    // The session survives nowhere but in its cookie: sign in works, and a POST needs it.
    let session = app.sign_in_as_admin().await;
    let r = http
        .post(app.url("/admin/logout"))
        .form(&[("csrf", session.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "no session, no logout"
    );
}

async fn admin_forms_refuse_a_missing_or_wrong_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let session = app.sign_in_as_admin().await;
    let http = no_redirects();
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        http.post(app.url(path))
            .header("cookie", &session.cookie)
            .form(&form)
            .send()
    };
    let r = post("/admin/emails/retry-dead", vec![]).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("security token"));
    let other = "0".repeat(64);
    let r = post("/admin/emails/retry-dead", vec![("csrf", other)])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post("/admin/logout", vec![]).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "even signing out needs the token"
    );
    let r = post(
        "/admin/emails/retry-dead",
        vec![("csrf", session.csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin/emails?retried=0");
    let r = post("/admin/logout", vec![("csrf", session.csrf.clone())])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookie(&r, "calbook_admin")
            .unwrap()
            .contains("Max-Age=0")
    );
}

async fn the_dashboard_lists_filters_and_pages_through_bookings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..60 {
        let (name, email) = if i % 10 == 0 {
            (format!("Zoë O'Brien {i}"), format!("zoe{i}@obrien.example"))
        } else {
            (format!("Client {i}"), format!("client{i}@example.com"))
        };
        let (status, _) = app
            .deliver(&booked_by(
                &format!("ListUid{i:015}"),
                24 + i,
                &name,
                &email,
            ))
            .await;
        assert_eq!(status, 200);
    }
    app.deliver(&booked_by(
        "PastUid000000000000001",
        -48,
        "Earlier Client",
        "e@example.com",
    ))
    .await;
    let session = app.sign_in_as_admin().await;

    // Upcoming, earliest first, 50 to a page, then the rest.
    let (status, page1) = session.get(&app, "/admin/bookings").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page1.matches("href=\"/admin/bookings/ListUid").count(), 50);
    assert!(
        page1.find("ListUid000000000000000").unwrap()
            < page1.find("ListUid000000000000001").unwrap()
    );
    assert!(!page1.contains("PastUid"));
    let next = page1
        .split("href=\"/admin/bookings?")
        .filter_map(|s| s.split('"').next())
        .find(|q| q.contains("cursor="))
        .expect("a next page link")
        .replace("&amp;", "&");
    let (_, page2) = session.get(&app, &format!("/admin/bookings?{next}")).await;
    assert_eq!(page2.matches("href=\"/admin/bookings/ListUid").count(), 10);
    assert!(
        page2.contains("ListUid000000000000059") && !page2.contains("ListUid000000000000049\"")
    );

    // Past, search (case-insensitive, quotes as text), status.
    let (_, past) = session.get(&app, "/admin/bookings?view=past").await;
    assert!(past.contains("PastUid000000000000001") && !past.contains("ListUid"));
    let (_, found) = session.get(&app, "/admin/bookings?q=O%27BRIEN").await;
    assert_eq!(
        found.matches("href=\"/admin/bookings/ListUid").count(),
        6,
        "{found}"
    );
    let (_, none) = session.get(&app, "/admin/bookings?status=cancelled").await;
    assert!(none.contains("No upcoming bookings match"));
    let (status, bad) = session.get(&app, "/admin/bookings?status=done").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad.contains("status &quot;done&quot; is not a booking status"),
        "{bad}"
    );
    let (status, _) = session.get(&app, "/admin/bookings?from=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // One booking's page; an unknown uid is a 404 page.
    let (status, one) = session
        .get(&app, "/admin/bookings/ListUid000000000000010")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        one.contains("Zoë O&#x27;Brien 10") || one.contains("Zoë O&#39;Brien 10"),
        "{one}"
    );
    assert!(one.contains("confirmation"), "its emails are listed");
    let (status, _) = session.get(&app, "/admin/bookings/NoSuchUid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let listed = one
        .split("id=\"booking-deliveries\"")
        .nth(1)
        .expect("its deliveries");
    assert_eq!(
        listed
            .split("</ul>")
            .next()
            .unwrap()
            .matches("BOOKING_CREATED")
            .count(),
        1,
        "the delivery that created it"
    );
    let (status, deliveries) = session.get(&app, "/admin/deliveries").await;
    assert_eq!(status, StatusCode::OK);
    assert!(deliveries.contains("BOOKING_CREATED"));

    // Deliveries by outcome: one signed but unusable body is kept as rejected.
    let (status, _) = app
        .deliver(b"{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":{}}")
        .await;
    assert_eq!(status, 400);
    let (_, rejected) = session
        .get(&app, "/admin/deliveries?outcome=rejected")
        .await;
    assert_eq!(
        rejected.matches("outcome-rejected\">rejected").count(),
        1,
        "{rejected}"
    );
    assert!(!rejected.contains("outcome-applied\">"));
    let (_, applied) = session.get(&app, "/admin/deliveries?outcome=applied").await;
    assert_eq!(applied.matches("outcome-applied\">applied").count(), 61);
    let (status, bad) = session.get(&app, "/admin/deliveries?outcome=lost").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad.contains("unknown delivery outcome &quot;lost&quot;"),
        "{bad}"
    );
}

/// The embed configuration `/book` hands to its script.
fn embed_config(html: &str) -> Value {
    let start =
        html.find("id=\"calbook-embed\">").expect("an embed") + "id=\"calbook-embed\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_page_prefills_a_signed_in_client_and_keeps_redirects_on_site() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.jwt_secret = Some(JWT_SECRET.to_owned());
        s.auth.issuer = Some(ISSUER.to_owned());
        s.web.calcom_link = Some("acme/intro-call".into());
        s.web.embed_origin = Some("https://cal.acme.example".into());
    })
    .await;
    let http = no_redirects();
    let mut c = claims(CLIENT_1, "ann@example.com");
    c["user_metadata"] = serde_json::json!({"full_name": "Ann </script><script>alert(1)</script>"});
    let token = hs256(&c);

    for (how, header, value) in [
        ("bearer", "authorization", format!("Bearer {token}")),
        ("cookie", "cookie", format!("sb-access-token={token}")),
    ] {
        let r = http
            .get(app.url("/book?name=Someone%20Else"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let csp = r.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self' https://cal.acme.example;"),
            "{csp}"
        );
        assert!(csp.contains("frame-src https://cal.acme.example;"), "{csp}");
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("<script>alert"),
            "{how}: the name stays text"
        );
        let cfg = embed_config(&html);
        assert_eq!(cfg["prefill"]["client_id"], CLIENT_1, "{how}");
        assert_eq!(cfg["prefill"]["email"], "ann@example.com", "{how}");
        // The proof that makes the client id count at ingest: for this client and its email.
        let proof = cfg["prefill"]["client_proof"].as_str().unwrap();
        let key =
            calbook::auth::ownership::OwnershipKey::from_secret(crate::helpers::OWNERSHIP_KEY);
        let now = calbook::time::now();
        assert_eq!(
            key.verify(proof, CLIENT_1.parse().unwrap(), "ann@example.com", now),
            Ok(()),
            "{how}"
        );
        assert!(
            key.verify(proof, CLIENT_1.parse().unwrap(), "bea@example.com", now)
                .is_err()
        );
        assert_eq!(
            cfg["prefill"]["name"], "Ann </script><script>alert(1)</script>",
            "{how}"
        );
        assert_eq!(cfg["link"], "acme/intro-call");
        assert!(!html.contains(JWT_SECRET) && !html.contains(&token));
    }

    // A bad token is no sign-in: the page still works, with the query's prefill only.
    let html = http
        .get(app.url("/book?name=Bea&email=bea%40example.com&redirect=%2F%2Fevil.example"))
        .header("authorization", "Bearer not-a-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cfg = embed_config(&html);
    assert_eq!(cfg["prefill"]["client_id"], Value::Null);
    assert_eq!(cfg["prefill"]["client_proof"], Value::Null);
    assert_eq!(cfg["prefill"]["name"], "Bea");
    assert!(
        !html.contains("evil.example"),
        "an off-site redirect is dropped"
    );
    // RELIABILITY §7 item 35: off-site redirects are not followed; the page shows no Continue link.
    for evil in [
        "https%3A%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "javascript%3Aalert(1)",
    ] {
        let html = http
            .get(app.url(&format!("/book?redirect={evil}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !html.contains("evil.example")
                && !html.contains("javascript:")
                && !html.contains("booking-continue"),
            "{evil}"
        );
    }
    let html = http
        .get(app.url("/book?redirect=%2Faccount%2Fbookings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link = html.replace("&#x2f;", "/");
    assert!(
        link.contains("href=\"/account/bookings\""),
        "the same-site path is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_booking_page_explains_the_setup_and_loads_no_script() {
    let app = TestApp::spawn_with_supabase(Backend::Sqlite).await;
    let r = reqwest::get(app.url("/book")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("CALCOM_LINK") && !html.contains("book.js"));
    let css = reqwest::get(app.url("/assets/calbook.css")).await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let missing = reqwest::get(app.url("/assets/nope.js")).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_tokens_close_sign_in_for_a_while() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let http = no_redirects();
    let form = http.get(app.url("/admin/login")).send().await.unwrap();
    let login_cookie = set_cookie(&form, "calbook_login").unwrap();
    let login_cookie = login_cookie.split(';').next().unwrap().to_owned();
    let nonce = hidden(&form.text().await.unwrap(), "csrf");
    let attempt = |token: &'static str| {
        http.post(app.url("/admin/login"))
            .header("cookie", &login_cookie)
            .form(&[("csrf", nonce.as_str()), ("token", token)])
            .send()
    };
    for _ in 0..10 {
        let r = attempt("wrong-token-0123456789").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right token waits: guessing cannot go on at speed.
    let r = attempt(ADMIN_TOKEN).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(set_cookie(&r, "calbook_admin").is_none());
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));
    assert!(app.metrics().await.contains("outcome=\"throttled\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supabase_admin_uses_the_dashboard_with_its_access_token() {
    let app = TestApp::spawn_with_supabase(Backend::Sqlite).await;
    let http = no_redirects();
    let mut admin = claims("99999999-9999-4999-8999-999999999999", "owner@acme.example");
    admin["app_metadata"] = serde_json::json!({"provider": "email", "role": "admin"});
    let admin = hs256(&admin);
    let client = hs256(&claims(CLIENT_1, "ann@example.com"));
    let mut pretender = claims(CLIENT_1, "ann@example.com");
    pretender["user_metadata"] = serde_json::json!({"role": "admin"});
    let pretender = hs256(&pretender);

    let get = |header: &'static str, value: String| {
        http.get(app.url("/admin/emails"))
            .header(header, value)
            .send()
    };
    for (how, header, value) in [
        ("bearer", "authorization", format!("Bearer {admin}")),
        ("cookie", "cookie", format!("sb-access-token={admin}")),
        (
            "admin token",
            "authorization",
            format!("Bearer {ADMIN_TOKEN}"),
        ),
    ] {
        let r = get(header, value).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{how}");
    }
    for (how, value) in [
        ("client", format!("Bearer {client}")),
        ("user_metadata admin", format!("Bearer {pretender}")),
        ("garbage", "Bearer nope".to_owned()),
    ] {
        let r = get("authorization", value).await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "{how} is sent to the login form"
        );
    }
    let r = http
        .get(app.url("/admin/emails"))
        .header("cookie", format!("sb-access-token={ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the admin token never comes from a cookie"
    );

    // A form posted with the Supabase cookie still needs the page's CSRF token.
    let cookie = format!("sb-access-token={admin}");
    let page = get("cookie", cookie.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf");
    let post = |form: Vec<(&'static str, String)>| {
        http.post(app.url("/admin/emails/retry-dead"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    assert_eq!(post(vec![]).await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = post(vec![("csrf", csrf)]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
