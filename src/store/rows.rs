//! The row codec: each table's columns, declared once, with how a row type encodes into them and
//! decodes from them, on both backends.
//!
//! A [`Table`] lists its columns in order, each with its name, its [`Role`] and its encoder. That
//! one list drives every statement text: the `SELECT` list, the `INSERT` column list, the
//! placeholders (one bind per column, in the same order, by construction) and, for bookings, the
//! `ON CONFLICT … DO UPDATE SET` list. The decoders read columns by name through
//! [`ReadRow`], so they too are written once for both backends; a field
//! added to a row type is a compile error in its decoder until it is read.
//!
//! Adding a booking column: a migration per backend, the field on [`Booking`] (and where
//! it is filled), one [`Column`] line in [`BOOKINGS`] and one line in [`booking`].
//!
//! Statement texts are built once per process ([`Statements`]), so the hot path copies a
//! prepared string as it did before; multi-row inserts use [`row_chunks`] so each table has at
//! most seven distinct insert texts in the prepared-statement cache.

use std::fmt::Write as _;
use std::sync::LazyLock;

use super::value::{ReadRow, Value};
use super::{Delivery, Outcome, Result, StoreError};
use crate::booking::{Booking, CountsAs, HistoryEntry, Status};

/// What a column takes part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Read and inserted, never changed by an update (identity, creation time).
    Key,
    /// Read, inserted, and overwritten by an update.
    Data,
    /// Inserted only: not read back (a constant, or a payload listings leave out).
    InsertOnly,
}

/// One column: its name, its role and how a row of `T` encodes into it.
pub(super) struct Column<T: 'static> {
    pub name: &'static str,
    pub role: Role,
    pub encode: for<'a> fn(&'a T) -> Value<'a>,
}

/// A table: its name and its columns, in order.
pub(super) struct Table<T: 'static> {
    pub name: &'static str,
    pub columns: &'static [Column<T>],
}

const fn col<T>(
    name: &'static str,
    role: Role,
    encode: for<'a> fn(&'a T) -> Value<'a>,
) -> Column<T> {
    Column { name, role, encode }
}

use Role::{Data, InsertOnly, Key};

