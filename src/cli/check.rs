//! `calbook check`: the whole configuration, checked at once, as a table; exit 0 when every row
//! is ok, 1 otherwise. Nothing is created (no data directory, database or secret) and nothing is
//! sent: the database takes one probe write, the mail transport is greeted, Cal.com's API is
//! asked who the key belongs to.

use std::process::ExitCode;
use std::time::Duration;

use crate::config::{self, Settings};
use crate::store::Store;

/// The API version `/v2/me` is asked with.
const CALCOM_API_VERSION: &str = "2024-08-13";

struct Row {
    what: &'static str,
    result: Result<String, String>,
}

pub async fn run(settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    rows.push(Row {
        what: "webhook secret",
        result: match config::existing_webhook_secrets(settings) {
            Ok(s) => Ok(format!("{} secret(s) set", s.all().count())),
            Err(e) => Err(e.to_string()),
        },
    });
    rows.push(Row {
        what: "database",
        result: database(settings).await,
    });
    rows.push(Row {
        what: "mail transport",
        result: match settings.email.build(&settings.data_dir) {
            Ok(p) => p
                .mailer
                .probe()
                .await
                .map(|d| format!("{}: {d}", p.mailer.kind())),
            Err(e) => Err(format!("email settings: {e}")),
        },
    });
    // The sync's own settings: CALCOM_API_KEY (or its _FILE) and CALCOM_API_URL.
    if let Some(key) = settings
        .calcom
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        let base = settings.calcom.api_url.trim_end_matches('/');
        rows.push(Row {
            what: "Cal.com API key",
            result: calcom_key(base, key).await,
        });
    }
    let width = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let mut ok = true;
    for r in &rows {
        let (mark, text) = match &r.result {
            Ok(t) => ("ok  ", t.as_str()),
            Err(t) => {
                ok = false;
                ("FAIL", t.as_str())
            }
        };
        println!("{:width$}  {mark}  {text}", r.what);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn database(settings: &Settings) -> Result<String, String> {
    let url = settings.database_url();
    let where_ = Store::describe_url(&url);
    let store = Store::open_existing(&url, &settings.store)
        .await
        .map_err(|e| format!("{where_}: {e}"))?;
    let probe = store.probe_write().await;
    store.close().await;
    probe
        .map(|()| format!("{where_} takes writes"))
        .map_err(|e| format!("{where_} refuses writes: {e}"))
}

async fn calcom_key(base: &str, key: &str) -> Result<String, String> {
    let url = format!("{}/v2/me", base.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let res = client
        .get(&url)
        .bearer_auth(key)
        .header("cal-api-version", CALCOM_API_VERSION)
        .send()
        .await
        .map_err(|e| format!("{base} cannot be reached: {e}"))?;
    match res.status().as_u16() {
        200..=299 => Ok(format!("{base} accepts the key")),
        401 | 403 => Err(format!(
            "{base} refused CALCOM_API_KEY ({}); create a key in Cal.com under Settings → Developer → API keys",
            res.status()
        )),
        _ => Err(format!("{base} answered {}", res.status())),
    }
}
