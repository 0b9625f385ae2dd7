//! Languages: the recipient's locale picks the catalog, dates follow the locale, and a business
//! can override or add a language in the templates directory.

use super::*;
use crate::mail::render::lang::{Catalogs, placeholders_of};
use crate::mail::render::values::VALUE_NAMES;

fn render_in(locale: Option<&str>, kind: EmailKind) -> EmailParts {
    let b = booking();
    let mut to = attendee(&b);
    to.locale = locale.map(str::to_owned);
    renderer().render(kind, &b, &to, &ctx()).unwrap()
}

#[test]
fn the_attendees_locale_picks_the_language_and_the_date_format() {
    // 14:00Z is 10:00 in New York.
    let de = render_in(Some("de"), EmailKind::Confirmation);
    assert_eq!(de.subject, "Bestätigt: Intro call, Di., 10. März, 10:00");
    assert!(de.text.starts_with("Hallo Marco Rossi,\n"), "{}", de.text);
    assert!(
        de.text
            .contains("Wann: Dienstag, 10. März 2026 um 10:00–10:30 (America/New_York, EDT)"),
        "{}",
        de.text
    );
    assert!(de.html.contains(">Verschieben</a>"));
    assert!(de.html.contains(">Absagen</a>"));
    // The "Add to Google Calendar" link's details name the meeting URL in German too.
    assert!(de.text.contains("Meeting-Link%3A%20https"), "{}", de.text);
    let fr = render_in(Some("fr"), EmailKind::Cancelled);
    assert!(
        fr.subject.starts_with("Annulé : Intro call, mar. 10 mars"),
        "{}",
        fr.subject
    );
    assert!(fr.html.contains("<html lang=\"fr\">"));
    let es = render_in(Some("es"), EmailKind::Reminder);
    assert!(es.text.contains("empieza en 24 horas."), "{}", es.text);
    assert!(es.text.contains("Duración: 30 minutos"), "{}", es.text);
}

#[test]
fn region_subtags_fall_back_to_the_language_and_unknown_ones_to_english() {
    let at = render_in(Some("de-AT"), EmailKind::Confirmation);
    assert!(at.subject.starts_with("Bestätigt:"), "{}", at.subject);
    // Austrian German names March "März" too, but writes January "Jänner": the dates use the
    // whole locale while the texts come from "de".
    assert!(at.html.contains("<html lang=\"de-AT\">"));
    let b = {
        let mut b = booking();
        b.starts_at = ts("2027-01-12T14:00:00Z");
        b.ends_at = ts("2027-01-12T14:30:00Z");
        b
    };
    let mut to = attendee(&b);
    to.locale = Some("de-AT".to_owned());
    let jan = renderer()
        .render(EmailKind::Confirmation, &b, &to, &ctx())
        .unwrap();
    assert!(jan.text.contains("Jänner"), "{}", jan.text);
    to.locale = Some("de".to_owned());
    let jan = renderer()
        .render(EmailKind::Confirmation, &b, &to, &ctx())
        .unwrap();
    assert!(jan.text.contains("Januar"), "{}", jan.text);

    for (locale, starts) in [
        (Some("fr-CA"), "Confirmé :"),
        (Some("es-419"), "Confirmada:"),
        (Some("es_MX"), "Confirmada:"),
        (Some("it"), "Confirmed:"),
        (Some("not a locale!"), "Confirmed:"),
        (Some(""), "Confirmed:"),
        (None, "Confirmed:"),
    ] {
        let p = render_in(locale, EmailKind::Confirmation);
        assert!(p.subject.starts_with(starts), "{locale:?}: {}", p.subject);
    }
    let it = render_in(Some("it"), EmailKind::Confirmation);
    assert!(it.html.contains("<html lang=\"en\">"));
    // Plain English (or none) writes British-style 24-hour times; en-US its own 12-hour clock.
    let en = render_in(Some("en"), EmailKind::Confirmation);
    assert!(en.subject.ends_with("Tue 10 Mar, 10:00"), "{}", en.subject);
    let us = render_in(Some("en-US"), EmailKind::Confirmation);
    assert!(
        us.subject.contains("Mar 10") && us.subject.ends_with("AM"),
        "{}",
        us.subject
    );
    assert!(us.html.contains("<html lang=\"en-US\">"));
}

#[test]
fn the_bookings_people_give_the_locale_when_the_recipient_has_none() {
    let mut b = booking();
    b.attendees[0].locale = Some("fr".to_owned());
    b.organizer.as_mut().unwrap().locale = Some("de".to_owned());
    let mut to_attendee = attendee(&b);
    to_attendee.locale = None;
    let mut to_host = host(&b);
    to_host.locale = None;
    let r = renderer();
    let a = r
        .render(EmailKind::Confirmation, &b, &to_attendee, &ctx())
        .unwrap();
    assert!(a.subject.starts_with("Confirmé :"), "{}", a.subject);
    let h = r
        .render(EmailKind::Confirmation, &b, &to_host, &ctx())
        .unwrap();
    assert!(h.subject.starts_with("Bestätigt:"), "{}", h.subject);
}

