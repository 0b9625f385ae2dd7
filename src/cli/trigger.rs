//! `calbook trigger EVENT --url URL`: sends a realistic signed Cal.com delivery, the way Stripe's
//! CLI does, so a setup can be tested end to end. Bodies start from Cal.com-shaped samples with a
//! fresh uid and times in the future, serialised compactly as Cal.com does.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::webhook::{Secrets, sign};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TriggerEvent {
    Created,
    Rescheduled,
    Cancelled,
    RescheduleRequested,
    Requested,
    Rejected,
    Ping,
    MeetingStarted,
    MeetingEnded,
    /// A seat taken in a seated booking (`--uid` joins an existing one; `--attendee` the seat).
    SeatAdded,
    /// A seat of a seated booking cancelled (`--uid`, `--attendee`).
    SeatCancelled,
    /// A weekly series of four occurrences (uids `<uid>-1` … `<uid>-4`), next Monday 09:00 UTC.
    Series,
    /// "Cancel all remaining" of a series sent by `series`, from `--occurrence` (`--uid` of it).
    SeriesCancelAll,
    /// A paid event booked, awaiting payment.
    PaymentInitiated,
    /// The payment of a paid event arrived.
    Paid,
    /// An attendee marked absent (`--uid`, `--attendee`).
    NoShow,
    /// A round-robin booking given to another host.
    Reassigned,
    /// A booking's place (and join link) changed.
    LocationUpdated,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The event to send.
    #[arg(value_enum)]
    pub event: TriggerEvent,
    /// The webhook URL, e.g. http://127.0.0.1:8080/api/webhooks/calcom
    #[arg(long)]
    pub url: String,
    /// Signing secret. Default: CALCOM_WEBHOOK_SECRET, or the one in the data directory.
    #[arg(long, hide_env_values = true)]
    pub secret: Option<String>,
    /// Booking uid (default: a new one). For cancelled / rejected / meeting-*: the booking to act on.
    #[arg(long)]
    pub uid: Option<String>,
    /// For rescheduled: the uid of the booking being moved (default: a new one).
    #[arg(long)]
    pub from: Option<String>,
    /// For seat-added / seat-cancelled / no-show: the attendee's email.
    #[arg(long)]
    pub attendee: Option<String>,
    /// For series-cancel-all: which occurrence (1 to 4) the cancel names.
    #[arg(long, default_value_t = 2)]
    pub occurrence: i64,
}

mod shapes;

const CREATED: &str = include_str!("../../samples/calcom/compact/created.json");
const REQUESTED: &str = include_str!("../../samples/calcom/compact/requested.json");
const CANCELLED: &str = include_str!("../../samples/calcom/compact/cancelled.json");
const PING: &str = include_str!("../../samples/calcom/compact/ping.json");
const MEETING: &str = include_str!("../../samples/calcom/compact/meeting_ended_wrapped.json");

