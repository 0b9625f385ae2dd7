use super::*;
use uuid::Uuid;

/// The query of `/api/bookings?k=v&…` (values already URL-encoded).
fn query(pairs: &[(&str, &str)]) -> ListQuery {
    let qs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let uri = format!("/api/bookings?{}", qs.join("&")).parse().unwrap();
    Query::<ListQuery>::try_from_uri(&uri).unwrap().0
}

fn error_of(pairs: &[(&str, &str)]) -> ApiError {
    query(pairs).filter(Scope::All).unwrap_err()
}

#[test]
fn defaults() {
    let f = query(&[]).filter(Scope::All).unwrap();
    assert_eq!(f.limit, DEFAULT_LIMIT);
    assert_eq!(f.order, SortOrder::Descending);
    assert!(f.status.is_none() && f.from.is_none() && f.after.is_none());
    let f = query(&[("status", ""), ("limit", "")])
        .filter(Scope::All)
        .unwrap();
    assert!(f.status.is_none());
    assert_eq!(f.limit, DEFAULT_LIMIT);
}

#[test]
fn valid_values() {
    let c = Cursor {
        starts_at: "2026-03-10T14:00:00Z".parse().unwrap(),
        id: Uuid::now_v7(),
    };
    let f = query(&[
        ("status", "reschedule_requested"),
        ("from", "2026-03-01T00:00:00Z"),
        ("to", "2026-04-01T00:00:00%2B02:00"),
        ("attendee_email", "a@example.com"),
        ("order", "asc"),
        ("limit", "200"),
        ("cursor", &c.encode()),
    ])
    .filter(Scope::All)
    .unwrap();
    assert_eq!(f.status, Some(Status::RescheduleRequested));
    assert_eq!(f.to.unwrap().to_string(), "2026-03-31T22:00:00Z");
    assert_eq!(f.order, SortOrder::Ascending);
    assert_eq!(f.limit, 200);
    assert_eq!(f.after, Some(c));
}

#[test]
fn invalid_values_are_named() {
    for (pairs, code, needle) in [
        (vec![("status", "done")], "invalid_parameter", "\"done\""),
        (vec![("from", "yesterday")], "invalid_parameter", "from="),
        (
            vec![("to", "2026-03-10T14:00:00")],
            "invalid_parameter",
            "to=",
        ),
        (vec![("limit", "201")], "invalid_parameter", "limit=\"201\""),
        (vec![("limit", "0")], "invalid_parameter", "limit="),
        (vec![("limit", "-1")], "invalid_parameter", "limit="),
        (vec![("order", "up")], "invalid_parameter", "order="),
        (vec![("cursor", "bm9wZQ")], "invalid_cursor", "cursor"),
        (
            vec![
                ("from", "2026-03-02T00:00:00Z"),
                ("to", "2026-03-01T00:00:00Z"),
            ],
            "invalid_parameter",
            "from",
        ),
    ] {
        let e = error_of(&pairs);
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{pairs:?}");
        assert_eq!(e.code, code, "{pairs:?}");
        assert!(e.message.contains(needle), "{pairs:?}: {}", e.message);
    }
}
