//! One stored delivery with its raw body, for `calbook deliveries show` and replays (listings
//! leave bodies out).

use uuid::Uuid;

use super::common;
use super::rows::{self, DELIVERY_SQL};
use super::value::Value;
use super::{Delivery, Result, Store};

impl Store {
    /// The delivery with this id, body included.
    pub async fn delivery(&self, id: Uuid) -> Result<Option<Delivery>> {
        let sql = format!("{} WHERE id = $1", DELIVERY_SQL.select);
        let args = [Value::Uuid(Some(id))];
        const BODY: &str = "SELECT body FROM webhook_deliveries WHERE id = $1";
        let (found, body) = match self {
            Store::Sqlite(s) => (
                common::fetch_optional(&s.pool, sql, &args, rows::delivery).await?,
                sqlx::query_scalar::<_, Vec<u8>>(BODY)
                    .bind(id.hyphenated().to_string())
                    .fetch_optional(&s.pool)
                    .await?,
            ),
            Store::Postgres(p) => (
                common::fetch_optional(p, sql, &args, rows::delivery).await?,
                sqlx::query_scalar::<_, Vec<u8>>(BODY)
                    .bind(id)
                    .fetch_optional(p)
                    .await?,
            ),
        };
        Ok(found.map(|mut d| {
            d.body = body.unwrap_or_default().into();
            d
        }))
    }
}
