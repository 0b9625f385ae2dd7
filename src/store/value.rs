//! The one place where the two backends store the same value differently.
//!
//! | value      | SQLite                                   | PostgreSQL     |
//! |------------|------------------------------------------|----------------|
//! | uuid       | text (hyphenated, lowercase)             | `uuid`         |
//! | timestamp  | text, fixed width (`time::to_db_text`)   | `timestamptz`  |
//! | JSON       | text                                     | `jsonb`        |
//! | text, int, bytes | as is                              | as is          |
//!
//! Writing: a row type turns each column into a [`Value`]; `Value` implements sqlx's `Encode` for
//! both backends, so it binds the same way into a `QueryBuilder` or a `query`. Reading: the
//! [`ReadRow`] trait reads a typed column from a row of either backend, so each table's decoder is
//! written once (in `rows`). No value is ever spliced into SQL text.
//!
//! Failure modes: a stored value that does not parse back (a malformed uuid, timestamp or JSON
//! text on SQLite) is [`StoreError::Corrupt`]; a JSON value that cannot be serialized fails the
//! bind (SQLite: a panic, as before — calbook's own types always serialize).

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::encode::{Encode, IsNull};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgRow, PgTypeInfo};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteRow, SqliteTypeInfo};
use sqlx::types::Json;
use sqlx::{Postgres, Row, Sqlite, Type};
use uuid::Uuid;

use super::{Result, StoreError};
use crate::time::{from_chrono, from_db_text, to_chrono, to_db_text};

/// One bound parameter, before a backend encodes it.
#[derive(Clone, Copy)]
pub(super) enum Value<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Uuid(Option<Uuid>),
    Time(Option<Timestamp>),
    Json(Option<&'a dyn ToJson>),
    Bytes(&'a [u8]),
}

impl<'a> Value<'a> {
    pub(super) fn text(s: &'a str) -> Value<'a> {
        Value::Text(Some(s))
    }

    pub(super) fn opt_text(s: &'a Option<String>) -> Value<'a> {
        Value::Text(s.as_deref())
    }

    pub(super) fn json<T: Serialize + Sync>(v: &'a T) -> Value<'a> {
        Value::Json(Some(v))
    }

    pub(super) fn opt_json<T: Serialize + Sync>(v: &'a Option<T>) -> Value<'a> {
        Value::Json(v.as_ref().map(|v| v as &dyn ToJson))
    }
}

/// A value stored as JSON, serialized straight into the backend's buffer (object safe, so a
/// [`Value`] can hold any of the row types' JSON fields).
pub(super) trait ToJson: Sync {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
    fn to_json(&self) -> String;
}

impl<T: Serialize + Sync> ToJson for T {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("stored values serialize")
    }
}

impl Type<Sqlite> for Value<'_> {
    fn type_info() -> SqliteTypeInfo {
        <str as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Value<'_> {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        fn put<'q, T: Encode<'q, Sqlite>>(
            v: T,
            buf: &mut SqliteArgumentsBuffer,
        ) -> Result<IsNull, BoxDynError> {
            v.encode(buf)
        }
        match *self {
            Value::Text(v) => put(v, buf),
            Value::Int(v) => put(v, buf),
            Value::Uuid(v) => put(v.map(|u| u.to_string()), buf),
            Value::Time(v) => put(v.map(to_db_text), buf),
            Value::Json(v) => put(v.map(ToJson::to_json), buf),
            Value::Bytes(v) => put(v, buf),
        }
    }
}

impl Type<Postgres> for Value<'_> {
    fn type_info() -> PgTypeInfo {
        <str as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Value<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        fn put<'q, T: Encode<'q, Postgres>>(
            v: T,
            buf: &mut PgArgumentBuffer,
        ) -> Result<IsNull, BoxDynError> {
            v.encode(buf)
        }
        match *self {
            Value::Text(v) => put(v, buf),
            Value::Int(v) => put(v, buf),
            Value::Uuid(v) => put(v, buf),
            Value::Time(v) => put(v.map(to_chrono), buf),
            Value::Json(None) => Ok(IsNull::Yes),
            Value::Json(Some(v)) => {
                // The jsonb binary format: a version byte, then the JSON text (as sqlx's `Json`
                // writes it, without the intermediate `String`).
                buf.push(1);
                v.write_json(buf)?;
                Ok(IsNull::No)
            }
            Value::Bytes(v) => put(v, buf),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self {
            Value::Text(_) => <&str as Type<Postgres>>::type_info(),
            Value::Int(_) => <i64 as Type<Postgres>>::type_info(),
            Value::Uuid(_) => <Uuid as Type<Postgres>>::type_info(),
            Value::Time(_) => <chrono::DateTime<chrono::Utc> as Type<Postgres>>::type_info(),
            Value::Json(_) => <Json<()> as Type<Postgres>>::type_info(),
            Value::Bytes(_) => <&[u8] as Type<Postgres>>::type_info(),
        })
    }
}

/// Reads one typed column of a row, on either backend. The required methods read nullable
/// columns; the provided ones read `NOT NULL` columns.
pub(super) trait ReadRow {
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>>;
    fn opt_time(&self, column: &str) -> Result<Option<Timestamp>>;
    fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>>;

    fn text(&self, column: &str) -> Result<String> {
        self.opt_text(column)?.ok_or_else(|| null(column))
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.opt_int(column)?.ok_or_else(|| null(column))
    }

    fn uuid(&self, column: &str) -> Result<Uuid> {
        self.opt_uuid(column)?.ok_or_else(|| null(column))
    }

    fn time(&self, column: &str) -> Result<Timestamp> {
        self.opt_time(column)?.ok_or_else(|| null(column))
    }

    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        self.opt_json(column)?.ok_or_else(|| null(column))
    }
}

fn null(column: &str) -> StoreError {
    StoreError::Corrupt(format!("{column} is NULL"))
}

impl ReadRow for SqliteRow {
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>> {
        let text: Option<String> = self.try_get(column)?;
        text.map(|s| {
            Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("uuid {s:?}: {e}")))
        })
        .transpose()
    }

    fn opt_time(&self, column: &str) -> Result<Option<Timestamp>> {
        let text: Option<String> = self.try_get(column)?;
        text.map(|s| {
            from_db_text(&s).ok_or_else(|| StoreError::Corrupt(format!("timestamp {s:?}")))
        })
        .transpose()
    }

    fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        let text: Option<String> = self.try_get(column)?;
        text.map(|s| {
            serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("JSON column: {e}")))
        })
        .transpose()
    }
}

impl ReadRow for PgRow {
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>> {
        Ok(self.try_get(column)?)
    }

    fn opt_time(&self, column: &str) -> Result<Option<Timestamp>> {
        let t: Option<chrono::DateTime<chrono::Utc>> = self.try_get(column)?;
        Ok(t.map(from_chrono))
    }

    fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        let j: Option<Json<T>> = self.try_get(column)?;
        Ok(j.map(|j| j.0))
    }
}
