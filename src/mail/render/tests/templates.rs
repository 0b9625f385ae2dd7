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
    std::fs::write(
        dir.path().join("reminder.html"),
        "<html lang=\"{{ lang }}\"><p>{{ title }}</p>",
    )
    .unwrap();
    let mut evil = booking();
    evil.title = "<script>".to_owned();
    let r = Renderer::new(Some(dir.path())).unwrap();
    let p = r
        .render(EmailKind::Reminder, &evil, &attendee(&evil), &ctx())
        .unwrap();
    assert_eq!(p.html, "<html lang=\"en\"><p>&lt;script&gt;</p>");
}

/// The error `Renderer::new` gives for an override directory holding `files`.
fn start_with(files: &[(&str, &str)]) -> RenderError {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    Renderer::new(Some(dir.path())).unwrap_err()
}

#[test]
fn runaway_template_fails_at_start_up() {
    let started = Instant::now();
    let err = start_with(&[(
        "confirmation.txt",
        "{% for x in range(100000) %}{% for y in range(100000) %}{{ x }}{% endfor %}{% endfor %}",
    )]);
    assert!(started.elapsed() < Duration::from_secs(20));
    match &err {
        RenderError::Check { name, source } => {
            assert_eq!(name, "confirmation.txt");
            assert_eq!(source.kind(), minijinja::ErrorKind::OutOfFuel);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("confirmation.txt"), "{err}");
    assert!(err.to_string().contains("CALBOOK_TEMPLATES_DIR"), "{err}");
}

#[test]
fn undefined_variables_and_bad_syntax_fail_at_start_up() {
    let err = start_with(&[("declined.html", "<p>{{ no_such_value }}</p>")]);
    match &err {
        RenderError::Check { name, source } => {
            assert_eq!(name, "declined.html");
            assert_eq!(source.kind(), minijinja::ErrorKind::UndefinedError);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Attribute access on an undefined value fails too.
    assert!(matches!(
        start_with(&[("declined.html", "{{ booking.title }}")]),
        RenderError::Check { .. }
    ));
    // So does a message key no language file has.
    let err = start_with(&[("declined.subject", "{{ t(\"no.such.key\") }}")]);
    assert!(
        matches!(&err, RenderError::Check { name, .. } if name == "declined.subject"),
        "{err:?}"
    );

    let err = start_with(&[("reminder.txt", "{% if %}")]);
    assert!(
        matches!(&err, RenderError::Syntax { name, .. } if name == "reminder.txt"),
        "{err:?}"
    );
    assert!(err.to_string().contains("reminder.txt"), "{err}");

    // Includes only reach the fixed template names, never a path.
    let err = start_with(&[("reminder.txt", "{% include \"../../etc/passwd\" %}")]);
    assert!(matches!(&err, RenderError::Check { name, .. } if name == "reminder.txt"));

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("does-not-exist");
    let err = Renderer::new(Some(&missing)).unwrap_err();
    assert!(matches!(err, RenderError::OverrideDir { .. }), "{err:?}");
    let file = dir.path().join("reminder.txt");
    std::fs::write(&file, "x").unwrap();
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