/// `bookings`. `uid` is Cal.com's booking uid, stored as `external_id`.
pub(super) static BOOKINGS: Table<Booking> = Table {
    name: "bookings",
    columns: &[
        col("id", Key, |b| Value::Uuid(Some(b.id))),
        col("external_id", Key, |b| Value::text(&b.uid)),
        col("calcom_booking_id", Data, |b| Value::Int(b.calcom_id)),
        col("client_id", Data, |b| Value::Uuid(b.client_id)),
        col("title", Data, |b| Value::text(&b.title)),
        col("description", Data, |b| Value::opt_text(&b.description)),
        col("notes", Data, |b| Value::opt_text(&b.notes)),
        col("starts_at", Data, |b| Value::Time(Some(b.starts_at))),
        col("ends_at", Data, |b| Value::Time(Some(b.ends_at))),
        col("status", Data, |b| Value::text(b.status.as_str())),
        col("attendee_email", Data, |b| {
            Value::opt_text(&b.attendee_email)
        }),
        col("attendee_name", Data, |b| Value::opt_text(&b.attendee_name)),
        col("attendees", Data, |b| Value::json(&b.attendees)),
        col("organizer", Data, |b| Value::opt_json(&b.organizer)),
        col("location", Data, |b| Value::opt_text(&b.location)),
        col("meeting_url", Data, |b| Value::opt_text(&b.meeting_url)),
        col("ical_uid", Data, |b| Value::opt_text(&b.ical_uid)),
        col("ical_sequence", Data, |b| Value::Int(Some(b.ical_sequence))),
        col("event_type_id", Data, |b| Value::Int(b.event_type_id)),
        col("event_type_slug", Data, |b| {
            Value::opt_text(&b.event_type_slug)
        }),
        col("metadata", Data, |b| Value::json(&b.metadata)),
        col("rescheduled_from", Data, |b| {
            Value::opt_text(&b.rescheduled_from)
        }),
        col("rescheduled_to", Data, |b| {
            Value::opt_text(&b.rescheduled_to)
        }),
        col("cancellation_reason", Data, |b| {
            Value::opt_text(&b.cancellation_reason)
        }),
        col("cancelled_by", Data, |b| Value::opt_text(&b.cancelled_by)),
        col("rejection_reason", Data, |b| {
            Value::opt_text(&b.rejection_reason)
        }),
        col("meeting_started_at", Data, |b| {
            Value::Time(b.meeting_started_at)
        }),
        col("meeting_ended_at", Data, |b| {
            Value::Time(b.meeting_ended_at)
        }),
        col("created_at", Key, |b| Value::Time(Some(b.created_at))),
        col("updated_at", Data, |b| Value::Time(Some(b.updated_at))),
        col("provider", InsertOnly, |_| Value::text("calcom")),
        // Migration 0008 (issue 11): seats, series, payment, no-shows.
        col("series_id", Data, |b| Value::opt_text(&b.extra.series_id)),
        col("series_key", Data, |b| Value::opt_text(&b.extra.series_key)),
        col("recurring_event", Data, |b| {
            Value::opt_json(&b.extra.recurring_event)
        }),
        col("series_cancelled_from", Data, |b| {
            Value::Time(b.extra.series_cancelled_from)
        }),
        col("seats_per_time_slot", Data, |b| {
            Value::Int(b.extra.seats_per_time_slot)
        }),
        col("seats_show_attendees", Data, |b| {
            Value::Int(b.extra.seats_show_attendees.map(i64::from))
        }),
        col("attendee_states", Data, |b| {
            Value::json(&b.extra.attendee_states)
        }),
        col("host_no_show", Data, |b| {
            Value::Int(b.extra.host_no_show.map(i64::from))
        }),
        col("payment", Data, |b| Value::opt_json(&b.extra.payment)),
        // Migration 0014 (issue 14): the booker URL and seat references emails link with.
        col("email_links", Data, |b| Value::json(&b.extra.links)),
    ],
};

pub(super) fn booking(r: &impl ReadRow) -> Result<Booking> {
    Ok(Booking {
        id: r.uuid("id")?,
        uid: r.text("external_id")?,
        calcom_id: r.opt_int("calcom_booking_id")?,
        client_id: r.opt_uuid("client_id")?,
        title: r.text("title")?,
        description: r.opt_text("description")?,
        notes: r.opt_text("notes")?,
        starts_at: r.time("starts_at")?,
        ends_at: r.time("ends_at")?,
        status: parse_status(&r.text("status")?)?,
        attendee_email: r.opt_text("attendee_email")?,
        attendee_name: r.opt_text("attendee_name")?,
        attendees: r.json("attendees")?,
        organizer: r.opt_json("organizer")?,
        location: r.opt_text("location")?,
        meeting_url: r.opt_text("meeting_url")?,
        ical_uid: r.opt_text("ical_uid")?,
        ical_sequence: r.int("ical_sequence")?,
        event_type_id: r.opt_int("event_type_id")?,
        event_type_slug: r.opt_text("event_type_slug")?,
        metadata: r.json("metadata")?,
        rescheduled_from: r.opt_text("rescheduled_from")?,
        rescheduled_to: r.opt_text("rescheduled_to")?,
        cancellation_reason: r.opt_text("cancellation_reason")?,
        cancelled_by: r.opt_text("cancelled_by")?,
        rejection_reason: r.opt_text("rejection_reason")?,
        meeting_started_at: r.opt_time("meeting_started_at")?,
        meeting_ended_at: r.opt_time("meeting_ended_at")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        extra: crate::booking::BookingExtras {
            series_id: r.opt_text("series_id")?,
            series_key: r.opt_text("series_key")?,
            recurring_event: r.opt_json("recurring_event")?,
            series_cancelled_from: r.opt_time("series_cancelled_from")?,
            seats_per_time_slot: r.opt_int("seats_per_time_slot")?,
            seats_show_attendees: r.opt_int("seats_show_attendees")?.map(|n| n != 0),
            attendee_states: r.json("attendee_states")?,
            host_no_show: r.opt_int("host_no_show")?.map(|n| n != 0),
            payment: r.opt_json("payment")?,
            links: r.json("email_links")?,
        },
    })
}

