//! The issue-11 shapes `calbook trigger` can send: seats, a weekly series and its cancel-all,
//! payments, a no-show, a reassignment and a location change. Each body is the booking sample
//! changed as Cal.com changes it (the sources are named in `crate::booking::rules` and
//! `crate::webhook::payload`).

use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

use super::{CANCELLED, CREATED, TriggerArgs, TriggerEvent, new_uid};

/// How many occurrences `series` books.
pub const SERIES_COUNT: i64 = 4;
/// The seat `seat-added` / `seat-cancelled` act on, unless `--attendee` names another.
pub const SEAT_EMAIL: &str = "second.seat@example.com";

/// The start of the first occurrence of a weekly series: the next Monday, 09:00 UTC, at least a
/// day ahead, so that `series` and a later `series-cancel-all` agree on the dates.
fn series_start(now: Timestamp) -> anyhow::Result<Timestamp> {
    const DAY: i64 = 86_400;
    let ahead = now.checked_add(25.hours())?.as_second();
    let day = ahead.div_euclid(DAY);
    // 1970-01-01 was a Thursday: three days after a Monday.
    let to_monday = (7 - (day + 3).rem_euclid(7)) % 7;
    let mut start = (day + to_monday) * DAY + 9 * 3600;
    if start < ahead {
        start += 7 * DAY;
    }
    Ok(Timestamp::from_second(start)?)
}

fn week(start: Timestamp, n: i64) -> anyhow::Result<Timestamp> {
    Ok(start.checked_add((24 * 7 * n).hours())?)
}

/// The bodies for a shape, `None` for the events `build` sends itself.
pub fn bodies(
    args: &TriggerArgs,
    now: Timestamp,
    set_booking: &dyn Fn(&mut Value, &str, Timestamp),
) -> Option<anyhow::Result<Vec<(&'static str, Value)>>> {
    let uid = || args.uid.clone().unwrap_or_else(new_uid);
    let created = || -> anyhow::Result<Value> { Ok(serde_json::from_str(CREATED)?) };
    let tomorrow = || -> anyhow::Result<Timestamp> {
        Ok(
            Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(3600))?
                .checked_add(25.hours())?,
        )
    };
    let attendee = args.attendee.clone();
    let run = || -> anyhow::Result<Vec<(&'static str, Value)>> {
        Ok(match args.event {
            TriggerEvent::SeatAdded | TriggerEvent::SeatCancelled => {
                let email = attendee.clone().unwrap_or_else(|| SEAT_EMAIL.to_owned());
                let mut v = if args.event == TriggerEvent::SeatAdded {
                    created()?
                } else {
                    serde_json::from_str(CANCELLED)?
                };
                set_booking(&mut v, &uid(), tomorrow()?);
                let p = &mut v["payload"];
                p["seatsPerTimeSlot"] = json!(4);
                p["seatsShowAttendees"] = json!(false);
                // A seat's events name only that seat.
                p["attendees"] = json!([{"email": email, "name": "Second Seat",
                    "timeZone": "Europe/London", "language": {"locale": "en"}}]);
                if args.event == TriggerEvent::SeatAdded {
                    vec![("BOOKING_CREATED", v)]
                } else {
                    p["cancellationReason"] = json!("Cannot make it after all");
                    p["cancelledBy"] = json!(email);
                    vec![("BOOKING_CANCELLED", v)]
                }
            }
            TriggerEvent::Series => {
                let base = args.uid.clone().unwrap_or_else(new_uid);
                let start = series_start(now)?;
                let mut out = Vec::new();
                for n in 0..SERIES_COUNT {
                    let mut v = created()?;
                    set_booking(&mut v, &format!("{base}-{}", n + 1), week(start, n)?);
                    v["payload"]["recurringEvent"] =
                        json!({"freq": 2, "count": SERIES_COUNT, "interval": 1});
                    out.push(("BOOKING_CREATED", v));
                }
                out
            }
            TriggerEvent::SeriesCancelAll => {
                let n = args.occurrence.clamp(1, SERIES_COUNT);
                let mut v: Value = serde_json::from_str(CANCELLED)?;
                set_booking(&mut v, &uid(), week(series_start(now)?, n - 1)?);
                v["payload"]["recurringEvent"] =
                    json!({"freq": 2, "count": SERIES_COUNT, "interval": 1});
                vec![("BOOKING_CANCELLED", v)]
            }
            TriggerEvent::PaymentInitiated | TriggerEvent::Paid => {
                let mut v = created()?;
                set_booking(&mut v, &uid(), tomorrow()?);
                let p = &mut v["payload"];
                p["price"] = json!(4500);
                p["currency"] = json!("eur");
                p["paymentId"] = json!(rand::random_range(1_000..1_000_000));
                if args.event == TriggerEvent::Paid {
                    p["paymentData"] =
                        json!({"amount": 4500, "currency": "eur", "status": "succeeded"});
                    vec![("BOOKING_PAID", v)]
                } else {
                    vec![("BOOKING_PAYMENT_INITIATED", v)]
                }
            }
            TriggerEvent::NoShow => {
                let email = attendee
                    .clone()
                    .unwrap_or_else(|| "marco.rossi@example.com".to_owned());
                let v = json!({"payload": {
                    "bookingUid": uid(),
                    "bookingId": rand::random_range(10_000..1_000_000),
                    "attendees": [{"email": email, "noShow": true}],
                    "message": format!("{email} marked as no-show"),
                }});
                vec![("BOOKING_NO_SHOW_UPDATED", v)]
            }
            TriggerEvent::Reassigned => {
                let mut v = created()?;
                set_booking(&mut v, &uid(), tomorrow()?);
                v["payload"]["organizer"] = json!({"id": 8, "name": "Sam Ortiz",
                    "email": "sam@example.com", "timeZone": "Europe/Madrid",
                    "language": {"locale": "en"}});
                vec![("BOOKING_REASSIGNED", v)]
            }
            TriggerEvent::LocationUpdated => {
                let mut v = created()?;
                let uid = uid();
                set_booking(&mut v, &uid, tomorrow()?);
                let url = format!("https://cal.example.com/video/{uid}-moved");
                let p = &mut v["payload"];
                p["previousLocation"] = p["location"].clone();
                p["location"] = json!(url);
                p["videoCallData"] = json!({"type": "daily_video", "url": url});
                p["metadata"]["videoCallUrl"] = json!(url);
                vec![("BOOKING_LOCATION_UPDATED", v)]
            }
            _ => return Ok(Vec::new()),
        })
    };
    match run() {
        Ok(v) if v.is_empty() => None,
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::super::iso;
    use super::*;

    #[test]
    fn the_series_starts_on_a_monday_morning_a_day_ahead_whatever_the_hour() {
        let a = series_start("2026-11-25T10:17:00Z".parse().unwrap()).unwrap();
        let b = series_start("2026-11-25T23:59:00Z".parse().unwrap()).unwrap();
        assert_eq!(iso(a), "2026-11-30T09:00:00Z");
        assert_eq!(
            a, b,
            "a cancel-all sent later the same day names the same dates"
        );
    }
}
