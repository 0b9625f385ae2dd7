//! Which seats a seat change is about, by lowercase email.

use crate::booking::{Change, email_key};

/// The attendees a `seat_added` change seated.
pub(super) fn added(change: &Change) -> Vec<String> {
    let before: Vec<String> = change
        .before
        .iter()
        .flat_map(|b| b.attendees.iter())
        .filter_map(|p| p.email.as_deref())
        .map(email_key)
        .collect();
    change
        .after
        .attendees
        .iter()
        .filter_map(|p| p.email.as_deref())
        .map(email_key)
        .filter(|e| !before.contains(e))
        .collect()
}

/// The attendees a `seat_cancelled` change cancelled; `with_moved: false` leaves out those who
/// moved to another booking (that booking's email tells them).
pub(super) fn cancelled(change: &Change, with_moved: bool) -> Vec<String> {
    let after = &change.after;
    after
        .extra
        .attendee_states
        .iter()
        .filter(|(email, state)| {
            state.seat == Some(crate::booking::SeatState::Cancelled)
                && change
                    .before
                    .as_ref()
                    .is_none_or(|b| !b.seat_cancelled(email))
                && (with_moved || state.moved_to.is_none())
        })
        .map(|(email, _)| email.clone())
        .collect()
}