/// `booking_history`: append only.
pub(super) static HISTORY: Table<HistoryEntry> = Table {
    name: "booking_history",
    columns: &[
        col("id", Key, |h| Value::Uuid(Some(h.id))),
        col("booking_id", Key, |h| Value::Uuid(Some(h.booking_id))),
        col("action", Key, |h| Value::text(&h.action)),
        col("old_values", Key, |h| Value::opt_json(&h.old_values)),
        col("new_values", Key, |h| Value::opt_json(&h.new_values)),
        col("created_at", Key, |h| Value::Time(Some(h.created_at))),
        col("delivery_id", Key, |h| Value::Uuid(h.delivery_id)),
        col("source", Key, |h| Value::text(h.source.as_str())),
        // Migration 0017 (issue 14): what the entry counts as in the weekly numbers, decided
        // from the entry itself as it is written (`HistoryEntry::counts_as`); never read back.
        col("counts_as", InsertOnly, |h| {
            Value::Text(h.counts_as().map(CountsAs::as_str))
        }),
    ],
};

pub(super) fn history(r: &impl ReadRow) -> Result<HistoryEntry> {
    Ok(HistoryEntry {
        id: r.uuid("id")?,
        booking_id: r.uuid("booking_id")?,
        action: r.text("action")?,
        old_values: r.opt_json("old_values")?,
        new_values: r.opt_json("new_values")?,
        created_at: r.time("created_at")?,
        delivery_id: r.opt_uuid("delivery_id")?,
        source: crate::booking::Source::parse(&r.text("source")?),
    })
}

/// `webhook_deliveries`: append only. The body is stored but not read back by listings.
pub(super) static DELIVERIES: Table<Delivery> = Table {
    name: "webhook_deliveries",
    columns: &[
        col("id", Key, |d| Value::Uuid(Some(d.id))),
        col("received_at", Key, |d| Value::Time(Some(d.received_at))),
        col("body_sha256", Key, |d| Value::text(&d.body_sha256)),
        col("trigger_event", Key, |d| Value::opt_text(&d.trigger_event)),
        col("webhook_version", Key, |d| {
            Value::opt_text(&d.webhook_version)
        }),
        col("content_type", Key, |d| Value::opt_text(&d.content_type)),
        col("booking_uid", Key, |d| Value::opt_text(&d.booking_uid)),
        col("outcome", Key, |d| Value::text(d.outcome.as_str())),
        col("error", Key, |d| Value::opt_text(&d.error)),
        col("body", InsertOnly, |d| Value::Bytes(&d.body)),
    ],
};

pub(super) fn delivery(r: &impl ReadRow) -> Result<Delivery> {
    Ok(Delivery {
        id: r.uuid("id")?,
        received_at: r.time("received_at")?,
        body_sha256: r.text("body_sha256")?,
        trigger_event: r.opt_text("trigger_event")?,
        webhook_version: r.opt_text("webhook_version")?,
        content_type: r.opt_text("content_type")?,
        booking_uid: r.opt_text("booking_uid")?,
        outcome: Outcome::parse(&r.text("outcome")?)?,
        error: r.opt_text("error")?,
        body: Default::default(),
    })
}

/// The order deliveries are listed in, newest first: `(received_at, id)` is a total order on both
/// backends (`id` is unique), so both list the same rows in the same order; an index on
/// `(received_at, id)` (migration 0007) serves it on both.
pub(super) const DELIVERIES_NEWEST_FIRST: &str = " ORDER BY received_at DESC, id DESC";
/// The same order, oldest first.
pub(super) const DELIVERIES_OLDEST_FIRST: &str = " ORDER BY received_at, id";

fn parse_status(s: &str) -> Result<Status> {
    s.parse()
        .map_err(|e: crate::booking::UnknownStatus| StoreError::Corrupt(e.to_string()))
}

