//! One sync pass: read Cal.com's bookings page by page, oldest update first, and apply each page
//! in one transaction with the watermark.
//!
//! **Why offset paging is safe here.** `GET /v2/bookings` pages with `skip` over a set that can
//! change while it is read. New and updated bookings get the newest `updatedAt`, so they join
//! the END of the order and are read by a later page of this pass. What can go wrong is a row
//! that is updated after its page was read: it leaves its place, every row after it shifts left,
//! and rows at the next page's start are skipped. Three things make that harmless:
//! 1. Each page after the first starts one row early, on the previous page's last booking. When
//!    that row is not the one expected, the set shifted under the pass: every row it may have
//!    skipped comes after the previous page's last row, so its `updatedAt` is at least that
//!    row's. From then on the watermark is held there, and the next pass reads again from it.
//!    (This costs one row a page and no memory: nothing is remembered across pages.)
//! 2. Every pass starts at the watermark minus an overlap ([`super::OVERLAP`]), for clock skew and
//!    for rows Cal.com committed late with an earlier `updatedAt`.
//! 3. Applying a booking twice changes nothing (the booking rules are idempotent and emails keep
//!    their idempotency keys), so reading a row again costs a request, never a second email.
//!
//! The watermark is written in the transaction that applies the page, so a crash leaves the
//! store and the watermark agreeing; the page is simply read again.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;
use tracing::{info, warn};

use super::client::ClientError;
use super::map::{ApiBooking, Mapped, marks, to_event};
use super::{OVERLAP, Syncer};
use crate::booking::{BookingEvent, Source, decide};
use crate::store::StoreError;
use crate::webhook::apply::{Changes, EmailScope};
use crate::webhook::payload::{Parsed, ParsedDelivery};

/// Apply the changes, or only report them (`calbook sync --check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Check,
}

/// One booking where calbook and Cal.com disagree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub uid: String,
    /// calbook's status, `None` when calbook does not have the booking.
    pub calbook: Option<String>,
    /// What Cal.com's state would make of it (the actions a sync would take).
    pub calcom: String,
}

/// What a pass found and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// The first sync of this store: an import (reminders only, no other emails).
    pub import: bool,
    pub pages: usize,
    pub fetched: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Bookings that could not be used (logged by uid), skipped.
    pub skipped: usize,
    pub emails_planned: usize,
    /// `--check`: every disagreement.
    pub drift: Vec<Drift>,
    /// Where the next pass starts reading (before the overlap).
    pub watermark: Option<Timestamp>,
}

impl Report {
    /// Bookings written.
    pub fn changed(&self) -> usize {
        self.created + self.updated
    }
}

/// Why a pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Api(#[from] ClientError),
    #[error("the database: {0}")]
    Store(#[from] StoreError),
}

impl Syncer {
    /// Runs one pass from `since` (default: the stored watermark minus the overlap; everything on
    /// a store that never synced). On error, the pages applied before it stay applied and the
    /// report so far is returned with it.
    pub async fn pass(
        &self,
        since: Option<Timestamp>,
        mode: Mode,
    ) -> Result<Report, (Report, PassError)> {
        let mut report = Report::default();
        match self.pass_inner(since, mode, &mut report).await {
            Ok(()) => Ok(report),
            Err(e) => Err((report, e)),
        }
    }

    async fn pass_inner(
        &self,
        since: Option<Timestamp>,
        mode: Mode,
        report: &mut Report,
    ) -> Result<(), PassError> {
        let state = self.store.sync_state().await?;
        // A store that never synced imports, even from `--since`; only a pass that read
        // everything (no `--since`) ends the import.
        report.import = state.imported_at.is_none();
        let ends_import = report.import && since.is_none();
        // `--check` compares every booking (or those changed after `--since`); a sync reads from
        // the watermark.
        let after = match mode {
            Mode::Check => since,
            Mode::Apply => {
                since.or_else(|| state.watermark.map(|w| w.checked_sub(OVERLAP).unwrap_or(w)))
            }
        };
        report.watermark = state.watermark;
        let scope = if report.import {
            EmailScope::FutureRemindersOnly
        } else {
            EmailScope::All
        };
        let mut hold: Option<Timestamp> = None;
        // Rows of the result set consumed so far, and the last one (uid, `updatedAt`).
        let mut consumed = 0;
        let mut previous: Option<(String, Option<Timestamp>)> = None;
        let take = self.options.take.max(2);
        loop {
            let skip = if previous.is_some() {
                consumed - 1
            } else {
                consumed
            };
            let page = self.client.bookings_page(after, skip, take).await?;
            report.pages += 1;
            let returned = page.bookings.len();
            consumed = skip + returned;
            let mut rows = page.bookings;
            let last_row = rows.last().map(|b| (b.uid.clone(), b.changed_at()));
            if let Some((uid, at)) = previous.take() {
                if rows.first().is_some_and(|b| b.uid == uid) {
                    rows.remove(0);
                } else if let Some(at) = at {
                    tracing::debug!(
                        "Cal.com's bookings shifted while the pass read them; the watermark is held"
                    );
                    hold = Some(hold.map_or(at, |h| h.min(at)));
                }
            }
            previous = last_row;
            report.fetched += rows.len();
            let page_end = rows.iter().filter_map(ApiBooking::changed_at).max();
            let events = self.events(&rows, report).await?;
            let last = !page.has_next || returned == 0;
            let mark = page_end.map(|end| hold.map_or(end, |h| h.min(end)));
            match mode {
                Mode::Check => self.check(&events, report).await?,
                Mode::Apply => {
                    self.apply(&events, scope, mark, last && ends_import, report)
                        .await?;
                    if mark.is_some() {
                        report.watermark = mark;
                    }
                }
            }
            if let Some(l) = &self.lease {
                l.renew(&self.store).await?;
            }
            if last {
                break;
            }
        }
        Ok(())
    }