pub async fn run(settings: &Settings, args: TriggerArgs) -> anyhow::Result<ExitCode> {
    let secrets = match &args.secret {
        Some(s) => Secrets::from_list(s).context("--secret is empty")?,
        None => existing_secrets(settings)?,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()?;
    let mut ok = true;
    for (trigger, body) in build_all(&args, Timestamp::now())? {
        ok &= send(&client, &secrets, &args.url, trigger, body).await?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Posts one signed body; whether calbook answered with success.
async fn send(
    client: &reqwest::Client,
    secrets: &Secrets,
    url: &str,
    trigger: &str,
    body: String,
) -> anyhow::Result<bool> {
    let signature = sign(secrets.primary(), body.as_bytes());
    let args_url = url;
    let response = client
        .post(args_url)
        .header("content-type", "application/json")
        .header("x-cal-signature-256", signature)
        .header("x-cal-webhook-version", "2021-10-20")
        .body(body.clone())
        .send()
        .await
        .with_context(|| format!("POST {args_url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let uid = serde_json::from_str::<Value>(&body).ok().and_then(|v| {
        let p = &v["payload"];
        p["uid"]
            .as_str()
            .or(p["bookingUid"].as_str())
            .map(str::to_owned)
    });
    println!(
        "sent {trigger}{} to {args_url}",
        uid.map(|u| format!(" (uid {u})")).unwrap_or_default(),
    );
    println!("{} {}", status.as_u16(), text);
    Ok(status.is_success())
}

/// Secrets from the environment or the data directory, never a freshly generated one (it would
/// not match the server's).
fn existing_secrets(settings: &Settings) -> anyhow::Result<Secrets> {
    if let Some(s) = settings
        .webhook_secret
        .as_deref()
        .and_then(Secrets::from_list)
    {
        return Ok(s);
    }
    let path = crate::config::secret_file(&settings.data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            Secrets::from_list(text.trim()).with_context(|| format!("{} is empty", path.display()))
        }
        Err(_) => bail!(
            "no webhook secret: pass --secret, set CALCOM_WEBHOOK_SECRET, or point --data-dir at the server's data directory ({} not found)",
            path.display()
        ),
    }
}

/// A Cal.com-style uid: 22 base58 characters.
fn new_uid() -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    (0..22)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every body `args` sends, in order (four for `series`, one otherwise).
pub fn build_all(
    args: &TriggerArgs,
    now: Timestamp,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let created_at = format!("{:.3}", now);
    let finish =
        |trigger: &'static str, mut body: Value| -> anyhow::Result<(&'static str, String)> {
            body["triggerEvent"] = json!(trigger);
            body["createdAt"] = json!(created_at);
            Ok((trigger, serde_json::to_string(&body)?))
        };
    let set_at = |v: &mut Value, uid: &str, start: Timestamp| {
        let end = start.checked_add(30.minutes()).unwrap_or(start);
        let p = &mut v["payload"];
        p["uid"] = json!(uid);
        p["startTime"] = json!(iso(start));
        p["endTime"] = json!(iso(end));
        p["iCalUID"] = json!(format!("{uid}@Cal.com"));
        p["bookingId"] = json!(rand::random_range(10_000..1_000_000));
        if let Some(m) = p.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert(
                "videoCallUrl".into(),
                json!(format!("https://cal.example.com/video/{uid}")),
            );
        }
    };
    if let Some(bodies) = shapes::bodies(args, now, &set_at) {
        return bodies?
            .into_iter()
            .map(|(trigger, body)| finish(trigger, body))
            .collect();
    }
    // Tomorrow, on the hour, for 30 minutes.
    let start = Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(3600))?
        .checked_add(25.hours())?;
    let end = start.checked_add(30.minutes())?;
    let uid = args.uid.clone().unwrap_or_else(new_uid);
    let template = |t: &str| -> anyhow::Result<Value> { Ok(serde_json::from_str(t)?) };
    let set_booking = |v: &mut Value, uid: &str| set_at(v, uid, start);
    let (trigger, body) = match args.event {
        TriggerEvent::Created => {
            let mut v = template(CREATED)?;
            set_booking(&mut v, &uid);
            ("BOOKING_CREATED", v)
        }
        TriggerEvent::Requested => {
            let mut v = template(REQUESTED)?;
            set_booking(&mut v, &uid);
            ("BOOKING_REQUESTED", v)
        }
        TriggerEvent::Rejected => {
            let mut v = template(REQUESTED)?;
            set_booking(&mut v, &uid);
            v["payload"]["status"] = json!("REJECTED");
            v["payload"]["rejectionReason"] = json!("Not available that week");
            ("BOOKING_REJECTED", v)
        }
        TriggerEvent::Rescheduled => {
            let mut v = template(CREATED)?;
            set_booking(&mut v, &uid);
            let from = args.from.clone().unwrap_or_else(new_uid);
            let p = &mut v["payload"];
            p["rescheduleUid"] = json!(from);
            p["rescheduleStartTime"] = json!(iso(start.checked_sub(24.hours())?));
            p["rescheduleEndTime"] = json!(iso(end.checked_sub(24.hours())?));
            p["rescheduledBy"] = json!("marco.rossi@example.com");
            p["iCalUID"] = json!(format!("{from}@Cal.com"));
            p["iCalSequence"] = json!(1);
            ("BOOKING_RESCHEDULED", v)
        }
        TriggerEvent::Cancelled | TriggerEvent::RescheduleRequested => {
            let mut v = template(CANCELLED)?;
            set_booking(&mut v, &uid);
            let rr = args.event == TriggerEvent::RescheduleRequested;
            let p = &mut v["payload"];
            p["startTime"] = json!(start.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string());
            p["endTime"] = json!(end.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string());
            p["requestReschedule"] = json!(rr);
            p["rescheduleRequested"] = json!(rr);
            if rr {
                p["cancellationReason"] = json!("Please reschedule. I have to travel that day.");
                p["cancelledBy"] = json!("dana@example.com");
            }
            ("BOOKING_CANCELLED", v)
        }
        TriggerEvent::Ping => {
            let mut v = template(PING)?;
            let t = format!("{:.3}", now);
            v["payload"]["startTime"] = json!(t);
            v["payload"]["endTime"] = json!(t);
            ("PING", v)
        }
        TriggerEvent::MeetingStarted | TriggerEvent::MeetingEnded => {
            let mut v = template(MEETING)?;
            set_booking(&mut v, &uid);
            let started = args.event == TriggerEvent::MeetingStarted;
            let name = if started {
                "MEETING_STARTED"
            } else {
                "MEETING_ENDED"
            };
            v["triggerEvent"] = json!(name);
            (name, v)
        }
        other => bail!("{other:?} has no body"),
    };
    Ok(vec![finish(trigger, body)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::BookingEvent;
    use crate::webhook::payload::{Parsed, parse};

    fn args(event: TriggerEvent) -> TriggerArgs {
        TriggerArgs {
            event,
            url: "http://127.0.0.1:1/".into(),
            secret: None,
            uid: Some("TrigUid0000000000000001".into()),
            from: Some("TrigFrom000000000000001".into()),
            attendee: None,
            occurrence: 2,
        }
    }

    #[test]
    fn every_trigger_builds_a_body_calbook_itself_accepts() {
        let now: Timestamp = "2026-11-25T10:17:00Z".parse().unwrap();
        for event in TriggerEvent::value_variants() {
            for (trigger, body) in build_all(&args(*event), now).unwrap() {
                let parsed = parse(
                    Some("application/json"),
                    Some("2021-10-20"),
                    body.as_bytes(),
                )
                .unwrap_or_else(|e| panic!("{event:?}: {e}"));
                assert_eq!(parsed.trigger, trigger);
                assert!(
                    !body.contains('\n'),
                    "compact like Cal.com's JSON.stringify"
                );
                match (event, parsed.parsed) {
                    (TriggerEvent::Ping, Parsed::Ping) => {}
                    (
                        TriggerEvent::Rescheduled,
                        Parsed::Booking(BookingEvent::Rescheduled { details, from }),
                    ) => {
                        assert_eq!(from.uid, "TrigFrom000000000000001");
                        assert_eq!(details.starts_at, "2026-11-26T11:00:00Z".parse().unwrap());
                    }
                    (
                        TriggerEvent::RescheduleRequested,
                        Parsed::Booking(BookingEvent::Cancelled {
                            reschedule_requested,
                            ..
                        }),
                    ) => {
                        assert!(reschedule_requested)
                    }
                    (TriggerEvent::Series, Parsed::Booking(BookingEvent::Created(d))) => {
                        assert!(d.uid.starts_with("TrigUid0000000000000001-"));
                        assert!(d.extra.recurring_event.is_some());
                    }
                    (
                        TriggerEvent::SeriesCancelAll,
                        Parsed::Booking(BookingEvent::Cancelled { details, .. }),
                    ) => {
                        assert!(details.extra.recurring_event.is_some());
                    }
                    (TriggerEvent::SeatAdded | TriggerEvent::SeatCancelled, Parsed::Booking(e)) => {
                        let d = e.details().unwrap();
                        assert!(d.extra.seated());
                        assert_eq!(d.attendees[0].email.as_deref(), Some(shapes::SEAT_EMAIL));
                    }
                    (
                        TriggerEvent::PaymentInitiated,
                        Parsed::Booking(BookingEvent::PaymentInitiated(_)),
                    )
                    | (TriggerEvent::Reassigned, Parsed::Booking(BookingEvent::Reassigned(_)))
                    | (
                        TriggerEvent::LocationUpdated,
                        Parsed::Booking(BookingEvent::LocationUpdated(_)),
                    )
                    | (TriggerEvent::NoShow, Parsed::Booking(BookingEvent::NoShow { .. })) => {}
                    (TriggerEvent::Paid, Parsed::Booking(BookingEvent::Paid { payment, .. })) => {
                        assert_eq!(payment.amount, Some(4500));
                    }
                    (
                        TriggerEvent::Created
                        | TriggerEvent::Requested
                        | TriggerEvent::Rejected
                        | TriggerEvent::Cancelled
                        | TriggerEvent::MeetingStarted
                        | TriggerEvent::MeetingEnded,
                        Parsed::Booking(e),
                    ) => assert_eq!(e.uid(), "TrigUid0000000000000001"),
                    (e, p) => panic!("{e:?} gave {p:?}"),
                }
            }
        }
    }
}
