//! The languages emails are written in: one message catalog per language
//! (`templates/email/lang/<code>.json`, a flat JSON object of message key → text), English,
//! German, French and Spanish built in.
//!
//! - A recipient's locale (`attendees[].language.locale`, `organizer.language.locale`) picks the
//!   catalog: the whole tag first (`de-at`, when a business added one), then its language (`de`),
//!   else English. Dates use the whole locale, so `fr-CA` gets Canadian French dates with the
//!   French texts. No locale, or an unknown language, gives English with British-style dates
//!   ("Tue 10 Mar, 15:00", 24-hour), as calbook wrote them before it had languages.
//! - `CALBOOK_TEMPLATES_DIR/lang/<code>.json` overrides a built-in language key by key, or adds a
//!   language; keys it leaves out come from the built-in catalog of that language, else English.
//! - Every catalog is checked when the renderer is built: valid JSON, only known keys, only
//!   placeholders (`{title}`) that name a template value. A bad file stops start-up with its path
//!   and the fix, never an email at send time.
//! - Messages are plain text: `{name}` is replaced by the value, `{{` and `}}` are literal braces.
//!   In HTML the whole message is escaped, values included.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use icu_locale_core::Locale;

use super::RenderError;

/// The built-in catalogs; English is complete and defines the keys.
const BUILTIN: [(&str, &str); 4] = [
    ("en", include_str!("../../../templates/email/lang/en.json")),
    ("de", include_str!("../../../templates/email/lang/de.json")),
    ("fr", include_str!("../../../templates/email/lang/fr.json")),
    ("es", include_str!("../../../templates/email/lang/es.json")),
];

/// The languages calbook ships.
pub const BUILTIN_LANGUAGES: [&str; 4] = ["en", "de", "fr", "es"];

/// Placeholders a message may use besides the template values: `{n}` in the duration units,
/// `{duration}` in the reminder lead, `{zone_given}` in the unknown-zone note.
const EXTRA_PLACEHOLDERS: [&str; 3] = ["n", "duration", "zone_given"];

/// One recipient's language: the catalog to read and the locale to write dates in.
#[derive(Debug, Clone)]
pub(super) struct Lang {
    /// The catalog's code ("en", "de", "de-at").
    pub catalog: String,
    /// The `lang` attribute of the HTML ("de-AT", "en").
    pub tag: String,
    /// The locale dates are written in.
    pub locale: Locale,
}

/// Every language's messages, complete (missing keys filled from English at load).
#[derive(Debug)]
pub(super) struct Catalogs {
    langs: HashMap<String, BTreeMap<String, String>>,
}

impl Catalogs {
    /// The built-in catalogs merged with `override_dir/lang/*.json`; `values` are the template
    /// value names a placeholder may use.
    pub(super) fn load(
        override_dir: Option<&Path>,
        values: &[String],
    ) -> Result<Catalogs, RenderError> {
        let mut allowed: BTreeSet<&str> = values.iter().map(String::as_str).collect();
        allowed.extend(EXTRA_PLACEHOLDERS);
        let english = parse(
            Path::new("templates/email/lang/en.json"),
            BUILTIN[0].1,
            None,
            &allowed,
        )?;
        let keys: BTreeSet<String> = english.keys().cloned().collect();
        let mut langs: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        for (code, source) in BUILTIN {
            let path = PathBuf::from(format!("templates/email/lang/{code}.json"));
            let messages = parse(&path, source, Some(&keys), &allowed)?;
            let mut full = english.clone();
            full.extend(messages);
            langs.insert(code.to_owned(), full);
        }
        if let Some(dir) = override_dir {
            for (code, path) in override_files(&dir.join("lang"))? {
                let source =
                    std::fs::read_to_string(&path).map_err(|source| RenderError::OverrideFile {
                        path: path.clone(),
                        source,
                    })?;
                let messages = parse(&path, &source, Some(&keys), &allowed)?;
                let base_lang = code.split('-').next().unwrap_or(&code).to_owned();
                let mut full = langs
                    .get(&code)
                    .or_else(|| langs.get(&base_lang))
                    .cloned()
                    .unwrap_or_else(|| english.clone());
                full.extend(messages);
                langs.insert(code, full);
            }
        }
        Ok(Catalogs { langs })
    }

    /// The catalog codes, sorted.
    pub(super) fn codes(&self) -> Vec<String> {
        let mut codes: Vec<String> = self.langs.keys().cloned().collect();
        codes.sort();
        codes
    }

