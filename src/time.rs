//! Time helpers shared by the store and the CLI. calbook keeps instants at millisecond
//! precision, in UTC, as `jiff::Timestamp`.

use jiff::Timestamp;

/// Now, truncated to the millisecond (the precision both backends keep).
pub fn now() -> Timestamp {
    let ms = Timestamp::now().as_millisecond();
    Timestamp::from_millisecond(ms).expect("the current time is in range")
}

/// The fixed text form SQLite stores: `2026-03-10T14:00:00.000Z`. Fixed width, so text order is
/// time order.
pub fn to_db_text(t: Timestamp) -> String {
    format!("{t:.3}")
}

pub fn from_db_text(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

pub fn to_chrono(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(t.as_microsecond())
        .expect("jiff timestamps are within chrono's range")
}

pub fn from_chrono(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp::from_microsecond(t.timestamp_micros())
        .expect("chrono timestamps from PostgreSQL are within jiff's range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_text_is_fixed_width_and_round_trips() {
        let whole: Timestamp = "2026-03-10T14:00:00Z".parse().unwrap();
        let frac: Timestamp = "2026-03-10T14:00:00.5+00:00".parse().unwrap();
        assert_eq!(to_db_text(whole), "2026-03-10T14:00:00.000Z");
        assert_eq!(to_db_text(frac), "2026-03-10T14:00:00.500Z");
        assert!(to_db_text(whole) < to_db_text(frac));
        assert_eq!(from_db_text(&to_db_text(frac)), Some(frac));
        assert_eq!(from_chrono(to_chrono(frac)), frac);
    }
}
