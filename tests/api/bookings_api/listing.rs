//! Who sees which booking, filters, cursor paging under concurrent inserts, reschedule chains
//! and history.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_client_sees_only_its_bookings_an_admin_sees_all,
    pages_neither_repeat_nor_skip_when_bookings_arrive_between_them,
    filters_narrow_the_listing_and_bad_values_are_400,
    reschedule_chain_and_history_follow_the_callers_rights,
);

async fn a_client_sees_only_its_bookings_an_admin_sees_all(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    book(
        &app,
        "c1-by-id",
        hours_from_now(24),
        "ann@example.com",
        Some(CLIENT_1),
    )
    .await;
    // No client id: it is client 1's because the attendee email is its verified email.
    book(
        &app,
        "c1-by-email",
        hours_from_now(48),
        "Ann@Example.com",
        None,
    )
    .await;
    book(
        &app,
        "c2-by-id",
        hours_from_now(72),
        "ann@example.com",
        Some(CLIENT_2),
    )
    .await;
    book(&app, "nobodys", hours_from_now(96), "zed@example.com", None).await;

    let c1 = hs256(&claims(CLIENT_1, "ann@example.com"));
    let c2 = hs256(&claims(CLIENT_2, "bob@example.com"));
    let admin = hs256(&admin_claims());

    assert_eq!(
        uids(&app, "/api/bookings", &c1).await,
        ["c1-by-email", "c1-by-id"],
        "latest start first; another client's id wins over a matching email"
    );
    assert_eq!(uids(&app, "/api/bookings", &c2).await, ["c2-by-id"]);
    let all = ["c1-by-email", "c1-by-id", "c2-by-id", "nobodys"];
    assert_eq!(sorted(uids(&app, "/api/bookings", &admin).await), all);
    assert_eq!(
        sorted(uids(&app, "/api/bookings", ADMIN_TOKEN).await),
        all,
        "the admin token is an admin bearer token"
    );

    // One booking: the client's own, with its notes but not the business's metadata.
    let (status, _, own) = get(&app, "/api/bookings/c1-by-id", Some(&c1)).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["uid"], "c1-by-id");
    assert_eq!(own["client_id"], CLIENT_1);
    assert_eq!(own["status"], "confirmed");
    assert_eq!(own["notes"], "Would like to discuss the spring order.");
    assert_eq!(own["attendee_email"], "ann@example.com");
    assert!(own.get("metadata").is_none() && own.get("calcom_id").is_none());
    assert!(own["organizer"].get("email").is_none());
    assert_eq!(own["organizer"]["name"], "Dana Whitfield");
    assert!(own.get("id").is_none(), "internal ids stay inside");
    let (_, _, as_admin) = get(&app, "/api/bookings/c1-by-id", Some(&admin)).await;
    assert_eq!(as_admin["metadata"]["lead_ref"], "LR-20417");
    assert_eq!(as_admin["organizer"]["email"], "dana@example.com");

    // Someone else's booking and an unknown one: both 404 (see privacy.rs), both JSON.
    for path in [
        "/api/bookings/c2-by-id",
        "/api/bookings/c2-by-id/history",
        "/api/bookings/no-such-uid",
        "/api/bookings/no-such-uid/history",
    ] {
        let (status, _, body) = get(&app, path, Some(&c1)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"], "not_found");
    }
    let (status, _, body) = get(&app, "/api/bookings/nobodys", Some(ADMIN_TOKEN)).await;
    assert_eq!((status, &body["uid"]), (StatusCode::OK, &json!("nobodys")));

    // History: the client's own, without delivery ids; an admin's with them.
    let (status, _, h) = get(&app, "/api/bookings/c1-by-email/history", Some(&c1)).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["uid"], "c1-by-email");
    assert_eq!(h["history"][0]["action"], "created");
    assert!(h["history"][0].get("delivery_id").is_none());
    let (_, _, h) = get(&app, "/api/bookings/c1-by-email/history", Some(&admin)).await;
    assert!(h["history"][0]["delivery_id"].is_string());
}

