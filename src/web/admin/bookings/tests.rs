use super::*;

fn q(pairs: &[(&str, &str)]) -> ListQuery {
    let s = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    serde_urlencoded_from(&s)
}

fn serde_urlencoded_from(s: &str) -> ListQuery {
    let pairs: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(s.as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| pairs.get(k).cloned();
    ListQuery {
        view: get("view"),
        status: get("status"),
        from: get("from"),
        to: get("to"),
        q: get("q"),
        cursor: get("cursor"),
    }
}

#[test]
fn upcoming_starts_now_and_past_ends_now() {
    let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
    let (v, f) = filter_for(&q(&[]), now, &TimeZone::UTC).unwrap();
    assert_eq!(
        (v, f.from, f.to, f.order),
        (View::Upcoming, Some(now), None, SortOrder::Ascending)
    );
    let (v, f) = filter_for(
        &q(&[("view", "past"), ("to", "2026-12-31")]),
        now,
        &TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(
        (v, f.to, f.order),
        (View::Past, Some(now), SortOrder::Descending)
    );
}

#[test]
fn dates_are_days_in_the_dashboard_zone_and_to_is_inclusive() {
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let (_, f) = filter_for(
        &q(&[("from", "2026-03-29"), ("to", "2026-03-29")]),
        now,
        &berlin,
    )
    .unwrap();
    assert_eq!(f.from, Some("2026-03-28T23:00:00Z".parse().unwrap()));
    assert_eq!(
        f.to,
        Some("2026-03-29T22:00:00Z".parse().unwrap()),
        "a 23-hour day"
    );
}

#[test]
fn bad_filter_values_are_named() {
    let now = Timestamp::UNIX_EPOCH;
    for (k, v, needle) in [
        ("view", "soon", "view"),
        ("status", "done", "status"),
        ("from", "25/11/2026", "from"),
        ("cursor", "garbage", "cursor"),
    ] {
        let Err(BadValue(m)) = filter_for(&q(&[(k, v)]), now, &TimeZone::UTC) else {
            panic!("{k}={v} accepted");
        };
        assert!(m.contains(needle), "{m}");
    }
}
