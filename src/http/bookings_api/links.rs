//! Which links to other bookings a caller may be shown.
//!
//! A booking names other bookings by uid: `rescheduled_from`, `rescheduled_to`, and the same two
//! fields in its history's `old_values` / `new_values`. A uid is Cal.com's capability to cancel or
//! reschedule, so a client is shown a linked uid only when the client may see that booking too
//! (the same ownership rule as everywhere, [`Scope::allows`]); otherwise the link is `null`. A uid
//! calbook holds no booking for is not shown to a client either: nothing says whose it is.
//! Admins see every link as stored.
//!
//! The linked bookings are looked up in one query for a whole page or history.

use std::collections::HashSet;

use crate::booking::Booking;
use crate::store::{Scope, Store, StoreError};

/// The fields that hold another booking's uid.
const LINK_FIELDS: [&str; 2] = ["rescheduled_from", "rescheduled_to"];

/// The linked uids a caller may see.
#[derive(Debug)]
pub struct Links {
    /// `None`: every uid (admins).
    visible: Option<HashSet<String>>,
}

impl Links {
    /// Every link shown (admins).
    pub fn all() -> Links {
        Links { visible: None }
    }

    /// The links among `bookings` (which the caller may see) and `more` uids that `scope` allows.
    pub async fn resolve<'a>(
        store: &Store,
        scope: &Scope,
        bookings: &[&'a Booking],
        more: impl IntoIterator<Item = &'a str>,
    ) -> Result<Links, StoreError> {
        if *scope == Scope::All {
            return Ok(Links::all());
        }
        let mut visible: HashSet<String> = bookings
            .iter()
            .filter(|b| scope.allows(b))
            .map(|b| b.uid.clone())
            .collect();
        let mut wanted: Vec<&str> = bookings
            .iter()
            .flat_map(|b| [b.rescheduled_from.as_deref(), b.rescheduled_to.as_deref()])
            .flatten()
            .chain(more)
            .filter(|u| !visible.contains(*u))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for b in store.bookings_with_uids(&wanted).await? {
            if scope.allows(&b) {
                visible.insert(b.uid);
            }
        }
        Ok(Links {
            visible: Some(visible),
        })
    }

    /// `uid` if the caller may see it, else `None`.
    pub fn show(&self, uid: &Option<String>) -> Option<String> {
        match &self.visible {
            None => uid.clone(),
            Some(set) => uid.clone().filter(|u| set.contains(u)),
        }
    }

    /// `values` (an audit entry's `old_values` or `new_values`) with every link the caller may
    /// not see replaced by `null`.
    pub fn redact(&self, values: &Option<serde_json::Value>) -> Option<serde_json::Value> {
        let mut values = values.clone();
        if let Some(serde_json::Value::Object(map)) = values.as_mut() {
            for field in LINK_FIELDS {
                if let Some(v) = map.get_mut(field) {
                    let uid = v.as_str().map(str::to_owned);
                    if uid.is_some() && self.show(&uid).is_none() {
                        *v = serde_json::Value::Null;
                    }
                }
            }
        }
        values
    }
}

/// The uids an audit entry's values link to.
pub fn linked_uids(values: &Option<serde_json::Value>) -> impl Iterator<Item = &str> {
    LINK_FIELDS
        .iter()
        .filter_map(move |f| values.as_ref()?.get(*f)?.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_nulls_only_the_links_not_shown() {
        let links = Links {
            visible: Some(HashSet::from(["mine".to_owned()])),
        };
        let v = Some(
            json!({"status": "rescheduled", "rescheduled_to": "theirs", "rescheduled_from": "mine"}),
        );
        assert_eq!(
            links.redact(&v),
            Some(
                json!({"status": "rescheduled", "rescheduled_to": null, "rescheduled_from": "mine"})
            )
        );
        assert_eq!(Links::all().redact(&v), v);
        assert_eq!(linked_uids(&v).collect::<Vec<_>>(), ["mine", "theirs"]);
        assert_eq!(links.show(&Some("theirs".into())), None);
        assert_eq!(links.show(&Some("mine".into())), Some("mine".into()));
    }
}
