//! Listing bookings: filters, who may see what, and keyset pagination.
//!
//! One [`BookingFilter`] describes a listing for the CLI, the admin dashboard and the bookings API.
//! The SQL is built here once for both backends, with numbered parameters only (no value is ever
//! spliced into the text), and each backend binds the [`Arg`]s in its own types (see `value`).
//!
//! Guarantees:
//! * results are ordered by `(starts_at, id)`, a total order, so a [`Cursor`] taken from the last
//!   row of a page continues exactly after it: rows inserted meanwhile never shift a page or
//!   appear twice;
//! * [`Scope::Owner`] is the same ownership rule as the PostgreSQL row-level-security policies
//!   (migration 0004): the booking's `client_id` is the client's id, or, for a booking without a
//!   `client_id`, its attendee email equals the client's verified, non-empty email (surrounding
//!   ASCII whitespace trimmed), ASCII case-insensitively: only A–Z fold to a–z, so no Unicode
//!   look-alike matches (the Kelvin sign U+212A is not a `k`). A client without an email (or
//!   with an empty one) owns only the bookings with its id. SQLite's `lower()` folds ASCII only;
//!   on PostgreSQL, whose `lower()` folds Unicode, the SQL uses `calbook_ascii_lower()` from the
//!   migration;
//! * every filter uses an indexed column (`starts_at`, `status`, `client_id`, the folded
//!   `attendee_email`); the free-text `search` (title, attendee name and email, notes; a
//!   case-insensitive substring) goes through the search index of migration 0013 for three
//!   characters or more: SQLite's FTS5 trigram table `bookings_search`, PostgreSQL's pg_trgm GIN
//!   index on [`SEARCH_TEXT_PG`]. Shorter searches are a scan (a trigram index cannot answer
//!   them).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use uuid::Uuid;

use super::Backend;
use crate::booking::{Booking, Status};

/// Whose bookings a listing may contain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every booking (operators, admins).
    #[default]
    All,
    /// One client's bookings.
    Owner(Owner),
}

/// A signed-in client, as the ownership rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub client_id: Uuid,
    /// The verified email of the client, if the token carried one.
    pub email: Option<String>,
}

impl Owner {
    /// Whether `booking` belongs to this client (the rule the SQL and the RLS policies apply).
    pub fn owns(&self, booking: &Booking) -> bool {
        match booking.client_id {
            Some(id) => id == self.client_id,
            None => match (self.email_key(), &booking.attendee_email) {
                (Some(mine), Some(theirs)) => theirs.eq_ignore_ascii_case(&mine),
                _ => false,
            },
        }
    }

    /// The client's email as the rule compares it: surrounding ASCII whitespace trimmed, A–Z
    /// folded to a–z (nothing else); `None` when there is no email or nothing is left of it.
    fn email_key(&self) -> Option<String> {
        let email = self.email.as_deref()?.trim_ascii();
        (!email.is_empty()).then(|| email.to_ascii_lowercase())
    }
}

impl Scope {
    pub fn allows(&self, booking: &Booking) -> bool {
        match self {
            Scope::All => true,
            Scope::Owner(owner) => owner.owns(booking),
        }
    }
}

/// Which end of the timeline a listing starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Earliest start first (upcoming bookings).
    Ascending,
    /// Latest start first (the default; past bookings, the CLI).
    #[default]
    Descending,
}

/// A position in a listing: the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub starts_at: Timestamp,
    pub id: Uuid,
}

/// A cursor that is not one calbook handed out.
#[derive(Debug, thiserror::Error)]
#[error("invalid cursor")]
pub struct InvalidCursor;

impl Cursor {
    pub fn after(booking: &Booking) -> Cursor {
        Cursor {
            starts_at: booking.starts_at,
            id: booking.id,
        }
    }

    /// An opaque, URL-safe form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.starts_at.as_millisecond(), self.id))
    }

    pub fn decode(s: &str) -> Result<Cursor, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| InvalidCursor)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| InvalidCursor)?;
        let (ms, id) = text.split_once('|').ok_or(InvalidCursor)?;
        let ms: i64 = ms.parse().map_err(|_| InvalidCursor)?;
        Ok(Cursor {
            starts_at: Timestamp::from_millisecond(ms).map_err(|_| InvalidCursor)?,
            id: id.parse().map_err(|_| InvalidCursor)?,
        })
    }
}

/// A listing of bookings. `Default` lists everything, newest start first.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub scope: Scope,
    pub status: Option<Status>,
    /// Only bookings starting at or after this instant.
    pub from: Option<Timestamp>,
    /// Only bookings starting before this instant.
    pub to: Option<Timestamp>,
    /// Only bookings whose attendee email is this one (ASCII case-insensitive).
    pub attendee_email: Option<String>,
    /// Only bookings whose title, attendee name or email, or notes contain this text
    /// (case-insensitive).
    pub search: Option<String>,
    /// Only live bookings ([`Status::is_live`]); ignored when `status` is set.
    pub live: bool,
    pub order: SortOrder,
    /// Continue after this row.
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// Most bookings a reschedule chain follows in each direction.
pub const MAX_CHAIN_HOPS: usize = 50;

