//! Template overrides, fuel, strictness, and EmailKind names.

use super::*;

#[test]
fn override_dir_replaces_only_the_files_it_has() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("confirmation.subject"),
        "Booked: {{ title }} ({{ zone }})\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("unrelated.txt"), "{% broken").unwrap();
    let r = Renderer::new(Some(dir.path()))
        .unwrap()
        .with_links(LinkPolicy::new(["meet.example.com"]))
        .with_site(SiteLinks {
            booker_origin: Some("https://acme.cal.com".to_owned()),
            public_url: Some("https://book.acme.example".to_owned()),
        })
        .with_brand(Brand {
            logo_url: Some("https://acme.example/logo.png".to_owned()),
            color: Some("#0f766e".to_owned()),
            footer: Some("Acme GmbH, Torstraße 1, 10119 Berlin".to_owned()),
        });
    let b = booking();
    let p = r
        .render(EmailKind::Confirmation, &b, &attendee(&b), &ctx())
        .unwrap();
    assert_eq!(p.subject, "Booked: Intro call (America/New_York)");
    // The other parts are still the built-ins.
    assert_eq!(
        p.text,
        renderer()
            .render(EmailKind::Confirmation, &b, &attendee(&b), &ctx())
            .unwrap()
            .text
    );
    // An override .html is escaped too.
    std::fs::write(dir.path().join("reminder.html"), "<p>{{ title }}</p>").unwrap();
    let mut evil = booking();
    evil.title = "<script>".to_owned();
    let r = Renderer::new(Some(dir.path())).unwrap();
    let p = r
        .render(EmailKind::Reminder, &evil, &attendee(&evil), &ctx())
        .unwrap();
    assert_eq!(p.html, "<p>&lt;script&gt;</p>");
}

#[test]
fn runaway_template_runs_out_of_fuel() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("confirmation.txt"),
        "{% for x in range(100000) %}{% for y in range(100000) %}{{ x }}{% endfor %}{% endfor %}",
    )
    .unwrap();
    let r = Renderer::new(Some(dir.path())).unwrap();
    let b = booking();
    let started = Instant::now();
    let err = r
        .render(EmailKind::Confirmation, &b, &attendee(&b), &ctx())
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20));
    match &err {
        RenderError::Render { name, source } => {
            assert_eq!(name, "confirmation.txt");
            assert_eq!(source.kind(), minijinja::ErrorKind::OutOfFuel);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("confirmation.txt"), "{err}");
}

#[test]
fn undefined_variables_and_bad_syntax_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("declined.html"),
        "<p>{{ no_such_value }}</p>",
    )
    .unwrap();
    let r = Renderer::new(Some(dir.path())).unwrap();
    let b = booking();
    let err = r
        .render(EmailKind::Declined, &b, &attendee(&b), &ctx())
        .unwrap_err();
    match &err {
        RenderError::Render { name, source } => {
            assert_eq!(name, "declined.html");
            assert_eq!(source.kind(), minijinja::ErrorKind::UndefinedError);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Attribute access on an undefined value fails too.
    std::fs::write(dir.path().join("declined.html"), "{{ booking.title }}").unwrap();
    assert!(
        Renderer::new(Some(dir.path()))
            .unwrap()
            .render(EmailKind::Declined, &b, &attendee(&b), &ctx())
            .is_err()
    );

    std::fs::write(dir.path().join("reminder.txt"), "{% if %}").unwrap();
    let err = Renderer::new(Some(dir.path())).unwrap_err();
    assert!(
        matches!(&err, RenderError::Syntax { name, .. } if name == "reminder.txt"),
        "{err:?}"
    );
    assert!(err.to_string().contains("reminder.txt"), "{err}");

    // Includes only reach the fixed template names, never a path.
    std::fs::write(
        dir.path().join("reminder.txt"),
        "{% include \"../../etc/passwd\" %}",
    )
    .unwrap();
    let r = Renderer::new(Some(dir.path())).unwrap();
    let err = r
        .render(EmailKind::Reminder, &b, &attendee(&b), &ctx())
        .unwrap_err();
    assert!(matches!(&err, RenderError::Render { name, .. } if name == "reminder.txt"));

    let missing = dir.path().join("does-not-exist");
    let err = Renderer::new(Some(&missing)).unwrap_err();
    assert!(matches!(err, RenderError::OverrideDir { .. }), "{err:?}");
    let file = dir.path().join("reminder.txt");
    assert!(matches!(
        Renderer::new(Some(&file)).unwrap_err(),
        RenderError::OverrideDir { .. }
    ));
}

#[test]
fn email_kind_round_trips() {
    for kind in EmailKind::ALL {
        assert_eq!(kind.as_str().parse::<EmailKind>().unwrap(), kind);
        assert_eq!(
            serde_json::to_string(&kind).unwrap(),
            format!("\"{}\"", kind.as_str())
        );
    }
    let err = "welcome".parse::<EmailKind>().unwrap_err();
    assert_eq!(
        err,
        "unknown email kind \"welcome\" (expected one of confirmation, rescheduled, cancelled, requested, declined, reminder, updated, reschedule_requested)"
    );
    assert_eq!(TEMPLATE_NAMES.len(), BUILTINS.len());
    assert!(TEMPLATE_NAMES.contains(&"reminder.html"));
}