/// A table's statement texts, built once from its columns.
pub(super) struct Statements {
    /// `SELECT c1, c2, … FROM table` (every column but the insert-only ones).
    pub select: String,
    /// `INSERT INTO table (c1, c2, …) ` (every column), ready for `push_values`.
    pub insert: String,
    /// `c = excluded.c, …` for every [`Role::Data`] column.
    pub update_set: String,
}

impl<T> Table<T> {
    fn statements(&self) -> Statements {
        let names = |keep: &dyn Fn(Role) -> bool| {
            self.columns
                .iter()
                .filter(|c| keep(c.role))
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut update_set = String::new();
        for c in self.columns.iter().filter(|c| c.role == Data) {
            if !update_set.is_empty() {
                update_set.push_str(", ");
            }
            let _ = write!(update_set, "{0} = excluded.{0}", c.name);
        }
        Statements {
            select: format!("SELECT {} FROM {}", names(&|r| r != InsertOnly), self.name),
            insert: format!("INSERT INTO {} ({}) ", self.name, names(&|_| true)),
            update_set,
        }
    }
}

pub(super) static BOOKING_SQL: LazyLock<Statements> = LazyLock::new(|| BOOKINGS.statements());
pub(super) static HISTORY_SQL: LazyLock<Statements> = LazyLock::new(|| HISTORY.statements());
pub(super) static DELIVERY_SQL: LazyLock<Statements> = LazyLock::new(|| DELIVERIES.statements());

/// The conflict clause of a booking insert: a uid already stored fails the chunk.
pub(super) const BOOKING_INSERT_TAIL: &str = " ON CONFLICT (external_id) DO NOTHING";

/// The conflict clause that turns a booking insert into an update of the stored row (same SQL on
/// both backends): every [`Role::Data`] column is overwritten.
pub(super) static BOOKING_UPDATE_TAIL: LazyLock<String> = LazyLock::new(|| {
    format!(
        " ON CONFLICT (external_id) DO UPDATE SET {}",
        BOOKING_SQL.update_set
    )
});

/// A delivery whose body was already applied or ignored fails the chunk.
pub(super) const DELIVERY_INSERT_TAIL: &str =
    " ON CONFLICT (body_sha256) WHERE outcome IN ('applied', 'ignored') DO NOTHING";

/// Splits rows for multi-row INSERTs into chunks of 64, 32, …, 1 rows, so that each table has
/// at most seven distinct statement texts: they stay in the prepared-statement cache instead of
/// being parsed and planned again for every batch size. (64 rows × 40 columns stays far below
/// SQLite's 32,766 and PostgreSQL's 65,535 parameters.)
pub(crate) fn row_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = [64, 32, 16, 8, 4, 2, 1]
            .into_iter()
            .find(|&n| n <= rows.len())
            .unwrap_or(1);
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_chunks_use_few_distinct_sizes_and_cover_every_row() {
        let rows: Vec<u32> = (0..203).collect();
        let sizes: Vec<usize> = row_chunks(&rows).map(<[u32]>::len).collect();
        assert_eq!(sizes, [64, 64, 64, 8, 2, 1]);
        let flat: Vec<u32> = row_chunks(&rows).flatten().copied().collect();
        assert_eq!(flat, rows);
        assert_eq!(row_chunks::<u32>(&[]).count(), 0);
    }

    #[test]
    fn one_column_list_drives_select_insert_and_update() {
        let sql = BOOKINGS.statements();
        assert!(
            sql.select
                .starts_with("SELECT id, external_id, calcom_booking_id, ")
        );
        assert!(
            sql.select
                .ends_with(", host_no_show, payment, email_links FROM bookings")
        );
        assert!(sql.insert.contains(", updated_at, provider, series_id, "));
        // Identity, creation time and provider are never overwritten by an update.
        let updated: Vec<&str> = sql
            .update_set
            .split(", ")
            .map(|set| set.split(" = ").next().unwrap())
            .collect();
        for kept in ["id", "external_id", "created_at", "provider"] {
            assert!(!updated.contains(&kept), "{kept}");
        }
        assert_eq!(updated.len(), 37);
        assert!(!DELIVERY_SQL.select.contains("body,"));
        assert!(!DELIVERY_SQL.select.contains(", body "));
    }
}