/// One booking of a reschedule chain: its uid, and the booking when calbook has it (a reschedule
/// can name an old booking whose own delivery never arrived).
#[derive(Debug, Clone)]
pub struct ChainEntry {
    pub uid: String,
    pub booking: Option<Booking>,
}

impl super::Store {
    /// The reschedule chain through `booking`, earliest first, `booking` included: it follows
    /// `rescheduled_from` back and `rescheduled_to` forward, at most [`MAX_CHAIN_HOPS`] each way.
    /// It stops at a loop, after a uid calbook has no booking for (listed with `booking: None`),
    /// and before a booking `scope` does not allow.
    pub async fn reschedule_chain(
        &self,
        booking: &Booking,
        scope: &Scope,
    ) -> super::Result<Vec<ChainEntry>> {
        let mut seen = std::collections::HashSet::from([booking.uid.clone()]);
        let mut walk = async |first: Option<&String>, next: fn(&Booking) -> Option<&String>| {
            let mut found = Vec::new();
            let mut uid = first.cloned();
            while let Some(u) = uid.take() {
                if found.len() >= MAX_CHAIN_HOPS || !seen.insert(u.clone()) {
                    break;
                }
                match self.booking(&u).await? {
                    Some(b) if !scope.allows(&b) => break,
                    Some(b) => {
                        uid = next(&b).cloned();
                        found.push(ChainEntry {
                            uid: u,
                            booking: Some(b),
                        });
                    }
                    None => found.push(ChainEntry {
                        uid: u,
                        booking: None,
                    }),
                }
            }
            Ok::<_, super::StoreError>(found)
        };
        let mut chain = walk(booking.rescheduled_from.as_ref(), |b| {
            b.rescheduled_from.as_ref()
        })
        .await?;
        let later = walk(booking.rescheduled_to.as_ref(), |b| {
            b.rescheduled_to.as_ref()
        })
        .await?;
        chain.reverse();
        chain.push(ChainEntry {
            uid: booking.uid.clone(),
            booking: Some(booking.clone()),
        });
        chain.extend(later);
        Ok(chain)
    }
}

/// A value bound to a numbered parameter.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Arg {
    Text(String),
    Uuid(Uuid),
    Time(Timestamp),
    Int(i64),
}

impl Arg {
    /// The value to bind (each backend encodes it in its own types, see `value`).
    pub(super) fn value(&self) -> super::value::Value<'_> {
        use super::value::Value;
        match self {
            Arg::Text(s) => Value::text(s),
            Arg::Uuid(u) => Value::Uuid(Some(*u)),
            Arg::Time(t) => Value::Time(Some(*t)),
            Arg::Int(i) => Value::Int(Some(*i)),
        }
    }
}

/// The `[INDEXED BY …] WHERE … ORDER BY … LIMIT …` tail of a listing on `backend` (it follows
/// `FROM bookings`), with its arguments in parameter order. A search of three characters or
/// more goes through the search index (on SQLite, a listing of every booking is answered by
/// `search::sqlite_listing` instead, which also knows when walking the list's order is faster).
pub(super) fn listing_tail(f: &BookingFilter, backend: Backend) -> (String, Vec<Arg>) {
    let search = search_text(f);
    let fts = search.is_some_and(searched_through_the_index);
    let hint = super::live::index_hint(f, search, fts, backend);
    let ListingParts {
        mut filters,
        order,
        mut args,
    } = listing_parts(f, backend);
    if let Some(text) = search {
        let term = search_term(&mut args, text, fts, backend);
        let _ = write!(filters, " AND {term}");
    }
    args.push(Arg::Int(i64::from(f.limit)));
    let sql = format!("{hint}{filters} ORDER BY {order} LIMIT ${}", args.len());
    (sql, args)
}

/// What every plan of a listing shares: its filters but the search, and its order.
pub(super) struct ListingParts {
    /// ` WHERE TRUE AND …`: whose bookings, status (or live), range, attendee email, cursor.
    pub(super) filters: String,
    /// `starts_at ASC, id ASC`, or both descending.
    pub(super) order: &'static str,
    /// The filters' arguments, `$1` onwards.
    pub(super) args: Vec<Arg>,
}