async fn pages_neither_repeat_nor_skip_when_bookings_arrive_between_them(backend: Backend) {
    // (order, first page, bookings added before the cursor, after it, the pages that follow)
    type Case = (
        &'static str,
        [&'static str; 2],
        [i64; 2],
        i64,
        [&'static str; 4],
    );
    let cases: [Case; 2] = [
        (
            "asc",
            ["h10", "h20"],
            [5, 15],
            35,
            ["h30", "h35", "h40", "h50"],
        ),
        (
            "desc",
            ["h50", "h40"],
            [55, 45],
            25,
            ["h30", "h25", "h20", "h10"],
        ),
    ];
    for (order, first, before, after, rest) in cases {
        let app = TestApp::spawn_with_supabase(backend).await;
        let token = hs256(&claims(CLIENT_1, "ann@example.com"));
        let mine = async |h: i64| {
            book(
                &app,
                &format!("h{h}"),
                hours_from_now(h),
                "ann@example.com",
                Some(CLIENT_1),
            )
            .await
        };
        for h in [10, 20, 30, 40, 50] {
            mine(h).await;
        }
        // Another client's booking never shows up, nor counts towards a page.
        book(
            &app,
            "other",
            hours_from_now(35),
            "bob@example.com",
            Some(CLIENT_2),
        )
        .await;

        let base = format!("/api/bookings?order={order}&limit=2");
        let (status, _, page1) = get(&app, &base, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{page1}");
        assert_eq!(uid_list(&page1["bookings"]), first, "{order}");
        let mut cursor = page1["next_cursor"].as_str().unwrap().to_owned();

        // Meanwhile: bookings that sort before the cursor (one of them between the rows of
        // page 1), and one after it.
        for h in before {
            mine(h).await;
        }
        mine(after).await;

        let mut seen: Vec<String> = first.iter().map(|s| s.to_string()).collect();
        let mut pages = 0;
        loop {
            let (status, _, page) =
                get(&app, &format!("{base}&cursor={cursor}"), Some(&token)).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let got = uid_list(&page["bookings"]);
            assert!(got.len() <= 2);
            seen.extend(got);
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => break,
            }
            assert!(pages < 10, "paging ends");
        }
        let expected: Vec<&str> = first.iter().chain(rest.iter()).copied().collect();
        assert_eq!(
            seen, expected,
            "{order}: nothing after the cursor is skipped, nothing before it reappears"
        );
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len());
        assert_eq!(
            pages, 2,
            "{order}: the last page says so (no empty extra page)"
        );
    }
}

async fn filters_narrow_the_listing_and_bad_values_are_400(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    book(
        &app,
        "early",
        "2030-01-10T10:00:00Z".parse().unwrap(),
        "ann@example.com",
        None,
    )
    .await;
    book(
        &app,
        "mid",
        "2030-01-20T10:00:00Z".parse().unwrap(),
        "bob@example.com",
        None,
    )
    .await;
    book(
        &app,
        "late",
        "2030-01-30T10:00:00Z".parse().unwrap(),
        "ann@example.com",
        None,
    )
    .await;
    let cancel = String::from_utf8(sample("cancelled"))
        .unwrap()
        .replace(RESCHEDULED_UID, "mid");
    let (status, _) = app.deliver(cancel.as_bytes()).await;
    assert_eq!(status, StatusCode::OK);

    for (query, expected) in [
        ("status=cancelled", vec!["mid"]),
        ("status=confirmed&order=asc", vec!["early", "late"]),
        ("from=2030-01-15T00:00:00Z", vec!["late", "mid"]),
        ("to=2030-01-20T10:00:00Z", vec!["early"]),
        (
            "from=2030-01-20T11:00:00%2B01:00&to=2030-01-30T00:00:00Z",
            vec!["mid"],
        ),
        (
            "attendee_email=ANN@example.com&order=asc",
            vec!["early", "late"],
        ),
    ] {
        assert_eq!(
            uids(&app, &format!("/api/bookings?{query}"), ADMIN_TOKEN).await,
            expected,
            "{query}"
        );
    }

    for (query, code, needle) in [
        ("status=done", "invalid_parameter", "done"),
        ("from=yesterday", "invalid_parameter", "yesterday"),
        ("to=2030-01-01", "invalid_parameter", "to="),
        ("limit=201", "invalid_parameter", "201"),
        ("limit=ten", "invalid_parameter", "ten"),
        ("order=sideways", "invalid_parameter", "sideways"),
        ("cursor=garbage", "invalid_cursor", "cursor"),
    ] {
        let (status, _, body) =
            get(&app, &format!("/api/bookings?{query}"), Some(ADMIN_TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], code, "{query}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
}

async fn reschedule_chain_and_history_follow_the_callers_rights(backend: Backend) {
    const A: &str = CREATED_UID;
    const B: &str = RESCHEDULED_UID;
    let app = TestApp::spawn_with_supabase(backend).await;
    // A was booked by client 1 through the embed; the reschedule to B carries no client id,
    // so B belongs to whoever has the attendee's verified email.
    let proof = app.ownership_proof(CLIENT_1, "marco.rossi@example.com");
    let created_a = String::from_utf8(sample("created")).unwrap().replace(
        "\"lead_ref\":\"LR-20417\"",
        &format!("\"client_id\":\"{CLIENT_1}\",\"client_proof\":\"{proof}\""),
    );
    app.deliver(created_a.as_bytes()).await;
    app.deliver_sample("rescheduled").await;

    let chain = |body: &Value| uid_list(&body["reschedule_chain"]);

    let admin = hs256(&admin_claims());
    for uid in [A, B] {
        let (status, _, body) = get(&app, &format!("/api/bookings/{uid}"), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(chain(&body), [A, B], "earliest first, from either end");
    }
    let (_, _, b) = get(&app, &format!("/api/bookings/{B}"), Some(&admin)).await;
    assert_eq!(b["rescheduled_from"], A);
    assert_eq!(b["reschedule_chain"][0]["status"], "rescheduled");
    assert_eq!(b["reschedule_chain"][1]["status"], "confirmed");

    // Client 1 owns A by id but not B (another email): its chain stops at what it may see.
    let c1 = hs256(&claims(CLIENT_1, "ann@example.com"));
    let (status, _, a) = get(&app, &format!("/api/bookings/{A}"), Some(&c1)).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(chain(&a), [A]);
    assert_eq!(
        a["rescheduled_to"],
        Value::Null,
        "B is not client 1's to see"
    );
    let (status, _, _) = get(&app, &format!("/api/bookings/{B}"), Some(&c1)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The attendee, signed in with the booking's email, owns B (no client id) but not A.
    let marco = hs256(&claims(CLIENT_2, "marco.rossi@example.com"));
    let (_, _, b) = get(&app, &format!("/api/bookings/{B}"), Some(&marco)).await;
    assert_eq!(chain(&b), [B]);

    // History, oldest first, as stored.
    let (status, _, h) = get(&app, &format!("/api/bookings/{A}/history"), Some(&c1)).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    let actions: Vec<&str> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, app.history_actions(A).await);
    assert_eq!(actions.first(), Some(&"created"));
    assert_eq!(h["history"].as_array().unwrap().len(), 2, "{h}");
    let last = &h["history"][1];
    assert_eq!(last["new_values"]["status"], "rescheduled");
    assert_eq!(last["new_values"]["rescheduled_to"], Value::Null, "{h}");
    let (_, _, h) = get(&app, &format!("/api/bookings/{A}/history"), Some(&admin)).await;
    assert_eq!(h["history"][1]["new_values"]["rescheduled_to"], B);
}
