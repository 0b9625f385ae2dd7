//! Events never erase what calbook knew: a later event's absent, null or empty field leaves the
//! stored value, and `metadata` merges key by key (the booking page's `client_id` survives a
//! confirmation whose metadata is only `{videoCallUrl}`).

use jiff::Timestamp;
use serde_json::Value;

use super::{Action, Booking, BookingDetails, Change, update};

/// `b` with what `d` says about it (times, people, place), keeping status, links and every
/// stored value `d` leaves out.
pub(crate) fn refreshed(b: &Booking, d: &BookingDetails, now: Timestamp) -> Booking {
    let fresh = Booking::from_details(d, b.status, now);
    let keep = |new: Option<String>, old: &Option<String>| new.or_else(|| old.clone());
    let mut extra = b.extra.clone();
    let fx = fresh.extra;
    extra.seats_per_time_slot = fx.seats_per_time_slot.or(extra.seats_per_time_slot);
    extra.seats_show_attendees = fx.seats_show_attendees.or(extra.seats_show_attendees);
    extra.recurring_event = fx.recurring_event.or(extra.recurring_event);
    extra.links.merge(&fx.links);
    if extra.series_key.is_none() {
        extra.series_key = fx.series_key;
    }
    Booking {
        id: b.id,
        uid: b.uid.clone(),
        calcom_id: fresh.calcom_id.or(b.calcom_id),
        client_id: b.client_id.or(fresh.client_id),
        title: if d.title.trim().is_empty() {
            b.title.clone()
        } else {
            fresh.title
        },
        description: keep(fresh.description, &b.description),
        notes: keep(fresh.notes, &b.notes),
        starts_at: fresh.starts_at,
        ends_at: fresh.ends_at,
        status: b.status,
        attendee_email: if d.attendees.is_empty() {
            b.attendee_email.clone()
        } else {
            keep(fresh.attendee_email, &b.attendee_email)
        },
        attendee_name: if d.attendees.is_empty() {
            b.attendee_name.clone()
        } else {
            keep(fresh.attendee_name, &b.attendee_name)
        },
        attendees: if d.attendees.is_empty() {
            b.attendees.clone()
        } else {
            fresh.attendees
        },
        organizer: fresh.organizer.or_else(|| b.organizer.clone()),
        location: keep(fresh.location, &b.location),
        meeting_url: keep(fresh.meeting_url, &b.meeting_url),
        ical_uid: keep(fresh.ical_uid, &b.ical_uid),
        ical_sequence: b.ical_sequence.max(fresh.ical_sequence),
        event_type_id: fresh.event_type_id.or(b.event_type_id),
        event_type_slug: keep(fresh.event_type_slug, &b.event_type_slug),
        metadata: merged_metadata(&b.metadata, &d.metadata),
        rescheduled_from: b.rescheduled_from.clone(),
        rescheduled_to: b.rescheduled_to.clone(),
        cancellation_reason: b.cancellation_reason.clone(),
        cancelled_by: b.cancelled_by.clone(),
        rejection_reason: b.rejection_reason.clone(),
        meeting_started_at: b.meeting_started_at,
        meeting_ended_at: b.meeting_ended_at,
        created_at: b.created_at,
        updated_at: now,
        extra,
    }
}

/// `old` with every key of `new` whose value says something (not null, not an empty string).
pub(crate) fn merged_metadata(old: &Value, new: &Value) -> Value {
    let mut out = match old {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    if let Value::Object(n) = new {
        for (k, v) in n {
            let empty = v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
            if !empty {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A live booking learning what it did not know from a repeated event (`BOOKING_CREATED` after
/// payment, a late `BOOKING_PAYMENT_INITIATED`): only gaps are filled (metadata keys, notes,
/// description, place, link, owner); nothing known is replaced. `None` when nothing is new.
pub(super) fn learnt(b: &Booking, d: &BookingDetails, now: Timestamp) -> Option<Change> {
    if b.status.is_terminal() {
        return None;
    }
    let mut after = b.clone();
    let fill = |slot: &mut Option<String>, new: &Option<String>| {
        if slot.is_none() {
            slot.clone_from(new);
        }
    };
    fill(&mut after.notes, &d.notes);
    fill(&mut after.description, &d.description);
    fill(&mut after.location, &d.location);
    fill(&mut after.meeting_url, &d.meeting_url);
    fill(&mut after.ical_uid, &d.ical_uid);
    after.client_id = b.client_id.or(d.owner);
    after.calcom_id = b.calcom_id.or(d.calcom_id);
    after.metadata = merged_metadata(&b.metadata, &d.metadata);
    after.extra.links.merge(&crate::booking::EmailLinks::of(d));
    if after == *b {
        return None;
    }
    after.updated_at = now;
    Some(update(Action::Updated, b, after))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn metadata_merges_key_by_key_and_nothing_empty_erases() {
        let old = json!({"client_id": "c1", "source": "page", "videoCallUrl": "https://a"});
        let new = json!({"videoCallUrl": "https://b", "source": "", "note": null});
        assert_eq!(
            merged_metadata(&old, &new),
            json!({"client_id": "c1", "source": "page", "videoCallUrl": "https://b"})
        );
    }
}