/// `f`'s filters (all but the search) and order on `backend`.
pub(super) fn listing_parts(f: &BookingFilter, backend: Backend) -> ListingParts {
    // The ASCII-only fold of the ownership rule, as the email index is built on each backend.
    let fold = match backend {
        Backend::Sqlite => "lower",
        Backend::Postgres => "calbook_ascii_lower",
    };
    let mut sql = " WHERE TRUE".to_owned();
    let mut args = Vec::new();
    let param = |args: &mut Vec<Arg>, a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    if let Scope::Owner(owner) = &f.scope {
        let id = param(&mut args, Arg::Uuid(owner.client_id));
        match owner.email_key() {
            Some(email) => {
                let email = param(&mut args, Arg::Text(email));
                let _ = write!(
                    sql,
                    " AND (client_id = {id} OR (client_id IS NULL AND {fold}(attendee_email) = {email}))"
                );
            }
            None => {
                let _ = write!(sql, " AND client_id = {id}");
            }
        }
    }
    if let Some(status) = f.status {
        let p = param(&mut args, Arg::Text(status.as_str().to_owned()));
        let _ = write!(sql, " AND status = {p}");
    } else if f.live {
        let _ = write!(sql, " AND {}", super::live::live_term());
    }
    if let Some(from) = f.from {
        let p = param(&mut args, Arg::Time(from));
        let _ = write!(sql, " AND starts_at >= {p}");
    }
    if let Some(to) = f.to {
        let p = param(&mut args, Arg::Time(to));
        let _ = write!(sql, " AND starts_at < {p}");
    }
    if let Some(email) = &f.attendee_email {
        let p = param(
            &mut args,
            Arg::Text(email.trim_ascii().to_ascii_lowercase()),
        );
        let _ = write!(sql, " AND {fold}(attendee_email) = {p}");
    }
    let (cmp, order) = match f.order {
        SortOrder::Ascending => (">", "starts_at ASC, id ASC"),
        SortOrder::Descending => ("<", "starts_at DESC, id DESC"),
    };
    if let Some(c) = f.after {
        let t = param(&mut args, Arg::Time(c.starts_at));
        let id = param(&mut args, Arg::Uuid(c.id));
        let _ = write!(sql, " AND (starts_at, id) {cmp} ({t}, {id})");
    }
    ListingParts {
        filters: sql,
        order,
        args,
    }
}