    /// The page's events, in order, admitted as the webhook admits them: one group per booking
    /// (its own event, then its no-show marks), counted as one. The old side of a reschedule
    /// becomes the new booking's `Rescheduled` (fetched when not on this page).
    async fn events(
        &self,
        page: &[ApiBooking],
        report: &mut Report,
    ) -> Result<Vec<Vec<BookingEvent>>, ClientError> {
        let mut out = Vec::with_capacity(page.len());
        for b in page {
            let mapped = match to_event(b) {
                Ok(m) => m,
                Err(e) => {
                    warn!(booking_uid = %b.uid.chars().take(80).collect::<String>(), error = %e, "Cal.com booking skipped");
                    report.skipped += 1;
                    continue;
                }
            };
            let mut follow = None;
            let event = match mapped {
                Mapped::NotYet => {
                    tracing::debug!(booking_uid = %b.uid, "awaiting a host: not a booking yet");
                    report.skipped += 1;
                    continue;
                }
                Mapped::Event(e) => {
                    follow = marks(b);
                    e
                }
                Mapped::MovedTo(to) => {
                    if page.iter().any(|o| o.uid == to) {
                        continue;
                    }
                    match self.client.booking(&to).await? {
                        Some(new) => match to_event(&new) {
                            Ok(Mapped::Event(e)) => e,
                            _ => {
                                warn!(booking_uid = %b.uid, rescheduled_to = %to, "the booking a reschedule moved to is unusable; skipped");
                                report.skipped += 1;
                                continue;
                            }
                        },
                        None => {
                            warn!(booking_uid = %b.uid, rescheduled_to = %to, "the booking a reschedule moved to is not in Cal.com; skipped");
                            report.skipped += 1;
                            continue;
                        }
                    }
                }
            };
            let mut event = event;
            if let BookingEvent::Rescheduled { from, .. }
            | BookingEvent::Requested {
                from: Some(from), ..
            } = &mut event
            {
                old_times(page, from);
            }
            let mut group = Vec::with_capacity(2);
            for event in std::iter::once(event).chain(follow) {
                let admitted = self.admission.admit(
                    ParsedDelivery {
                        trigger: "SYNC".to_owned(),
                        parsed: Parsed::Booking(event),
                    },
                    crate::time::now(),
                );
                match admitted {
                    Ok(ParsedDelivery {
                        parsed: Parsed::Booking(e),
                        ..
                    }) => group.push(e),
                    Ok(_) => {}
                    Err(e) => {
                        warn!(booking_uid = %b.uid, error = %e, "Cal.com booking refused");
                        report.skipped += 1;
                        break;
                    }
                }
            }
            if !group.is_empty() {
                out.push(group);
            }
        }
        Ok(out)
    }

    /// Applies a page's events and moves the watermark in one transaction (retried from scratch
    /// when it loses a race with the webhook writer or another instance).
    async fn apply(
        &self,
        events: &[Vec<BookingEvent>],
        scope: EmailScope,
        mark: Option<Timestamp>,
        import_done: bool,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        let (created, updated, unchanged, emails) = loop {
            attempt += 1;
            match self.apply_once(events, scope, mark, import_done).await {
                Err(StoreError::Conflict) if attempt < 6 => continue,
                other => break other?,
            }
        };
        report.created += created;
        report.updated += updated;
        report.unchanged += unchanged;
        report.emails_planned += emails;
        if created + updated > 0 || emails > 0 {
            self.store.durability_barrier().await?;
        }
        if emails > 0
            && let Some(w) = &self.wake_outbox
        {
            w.notify_one();
        }
        if import_done {
            info!("first sync (import) finished");
        }
        Ok(())
    }

