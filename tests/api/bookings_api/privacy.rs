//! What the API does not give away (issue 16, row 11): another client's booking answers exactly
//! like an unknown uid, links to bookings the caller may not see are `null`, and no answer may be
//! stored by a cache. Ownership here is by verified email only (no client ids).

use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    another_clients_booking_answers_exactly_like_an_unknown_uid,
    links_to_bookings_the_caller_may_not_see_are_null,
    every_api_answer_is_no_store,
);

const ANN: &str = "ann@example.com";
const MARCO: &str = "marco.rossi@example.com";
/// The `created` and `rescheduled` samples' uids: A is rescheduled to B.
const A: &str = CREATED_UID;
const B: &str = RESCHEDULED_UID;

/// Status, the headers a client could tell apart, and the raw body.
async fn raw(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, Vec<(String, String)>, String) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let mut headers: Vec<(String, String)> = res
        .headers()
        .iter()
        .filter(|(k, _)| *k != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (status, headers, res.text().await.unwrap())
}

async fn another_clients_booking_answers_exactly_like_an_unknown_uid(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    book(&app, "anns", hours_from_now(24), ANN, None).await;
    book(&app, "bobs", hours_from_now(48), "bob@example.com", None).await;
    let ann = hs256(&claims(CLIENT_1, ANN));

    for suffix in ["", "/history"] {
        let (status, _, _) = raw(&app, &format!("/api/bookings/anns{suffix}"), &ann).await;
        assert_eq!(status, StatusCode::OK, "her own booking{suffix}");
        // Same length uids, so that even Content-Length cannot differ.
        let theirs = raw(&app, &format!("/api/bookings/bobs{suffix}"), &ann).await;
        let unknown = raw(&app, &format!("/api/bookings/nope{suffix}"), &ann).await;
        assert_eq!(theirs.0, StatusCode::NOT_FOUND, "{suffix}: {}", theirs.2);
        assert_eq!(
            theirs, unknown,
            "{suffix}: existing and unknown are indistinguishable"
        );
        let body: Value = serde_json::from_str(&theirs.2).unwrap();
        assert_eq!(body["error"], "not_found");
    }
    // An admin still sees the booking.
    let (status, _, _) = raw(&app, "/api/bookings/bobs", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
}

async fn links_to_bookings_the_caller_may_not_see_are_null(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    // Ann booked A; the reschedule to B was made for Marco (the sample's attendee).
    book(&app, A, hours_from_now(24), ANN, None).await;
    app.deliver_sample("rescheduled").await;
    // Marco booked A2 himself and moved it to C2: both his.
    book(&app, "A2", hours_from_now(72), MARCO, None).await;
    let moved = String::from_utf8(sample("rescheduled"))
        .unwrap()
        .replace(B, "C2")
        .replace(A, "A2");
    let (status, body) = app.deliver(moved.as_bytes()).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::OK, &"applied".into())
    );

    let ann = hs256(&claims(CLIENT_1, ANN));
    let marco = hs256(&claims(CLIENT_2, MARCO));
    let admin = hs256(&admin_claims());
    let one = |token: &str, uid: &str| {
        let (app, token, uid) = (&app, token.to_owned(), uid.to_owned());
        async move {
            let (status, _, body) = get(app, &format!("/api/bookings/{uid}"), Some(&token)).await;
            assert_eq!(status, StatusCode::OK, "{uid}: {body}");
            body
        }
    };

    // The admin sees every link.
    assert_eq!(one(&admin, A).await["rescheduled_to"], B);
    assert_eq!(one(&admin, B).await["rescheduled_from"], A);

    // Ann sees A, but not where it went; Marco sees B, but not where it came from.
    let a = one(&ann, A).await;
    assert_eq!(a["status"], "rescheduled");
    assert_eq!(a["rescheduled_to"], Value::Null, "{a}");
    assert_eq!(uid_list(&a["reschedule_chain"]), [A]);
    let b = one(&marco, B).await;
    assert_eq!(b["rescheduled_from"], Value::Null, "{b}");
    assert_eq!(uid_list(&b["reschedule_chain"]), [B]);

    // Nor through the history.
    for (token, uid) in [(&ann, A), (&marco, B)] {
        let (_, _, h) = get(&app, &format!("/api/bookings/{uid}/history"), Some(token)).await;
        let text = h.to_string();
        let other = if uid == A { B } else { A };
        assert!(
            !text.contains(other),
            "{uid}'s history names {other}: {text}"
        );
    }
    let (_, _, h) = get(&app, &format!("/api/bookings/{A}/history"), Some(&admin)).await;
    assert!(
        h.to_string().contains(B),
        "the admin's history keeps the link"
    );

    // Nor through the listing; and links between a client's own bookings stay.
    let (_, _, page) = get(&app, "/api/bookings", Some(&marco)).await;
    let by_uid = |uid: &str| {
        page["bookings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["uid"] == uid)
            .unwrap_or_else(|| panic!("{uid} listed: {page}"))
            .clone()
    };
    assert_eq!(by_uid(B)["rescheduled_from"], Value::Null);
    assert_eq!(by_uid("C2")["rescheduled_from"], "A2");
    assert_eq!(by_uid("A2")["rescheduled_to"], "C2");
    assert_eq!(
        uid_list(&one(&marco, "C2").await["reschedule_chain"]),
        ["A2", "C2"]
    );
    let (_, _, page) = get(&app, "/api/bookings", Some(&ann)).await;
    assert_eq!(uid_list(&page["bookings"]), [A]);
    assert_eq!(page["bookings"][0]["rescheduled_to"], Value::Null);
}

async fn every_api_answer_is_no_store(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    book(&app, "anns", hours_from_now(24), ANN, None).await;
    let ann = hs256(&claims(CLIENT_1, ANN));
    let http = &app.client;
    let delivery = sample("created");
    let sig = calbook::webhook::sign(SAMPLE_SECRET.as_bytes(), &delivery);
    let requests = [
        (
            "listing",
            http.get(app.url("/api/bookings")).bearer_auth(&ann),
        ),
        (
            "booking",
            http.get(app.url("/api/bookings/anns")).bearer_auth(&ann),
        ),
        (
            "history",
            http.get(app.url("/api/bookings/anns/history"))
                .bearer_auth(&ann),
        ),
        ("no token", http.get(app.url("/api/bookings"))),
        (
            "bad token",
            http.get(app.url("/api/bookings")).bearer_auth("x.y.z"),
        ),
        (
            "bad parameter",
            http.get(app.url("/api/bookings?limit=0")).bearer_auth(&ann),
        ),
        (
            "unknown uid",
            http.get(app.url("/api/bookings/nope")).bearer_auth(&ann),
        ),
        ("unknown path", http.get(app.url("/api/nothing-here"))),
        (
            "wrong method",
            http.delete(app.url("/api/bookings")).bearer_auth(&ann),
        ),
        ("document", http.get(app.url("/api/openapi.json"))),
        ("unsigned webhook", http.post(app.webhook_url()).body("{}")),
        (
            "signed webhook",
            http.post(app.webhook_url())
                .header("x-cal-signature-256", sig)
                .header("content-type", "application/json")
                .body(delivery.clone()),
        ),
    ];
    let mut statuses = Vec::new();
    for (what, req) in requests {
        let res = req.send().await.unwrap();
        statuses.push(res.status().as_u16());
        assert_eq!(
            res.headers()
                .get(CACHE_CONTROL)
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}: {}",
            res.status()
        );
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 401, 401, 400, 404, 404, 405, 200, 401, 200],
        "the answers checked are the ones meant"
    );
}