/// `f`'s search, trimmed, when there is one.
pub(super) fn search_text(f: &BookingFilter) -> Option<&str> {
    f.search.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// The folded text PostgreSQL's trigram index (migration 0013) is built on: the planner uses the
/// index only for this exact expression.
pub(super) const SEARCH_TEXT_PG: &str = "lower(coalesce(title, '') || ' ' || coalesce(attendee_name, '') || ' ' || coalesce(attendee_email, '') || ' ' || coalesce(notes, ''))";

/// The shortest search a trigram index answers.
const MIN_INDEXED_CHARS: usize = 3;

/// From this many matches on, a search on SQLite walks the listing's order instead of the search
/// index (see `search::sqlite_listing`): one page of 50 is then found within about
/// 110,000 / 2,000 × 50 ≈ 2,750 rows of 110,000, while looking up and sorting 2,000 matches
/// costs about as much.
pub(super) const DENSE_MATCHES: i64 = 2_000;

/// Whether a search for `text` (trimmed) can go through the trigram index.
pub(super) fn searched_through_the_index(text: &str) -> bool {
    text.chars().count() >= MIN_INDEXED_CHARS
}

/// The SQLite search index's query for `f`'s search when it can answer it: one FTS5 phrase
/// (quotes doubled), its trigrams in a row, so a substring.
pub(super) fn fts_phrase(f: &BookingFilter) -> Option<String> {
    let text = search_text(f)?;
    searched_through_the_index(text).then(|| phrase(text))
}

/// `text` as one FTS5 phrase: in double quotes, its own quotes doubled, so no FTS5 syntax.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The term (to join with `AND`) of the free-text search for `text` (trimmed, not empty), its
/// argument pushed onto `args`; `fts`: through SQLite's search index, else a scan of the four
/// columns on SQLite (a case-insensitive `LIKE`, ASCII letters folded).
pub(super) fn search_term(args: &mut Vec<Arg>, text: &str, fts: bool, backend: Backend) -> String {
    let like = format!("%{}%", escape_like(&text.to_lowercase()));
    match backend {
        Backend::Sqlite if fts => {
            args.push(Arg::Text(phrase(text)));
            format!(
                "rowid IN (SELECT rowid FROM bookings_search WHERE bookings_search MATCH ${})",
                args.len()
            )
        }
        Backend::Sqlite => {
            args.push(Arg::Text(like));
            let p = format!("${}", args.len());
            let cols: Vec<String> = ["title", "attendee_name", "attendee_email", "notes"]
                .iter()
                .map(|c| format!("lower({c}) LIKE {p} ESCAPE '\\'"))
                .collect();
            format!("({})", cols.join(" OR "))
        }
        Backend::Postgres => {
            args.push(Arg::Text(like));
            format!("{SEARCH_TEXT_PG} LIKE ${} ESCAPE '\\'", args.len())
        }
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_garbage() {
        let c = Cursor {
            starts_at: "2026-03-10T14:00:00.123Z".parse().unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in [
            "",
            "!!",
            "bm90IGEgY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("12|nope"),
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_only_ever_travel_as_parameters() {
        let f = BookingFilter {
            scope: Scope::Owner(Owner {
                client_id: Uuid::nil(),
                email: Some("A@Example.com".into()),
            }),
            search: Some("o'brien%_".into()),
            attendee_email: Some("x@y.z' OR 1=1 --".into()),
            limit: 10,
            ..Default::default()
        };
        let (sql, args) = listing_tail(&f, Backend::Postgres);
        assert!(!sql.contains("brien") && !sql.contains("1=1") && !sql.contains("example"));
        assert_eq!(args[1], Arg::Text("a@example.com".into()));
        assert_eq!(args[3], Arg::Text("%o'brien\\%\\_%".into()));
        assert_eq!(sql.matches('$').count(), 5, "{sql}");
    }

    #[test]
    fn owner_rule_prefers_client_id_over_email() {
        let owner = Owner {
            client_id: Uuid::now_v7(),
            email: Some("Ann@Example.com".into()),
        };
        let mut b = crate::booking::Booking::from_details(
            &crate::booking::BookingDetails::example("u1", "2026-03-10T14:00:00Z"),
            Status::Confirmed,
            "2026-03-01T00:00:00Z".parse().unwrap(),
        );
        b.client_id = None;
        b.attendee_email = Some("ann@example.COM".into());
        assert!(owner.owns(&b), "email match without client id");
        b.client_id = Some(Uuid::now_v7());
        assert!(!owner.owns(&b), "another client's id wins over the email");
        b.client_id = Some(owner.client_id);
        b.attendee_email = None;
        assert!(owner.owns(&b));
        assert!(Scope::All.allows(&b));
    }

    fn unowned_booking(attendee_email: &str) -> Booking {
        let mut b = crate::booking::Booking::from_details(
            &crate::booking::BookingDetails::example("u1", "2026-03-10T14:00:00Z"),
            Status::Confirmed,
            "2026-03-01T00:00:00Z".parse().unwrap(),
        );
        b.client_id = None;
        b.attendee_email = Some(attendee_email.into());
        b
    }

    fn client(email: Option<&str>) -> Owner {
        Owner {
            client_id: Uuid::now_v7(),
            email: email.map(str::to_owned),
        }
    }

    #[test]
    fn email_match_folds_ascii_only() {
        let kelvin = "\u{212A}im@example.com";
        assert!(!client(Some(kelvin)).owns(&unowned_booking("kim@example.com")));
        assert!(!client(Some("kim@example.com")).owns(&unowned_booking(kelvin)));
        assert!(!client(Some("ß@example.com")).owns(&unowned_booking("SS@example.com")));
        assert!(client(Some(" KIM@Example.com\t")).owns(&unowned_booking("kim@example.COM")));
        assert!(client(Some("jörg@example.com")).owns(&unowned_booking("JöRG@example.com")));
        assert!(!client(Some("jörg@example.com")).owns(&unowned_booking("JÖRG@example.com")));
    }

    #[test]
    fn an_empty_email_owns_nothing() {
        for email in [Some(""), Some("  "), None] {
            for attendee in ["", "  "] {
                assert!(
                    !client(email).owns(&unowned_booking(attendee)),
                    "{email:?} owns {attendee:?}"
                );
            }
        }
    }

    #[test]
    fn the_sql_folds_like_the_rule() {
        let f = |email: &str, backend| {
            listing_tail(
                &BookingFilter {
                    scope: Scope::Owner(client(Some(email))),
                    limit: 1,
                    ..Default::default()
                },
                backend,
            )
        };
        let (sql, args) = f(" Kim@EXAMPLE.com ", Backend::Sqlite);
        assert!(sql.contains("lower(attendee_email) = $2"), "{sql}");
        assert_eq!(args[1], Arg::Text("kim@example.com".into()));
        let (sql, args) = f("\u{212A}im@example.com", Backend::Postgres);
        assert!(
            sql.contains("calbook_ascii_lower(attendee_email) = $2"),
            "{sql}"
        );
        assert_eq!(args[1], Arg::Text("\u{212A}im@example.com".into()));
        let (sql, args) = f(" ", Backend::Postgres);
        assert!(
            !sql.contains("attendee_email"),
            "an empty email matches no row: {sql}"
        );
        assert_eq!(args.len(), 2, "the client id and the limit");
    }
}
