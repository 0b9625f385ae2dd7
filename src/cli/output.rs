//! Human and JSON output of the inspection commands. JSON times are RFC 3339 UTC.

use std::io::Write;

use crate::booking::{Booking, HistoryEntry};
use crate::outbox::OutboxJob;
use crate::store::Delivery;

fn stdout_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

pub fn bookings(list: &[Booking], json: bool) -> anyhow::Result<()> {
    if json {
        return stdout_json(&list);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<24} {:<20} {:<22} {:<22} TITLE",
        "UID", "STATUS", "STARTS_AT", "ENDS_AT"
    )?;
    for b in list {
        writeln!(
            out,
            "{:<24} {:<20} {:<22} {:<22} {}",
            b.uid,
            b.status,
            b.starts_at.to_string(),
            b.ends_at.to_string(),
            b.title
        )?;
    }
    if list.is_empty() {
        writeln!(out, "(no bookings)")?;
    }
    Ok(())
}

pub fn booking(b: &Booking, history: &[HistoryEntry], json: bool) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::to_value(b)?;
        v["history"] = serde_json::to_value(history)?;
        return stdout_json(&v);
    }
    let mut out = std::io::stdout().lock();
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
    writeln!(out, "uid               {}", b.uid)?;
    writeln!(out, "status            {}", b.status)?;
    writeln!(out, "title             {}", b.title)?;
    writeln!(out, "starts_at         {}", b.starts_at)?;
    writeln!(out, "ends_at           {}", b.ends_at)?;
    writeln!(
        out,
        "attendee          {} <{}>",
        opt(&b.attendee_name),
        opt(&b.attendee_email)
    )?;
    writeln!(out, "location          {}", opt(&b.location))?;
    writeln!(out, "rescheduled_from  {}", opt(&b.rescheduled_from))?;
    writeln!(out, "rescheduled_to    {}", opt(&b.rescheduled_to))?;
    if let Some(r) = &b.cancellation_reason {
        writeln!(out, "cancellation      {r} (by {})", opt(&b.cancelled_by))?;
    }
    writeln!(out, "history:")?;
    for h in history {
        writeln!(out, "  {}  {}", h.created_at, h.action)?;
    }
    Ok(())
}

pub fn deliveries(list: &[Delivery], json: bool) -> anyhow::Result<()> {
    if json {
        return stdout_json(&list);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<36} {:<26} {:<22} {:<10} {:<24} {:<12} ERROR",
        "ID", "RECEIVED_AT", "TRIGGER", "OUTCOME", "BOOKING_UID", "BODY_SHA256"
    )?;
    for d in list {
        writeln!(
            out,
            "{:<36} {:<26} {:<22} {:<10} {:<24} {:<12} {}",
            d.id.to_string(),
            d.received_at.to_string(),
            d.trigger_event.as_deref().unwrap_or("-"),
            d.outcome.as_str(),
            d.booking_uid.as_deref().unwrap_or("-"),
            &d.body_sha256[..12.min(d.body_sha256.len())],
            d.error.as_deref().unwrap_or("")
        )?;
    }
    if list.is_empty() {
        writeln!(out, "(no deliveries)")?;
    }
    Ok(())
}

pub fn outbox(list: &[OutboxJob], json: bool) -> anyhow::Result<()> {
    if json {
        return stdout_json(&list);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<36} {:<8} {:<13} {:<24} {:<22} {:>3} LAST_ERROR",
        "ID", "STATE", "KIND", "BOOKING_UID", "DUE_AT", "TRY"
    )?;
    for j in list {
        writeln!(
            out,
            "{:<36} {:<8} {:<13} {:<24} {:<22} {:>3} {}",
            j.id.to_string(),
            j.state.as_str(),
            j.kind,
            j.booking_uid,
            j.due_at.to_string(),
            j.attempts,
            j.last_error.as_deref().unwrap_or("")
        )?;
    }
    if list.is_empty() {
        writeln!(out, "(no emails)")?;
    }
    Ok(())
}
