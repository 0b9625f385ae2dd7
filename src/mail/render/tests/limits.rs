//! A 200 KB title once made a 1.9 MB Subject header: subjects, titles and notes are bounded.

use super::*;

#[test]
fn huge_titles_and_notes_are_cut_in_subject_and_body() {
    let mut b = booking();
    b.title = "T".repeat(200_000);
    b.notes = Some("N".repeat(500_000));
    let r = renderer();
    for kind in EmailKind::ALL {
        let parts = r.render(kind, &b, &attendee(&b), &ctx()).unwrap();
        assert!(
            parts.subject.chars().count() <= MAX_SUBJECT_CHARS,
            "{kind:?}: a {}-character subject",
            parts.subject.chars().count()
        );
        assert!(
            parts.text.len() < 20_000,
            "{kind:?}: {} bytes of text",
            parts.text.len()
        );
        assert!(
            parts.html.len() < 40_000,
            "{kind:?}: {} bytes of html",
            parts.html.len()
        );
    }
}

#[test]
fn clip_keeps_short_values_and_marks_a_cut() {
    assert_eq!(clip("short".to_owned(), 10), "short");
    let cut = clip("abcdefghijkl".to_owned(), 5);
    assert_eq!(cut, "abcd…");
    assert_eq!(clip("ééééééé".to_owned(), 3).chars().count(), 3);
}

#[test]
fn subjects_are_short_with_the_title_cut_at_a_word() {
    let mut b = booking();
    b.title = "Quarterly planning session for the garden project with the whole team".to_owned();
    let p = renderer()
        .render(EmailKind::Confirmation, &b, &attendee(&b), &ctx())
        .unwrap();
    // 14:00Z is 10:00 in New York (EDT from 8 March).
    assert_eq!(
        p.subject,
        "Confirmed: Quarterly planning session for the garden project with the…, Tue 10 Mar, 10:00"
    );
    assert_eq!(clip_words("Intro call", 60), "Intro call");
    assert_eq!(
        clip_words(&"x".repeat(70), 60),
        format!("{}…", "x".repeat(59))
    );
}
