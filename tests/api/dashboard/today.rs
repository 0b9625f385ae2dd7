//! `/admin`, the landing page: today's and this week's live bookings in the dashboard's zone,
//! and what needs attention.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use reqwest::StatusCode;

use super::cancelled;
use crate::helpers::{Backend, TestApp, created_at, hours_from_now};
use crate::on_both_backends;

on_both_backends!(the_landing_page_shows_today_the_week_and_what_needs_attention);

/// The section of `html` with this id, up to the next section.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

async fn the_landing_page_shows_today_the_week_and_what_needs_attention(backend: Backend) {
    // The dashboard's zone is far from UTC, so a day in UTC is not the day the page shows.
    let zone_name = "Pacific/Kiritimati";
    let app = TestApp::spawn_with(backend, |s| {
        s.web.admin_time_zone = Some(zone_name.to_owned());
    })
    .await;
    let zone = TimeZone::get(zone_name).unwrap();
    let today = Timestamp::now().to_zoned_datetime(zone.clone()).date();
    let at = |d: jiff::civil::Date, mins: i64| {
        d.to_zoned_datetime(zone.clone()).unwrap().timestamp() + SignedDuration::from_mins(mins)
    };
    let tomorrow = today.tomorrow().unwrap();
    let later = today.checked_add(2.days()).unwrap();
    let monday = today
        .checked_add(i64::from(7 - today.weekday().to_monday_zero_offset()).days())
        .unwrap();

    // Early today (in the dashboard's zone), tomorrow, the day after, and a cancelled one today.
    let bodies = [
        created_at(at(today, 1), "TodayUid0000000000001"),
        created_at(at(tomorrow, 1), "TomorrowUid0000000001"),
        created_at(at(later, 1), "LaterUid0000000000001"),
        created_at(at(today, 2), "GoneTodayUid000000001"),
    ];
    for b in &bodies {
        assert_eq!(app.deliver(b).await.0, 200);
    }
    assert_eq!(app.deliver(&cancelled(&bodies[3])).await.0, 200);
    // A request waiting for the host, and a rejected delivery.
    let request = String::from_utf8(created_at(hours_from_now(30), "AskUid000000000000001"))
        .unwrap()
        .replace("\"BOOKING_CREATED\"", "\"BOOKING_REQUESTED\"")
        .replace("\"status\": \"ACCEPTED\"", "\"status\": \"PENDING\"");
    assert_eq!(app.deliver(request.as_bytes()).await.0, 200);
    assert_eq!(
        app.booking("AskUid000000000000001").await.status.as_str(),
        "pending"
    );

    let session = app.sign_in_as_admin().await;
    let (status, page) = session.get(&app, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Times in Pacific&#x2f;Kiritimati"), "{page}");
    let t = section(&page, "today-h");
    assert!(t.contains("TodayUid0000000000001"), "{t}");
    assert!(
        !t.contains("GoneTodayUid"),
        "cancelled bookings are not live: {t}"
    );
    assert!(!t.contains("TomorrowUid"), "{t}");
    // The row: time in the zone, attendee, event type, location, status.
    let time = at(today, 1)
        .to_zoned_datetime(zone.clone())
        .strftime("%H:%M")
        .to_string();
    assert!(t.contains(&format!("<td>{time}</td>")), "{time} in {t}");
    assert!(t.contains("Marco Rossi"), "{t}");
    assert!(t.contains("<td>intro-call</td>"), "{t}");
    assert!(t.contains(">confirmed</span>"), "{t}");
    let w = section(&page, "week-h");
    for (uid, day) in [
        ("TomorrowUid0000000001", tomorrow),
        ("LaterUid0000000000001", later),
    ] {
        assert_eq!(
            w.contains(uid),
            day < monday,
            "{uid} on {day}, week ends {monday}: {w}"
        );
    }
    assert!(!w.contains("TodayUid"), "{w}");
    let a = section(&page, "attention-h");
    assert!(a.contains("Awaiting your confirmation"), "{a}");
    assert!(a.contains("AskUid000000000000001"), "{a}");
    assert!(!a.contains("TodayUid"), "{a}");

    // A rejected delivery shows; the page is the landing page after sign-in.
    let (status, _) = app
        .deliver(b"{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":{}}")
        .await;
    assert_eq!(status, 400);
    let (_, page) = session.get(&app, "/admin").await;
    let a = section(&page, "attention-h");
    assert!(
        a.contains("Deliveries rejected in the last seven days"),
        "{a}"
    );
    assert!(a.contains("id=\"rejected-deliveries\""), "{a}");
}

/// With nothing waiting, the page says so.
async fn an_empty_day_says_nothing_needs_attention(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let session = app.sign_in_as_admin().await;
    let (status, page) = session.get(&app, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"attention-none\""), "{page}");
    assert!(page.contains("aria-current=\"page\">Today</a>"), "{page}");
}

on_both_backends!(an_empty_day_says_nothing_needs_attention);