    async fn apply_once(
        &self,
        events: &[Vec<BookingEvent>],
        scope: EmailScope,
        mark: Option<Timestamp>,
        import_done: bool,
    ) -> Result<(usize, usize, usize, usize), StoreError> {
        let now = crate::time::now();
        let mut tx = self.store.begin().await?;
        let mut changes =
            Changes::load(&mut tx, events.iter().flatten(), self.email.as_deref(), now).await?;
        let (mut created, mut updated, mut unchanged, mut emails) = (0, 0, 0, 0);
        for group in events {
            let Some(first) = group.first() else { continue };
            let existed = changes.booking(first.uid()).is_some();
            let mut written = 0;
            for e in group {
                let done = changes.apply(e, None, Source::Sync, scope);
                emails += done.emails_planned;
                written += done.changes;
            }
            match (written, existed) {
                (0, _) => unchanged += 1,
                (_, false) => created += 1,
                (_, true) => updated += 1,
            }
        }
        changes.write(&mut tx).await?;
        if let Some(mark) = mark {
            tx.set_sync_watermark(mark).await?;
        }
        if import_done {
            tx.mark_sync_imported(now).await?;
        }
        tx.commit().await?;
        Ok((created, updated, unchanged, emails))
    }

    /// `--check`: what applying would change, without writing.
    async fn check(
        &self,
        events: &[Vec<BookingEvent>],
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let mut uids: Vec<&str> = events
            .iter()
            .flatten()
            .flat_map(BookingEvent::uids)
            .collect();
        uids.sort_unstable();
        uids.dedup();
        let stored: HashMap<String, crate::booking::Booking> = self
            .store
            .bookings_with_uids(&uids)
            .await?
            .into_iter()
            .map(|b| (b.uid.clone(), b))
            .collect();
        let now = crate::time::now();
        for group in events {
            let before = report.drift.len();
            for e in group {
                let d = decide(e, |u| stored.get(u), now);
                if d.changes.is_empty() {
                    // The rules may keep calbook's state (a terminal status is never left):
                    // still a disagreement to report when the statuses differ.
                    let held = stored
                        .get(e.uid())
                        .zip(expected_status(e))
                        .filter(|(b, want)| !agrees(b.status, *want));
                    if let Some((b, want)) = held {
                        report.drift.push(Drift {
                            uid: b.uid.clone(),
                            calbook: Some(b.status.as_str().to_owned()),
                            calcom: format!("{want} (kept by calbook's rules)"),
                        });
                    }
                    continue;
                }
                for c in &d.changes {
                    report.drift.push(Drift {
                        uid: c.after.uid.clone(),
                        calbook: c.before.as_ref().map(|b| b.status.as_str().to_owned()),
                        calcom: format!("{} ({})", c.after.status, c.action.as_str()),
                    });
                }
            }
            if report.drift.len() == before {
                report.unchanged += 1;
            }
        }
        Ok(())
    }
}

/// Whether calbook's `have` says what Cal.com's `want` does. The API shows an unpaid booking as
/// `pending` (it has no payment fields): calbook's `awaiting_payment` is that.
fn agrees(have: crate::booking::Status, want: crate::booking::Status) -> bool {
    use crate::booking::Status;
    have == want || (have == Status::AwaitingPayment && want == Status::Pending)
}

/// The status Cal.com's state means for the booking an event is about.
fn expected_status(e: &BookingEvent) -> Option<crate::booking::Status> {
    use crate::booking::Status;
    Some(match e {
        BookingEvent::Created(_) | BookingEvent::Rescheduled { .. } => Status::Confirmed,
        BookingEvent::Requested { .. } => Status::Pending,
        BookingEvent::Cancelled {
            reschedule_requested: true,
            ..
        } => Status::RescheduleRequested,
        BookingEvent::Cancelled { .. } => Status::Cancelled,
        BookingEvent::Rejected { .. } => Status::Rejected,
        BookingEvent::PaymentInitiated(_) => Status::AwaitingPayment,
        BookingEvent::Meeting { .. }
        | BookingEvent::Paid { .. }
        | BookingEvent::NoShow { .. }
        | BookingEvent::Reassigned(_)
        | BookingEvent::LocationUpdated(_) => return None,
    })
}

/// The old side's times, when the booking a reschedule moved away from is on this page (the
/// API's new booking names only its uid; the webhook's carries `rescheduleStartTime` too), so
/// an old booking calbook never had is recorded with its own times.
fn old_times(page: &[ApiBooking], from: &mut crate::booking::PreviousSlot) {
    if from.starts_at.is_some() {
        return;
    }
    if let Some(old) = page.iter().find(|b| b.uid == from.uid) {
        from.starts_at = old.start.trim().parse().ok();
        from.ends_at = old.end.trim().parse().ok();
    }
}

/// The sync's view of whether Cal.com's key works, for callers that stop on a refused key.
pub fn is_unauthorized(e: &PassError) -> bool {
    matches!(e, PassError::Api(ClientError::Unauthorized(_)))
}