    /// The language for `locale` (a BCP 47 tag such as `de-AT`; `_` is read as `-`).
    pub(super) fn resolve(&self, locale: Option<&str>) -> Lang {
        let english = || Lang {
            catalog: "en".to_owned(),
            tag: "en".to_owned(),
            locale: "en-GB".parse().unwrap_or(Locale::UNKNOWN),
        };
        let Some(raw) = locale
            .map(str::trim)
            .filter(|l| !l.is_empty() && l.len() <= 64)
        else {
            return english();
        };
        let Ok(parsed) = raw.replace('_', "-").parse::<Locale>() else {
            return english();
        };
        let tag = parsed.id.to_string();
        let language = parsed.id.language.as_str().to_owned();
        let catalog = [tag.to_ascii_lowercase(), language.clone()]
            .into_iter()
            .find(|c| self.langs.contains_key(c));
        match catalog {
            Some(catalog) if language == "en" && parsed.id.region.is_none() => Lang {
                catalog,
                ..english()
            },
            Some(catalog) => Lang {
                catalog,
                tag,
                locale: parsed,
            },
            None => english(),
        }
    }

    /// The message `key` in `catalog` (English when the catalog is unknown); `None` for a key
    /// no catalog has.
    pub(super) fn message(&self, catalog: &str, key: &str) -> Option<&str> {
        self.langs
            .get(catalog)
            .or_else(|| self.langs.get("en"))
            .and_then(|m| m.get(key))
            .map(String::as_str)
    }

    /// [`Catalogs::message`] with its placeholders filled by `value` (missing → empty), or
    /// the key itself when no catalog has it.
    pub(super) fn fill(
        &self,
        catalog: &str,
        key: &str,
        value: impl Fn(&str) -> Option<String>,
    ) -> String {
        match self.message(catalog, key) {
            Some(msg) => fill(msg, value),
            None => key.to_owned(),
        }
    }
}

/// `<dir>/<code>.json` files, each with a valid language code for a name.
fn override_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, RenderError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(RenderError::OverrideDir {
                dir: dir.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RenderError::OverrideDir {
            dir: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .map(str::to_owned)
        else {
            continue;
        };
        let valid = stem.parse::<Locale>().ok().filter(|l| {
            l.id.to_string().eq_ignore_ascii_case(&stem) && l.id.language.as_str() != "und"
        });
        let Some(locale) = valid else {
            return Err(RenderError::Catalog {
                path,
                problem: format!(
                    "{stem:?} is not a language tag; name the file after the language, e.g. de.json or de-AT.json"
                ),
            });
        };
        out.push((locale.id.to_string().to_ascii_lowercase(), path));
    }
    out.sort();
    Ok(out)
}

/// One catalog: a JSON object of strings, with only `keys` (when given) and placeholders from
/// `allowed`.
fn parse(
    path: &Path,
    source: &str,
    keys: Option<&BTreeSet<String>>,
    allowed: &BTreeSet<&str>,
) -> Result<BTreeMap<String, String>, RenderError> {
    let problem = |problem: String| RenderError::Catalog {
        path: path.to_owned(),
        problem,
    };
    let messages: BTreeMap<String, String> = serde_json::from_str(source).map_err(|e| {
        problem(format!(
            "not a JSON object of message texts ({e}); write {{\"key\": \"text\", …}} with the keys of the built-in en.json"
        ))
    })?;
    for (key, text) in &messages {
        if let Some(keys) = keys
            && !keys.contains(key)
        {
            return Err(problem(format!(
                "unknown message key {key:?}; use the keys of the built-in en.json (README, \"Email languages\")"
            )));
        }
        for name in placeholders(text).map_err(|e| problem(format!("message {key:?}: {e}")))? {
            if !allowed.contains(name) {
                return Err(problem(format!(
                    "message {key:?} uses {{{name}}}, which is not a template value; use one of the values listed in the README (\"Email languages\"), or write {{{{ for a literal brace"
                )));
            }
        }
    }
    Ok(messages)
}

/// The `{name}` placeholders of `text`.
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.starts_with(c as char) {
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            return Err("a lone \"}\" (write }} for a literal brace)".to_owned());
        }
        let end = after
            .find('}')
            .ok_or_else(|| "a \"{\" without its \"}\" (write {{ for a literal brace)".to_owned())?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("{{{name}}} is not a placeholder name"));
        }
        out.push(name);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// The placeholder names of a (valid) message, for tests.
#[cfg(test)]
pub(super) fn placeholders_of(text: &str) -> Vec<String> {
    placeholders(text)
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// `text` with each `{name}` replaced by `value(name)` (missing → empty) and `{{`/`}}` unescaped.
/// Texts were checked at load, so anything malformed is copied as it is.
pub(super) fn fill(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let (c, after) = (rest.as_bytes()[i] as char, &rest[i + 1..]);
        if after.starts_with(c) {
            out.push(c);
            rest = &after[1..];
        } else if let (true, Some(end)) = (c == '{', after.find('}')) {
            out.push_str(&value(&after[..end]).unwrap_or_default());
            rest = &after[end + 1..];
        } else {
            out.push(c);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