#[test]
fn every_shipped_language_has_every_message_with_the_same_placeholders() {
    let english: std::collections::BTreeMap<String, String> =
        serde_json::from_str(include_str!("../../../../templates/email/lang/en.json")).unwrap();
    for (code, source) in [
        (
            "de",
            include_str!("../../../../templates/email/lang/de.json"),
        ),
        (
            "fr",
            include_str!("../../../../templates/email/lang/fr.json"),
        ),
        (
            "es",
            include_str!("../../../../templates/email/lang/es.json"),
        ),
    ] {
        let other: std::collections::BTreeMap<String, String> =
            serde_json::from_str(source).unwrap();
        assert_eq!(
            english.keys().collect::<Vec<_>>(),
            other.keys().collect::<Vec<_>>(),
            "{code}.json"
        );
        for (key, text) in &english {
            let mut want = placeholders_of(text);
            let mut got = placeholders_of(&other[key]);
            want.sort();
            got.sort();
            assert_eq!(want, got, "{code}.json {key}");
        }
    }
}

#[test]
fn the_placeholder_names_are_the_template_values() {
    let b = booking();
    let catalogs = Catalogs::load(None, &[]).map(|_| ()).unwrap_err();
    // Without the value names, the built-in catalogs' placeholders are unknown.
    assert!(
        matches!(catalogs, RenderError::Catalog { .. }),
        "{catalogs:?}"
    );
    let names: Vec<String> = VALUE_NAMES.iter().map(|n| n.to_string()).collect();
    let catalogs = Catalogs::load(None, &names).unwrap();
    let lang = catalogs.resolve(Some("en"));
    let values = values::TemplateValues::new(
        EmailKind::Confirmation,
        &b,
        &attendee(&b),
        &ctx(),
        &lang,
        &catalogs,
    );
    let json = serde_json::to_value(&values).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, VALUE_NAMES);
}

/// `Renderer::new` with `files` in its templates directory.
fn with_files(files: &[(&str, &str)]) -> Result<Renderer, RenderError> {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    Renderer::new(Some(dir.path()))
}

#[test]
fn a_business_overrides_a_language_or_adds_one_in_the_templates_directory() {
    let r = with_files(&[
        ("lang/de.json", r#"{"button.cancel": "Termin absagen"}"#),
        (
            "lang/it.json",
            r#"{"confirmation.subject": "Confermato: {short_title}, {short_when}", "greeting.named": "Ciao {recipient_name},"}"#,
        ),
        ("lang/README.txt", "not a catalog, ignored"),
    ])
    .unwrap()
    .with_site(SiteLinks {
        booker_origin: Some("https://acme.cal.com".to_owned()),
        public_url: None,
    });
    let b = booking();
    let mut to = attendee(&b);
    to.locale = Some("de".to_owned());
    let de = r.render(EmailKind::Confirmation, &b, &to, &ctx()).unwrap();
    assert!(de.html.contains(">Termin absagen</a>"), "{}", de.html);
    // The keys the file leaves out stay German.
    assert!(de.html.contains(">Verschieben</a>"));
    to.locale = Some("it-IT".to_owned());
    let it = r.render(EmailKind::Confirmation, &b, &to, &ctx()).unwrap();
    // Italian texts where given, English for the rest, Italian dates throughout.
    assert_eq!(it.subject, "Confermato: Intro call, mar 10 mar, 10:00");
    assert!(it.text.starts_with("Ciao Marco Rossi,\n"), "{}", it.text);
    assert!(it.text.contains("Duration: 30 minutes"), "{}", it.text);
    assert!(it.html.contains("<html lang=\"it-IT\">"));
    assert!(r.languages().contains(&"it".to_owned()));
}

#[test]
fn a_bad_language_file_stops_start_up_naming_the_file_and_the_fix() {
    let cases: [(&str, &str, &str); 5] = [
        ("lang/de.json", "{\"button.cancel\": ", "not a JSON object"),
        (
            "lang/de.json",
            r#"{"button.cancle": "Absagen"}"#,
            "unknown message key \"button.cancle\"",
        ),
        (
            "lang/fr.json",
            r#"{"confirmation.subject": "Confirmé : {titel}"}"#,
            "uses {titel}, which is not a template value",
        ),
        (
            "lang/fr.json",
            r#"{"greeting": "Bonjour {"}"#,
            "without its \"}\"",
        ),
        ("lang/german.json", "{}", "is not a language tag"),
    ];
    for (file, body, problem) in cases {
        let err = with_files(&[(file, body)]).unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, RenderError::Catalog { .. }), "{err:?}");
        assert!(shown.contains(file), "{shown}");
        assert!(shown.contains(problem), "{shown}");
    }
}
