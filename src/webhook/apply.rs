//! The one place booking events become writes, whoever learnt of them: the webhook's group
//! commit ([`super::ingest`]) and the sync pass over Cal.com's API ([`crate::sync`]) both load
//! the bookings an event touches into a [`Changes`], apply events in order with the booking rules
//! ([`crate::booking::decide`]), plan emails with the outbox policy, and write everything in the
//! caller's transaction. So a booking's end state, its history and its emails do not depend on
//! the source; only the history entries' `source` says which it was.
//!
//! Emails keep their idempotency keys whichever source plans them, and the outbox leaves out a
//! key it already has: a change planned by the webhook and seen again by a sync (or the other
//! way round) is one email. Guarantees of the writes: see [`Changes::write`].

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use uuid::Uuid;

use crate::booking::{Booking, BookingEvent, HistoryEntry, Source, decide_with};
use crate::outbox::plan::EmailPolicy;
use crate::outbox::{EmailKind, JobState, OutboxJob, Withdrawal};
use crate::store::{StoreError, Tx};

/// Which of the planned emails to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailScope {
    /// Every email the policy plans (webhooks, and syncs after the first).
    All,
    /// Only reminders still to come: the first sync imports bookings whose clients were told
    /// before calbook existed, so no confirmation, reschedule or cancellation email.
    FutureRemindersOnly,
}

/// What one event did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventResult {
    /// Bookings written (inserted or updated).
    pub changes: usize,
    pub emails_planned: usize,
    /// Why nothing changed, when nothing did.
    pub note: Option<String>,
}

/// The bookings of one transaction, loaded (and locked on PostgreSQL) once, with the writes the
/// events applied so far call for.
pub struct Changes<'p> {
    bookings: HashMap<String, Booking>,
    inserted: HashSet<String>,
    updated: Vec<String>,
    history: Vec<HistoryEntry>,
    emails: Vec<OutboxJob>,
    /// Reminders the changes withdraw (cancelled, rejected, moved, a seat given up), written in
    /// the same transaction as the changes.
    withdrawals: Vec<Withdrawal>,
    policy: Option<&'p EmailPolicy>,
    now: Timestamp,
}

impl<'p> Changes<'p> {
    /// Loads (and on PostgreSQL locks until commit) every booking `events` may touch, and every
    /// recorded occurrence of the recurring series they name.
    pub async fn load<'e>(
        tx: &mut Tx<'_>,
        events: impl Iterator<Item = &'e BookingEvent>,
        policy: Option<&'p EmailPolicy>,
        now: Timestamp,
    ) -> Result<Changes<'p>, StoreError> {
        let events: Vec<&BookingEvent> = events.collect();
        let mut uids: Vec<&str> = events.iter().flat_map(|e| e.uids()).collect();
        uids.sort_unstable();
        uids.dedup();
        let mut bookings: HashMap<String, Booking> = if uids.is_empty() {
            HashMap::new()
        } else {
            tx.lock_bookings(&uids)
                .await?
                .into_iter()
                .map(|b| (b.uid.clone(), b))
                .collect()
        };
        let mut keys: Vec<String> = events
            .iter()
            .filter_map(|e| super::ingest::series_key_of(e))
            .collect();
        keys.extend(bookings.values().filter_map(|b| b.extra.series_key.clone()));
        keys.sort_unstable();
        keys.dedup();
        if !keys.is_empty() {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            for b in tx.lock_series(&keys).await? {
                bookings.entry(b.uid.clone()).or_insert(b);
            }
        }
        Ok(Changes {
            bookings,
            inserted: HashSet::new(),
            updated: Vec::new(),
            history: Vec::new(),
            emails: Vec::new(),
            withdrawals: Vec::new(),
            policy,
            now,
        })
    }

    /// The booking with this uid as the events so far left it.
    pub fn booking(&self, uid: &str) -> Option<&Booking> {
        self.bookings.get(uid)
    }

    /// Applies `event` by the booking rules on top of what was applied before it.
    pub fn apply(
        &mut self,
        event: &BookingEvent,
        delivery_id: Option<Uuid>,
        source: Source,
        scope: EmailScope,
    ) -> EventResult {
        let now = self.now;
        let bookings = &self.bookings;
        let decision = decide_with(
            event,
            |u| bookings.get(u),
            |key| {
                bookings
                    .values()
                    .filter(|b| b.extra.series_key.as_deref() == Some(key))
                    .collect()
            },
            now,
        );
        if decision.changes.is_empty() {
            return EventResult {
                note: decision.note,
                ..EventResult::default()
            };
        }
        let before = self.emails.len();
        let changes = decision.changes.len();
        for change in decision.changes {
            let mut entry = change.history(delivery_id, now);
            entry.source = source;
            self.history.push(entry);
            if let Some(policy) = self.policy {
                let planned = crate::outbox::plan::plan(&change, policy, now);
                self.emails
                    .extend(planned.into_iter().filter(|j| match scope {
                        EmailScope::All => true,
                        EmailScope::FutureRemindersOnly => {
                            j.kind == EmailKind::Reminder && j.state == JobState::Pending
                        }
                    }));
            }
            self.withdrawals
                .extend(crate::outbox::plan::withdrawals(&change));
            let uid = change.after.uid.clone();
            if change.before.is_none() {
                self.inserted.insert(uid.clone());
            } else if !self.inserted.contains(&uid) && !self.updated.contains(&uid) {
                self.updated.push(uid.clone());
            }
            self.bookings.insert(uid, change.after);
        }
        EventResult {
            changes,
            emails_planned: self.emails.len() - before,
            note: None,
        }
    }

    /// Whether any event changed anything.
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// Writes the changes in `tx` as a handful of multi-row statements: a booking inserted and
    /// then changed is inserted once, in its final state. [`StoreError::Conflict`] when another
    /// writer inserted one of the bookings first (the caller retries from scratch).
    ///
    /// The INSERTs are planned once per statement on PostgreSQL
    /// ([`Tx::plan_once_per_statement`]); the reminders' withdrawal, an UPDATE whose plan depends
    /// on what the outbox holds, is planned for its values. What the caller runs after this in
    /// the same transaction is planned once too: only INSERTs and updates of one row by its key.
    pub async fn write(self, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        tx.plan_once_per_statement().await?;
        let new_rows: Vec<Booking> = self
            .bookings
            .values()
            .filter(|b| self.inserted.contains(&b.uid))
            .cloned()
            .collect();
        tx.insert_bookings(&new_rows).await?;
        let changed: Vec<Booking> = self
            .updated
            .iter()
            .map(|uid| self.bookings[uid].clone())
            .collect();
        tx.update_bookings(&changed).await?;
        tx.insert_history(&self.history).await?;
        if !self.emails.is_empty() {
            tx.insert_outbox(&self.emails).await?;
        }
        if !self.withdrawals.is_empty() {
            tx.plan_each_execution().await?;
            tx.withdraw_reminders(&self.withdrawals, self.now).await?;
        }
        Ok(())
    }
}
