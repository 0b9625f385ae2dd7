//! The MIME message shared by the SMTP transport and the file mailer, plus the helpers every
//! transport uses to validate an [`Email`] the same way (addresses, idempotency key).

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox as LettreMailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use sha2::{Digest, Sha256};

use crate::mail::{CalendarInvite, Email, Mailbox, SendError, header_safe};

/// The header Resend's SMTP relay reads as the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Resend-Idempotency-Key";

/// File name of the calendar attachment.
pub(crate) const INVITE_FILENAME: &str = "invite.ics";

/// Resend's limit for an idempotency key.
const MAX_KEY_LEN: usize = 256;

/// Builds the full MIME message for `email`:
///
/// ```text
/// multipart/mixed
/// ├── multipart/alternative
/// │   ├── text/plain; charset=utf-8
/// │   ├── text/html; charset=utf-8
/// │   └── text/calendar; charset=utf-8; method=REQUEST|CANCEL   (when email.calendar is set)
/// └── invite.ics (application/ics, attachment)                   (when email.calendar is set)
/// ```
///
/// Headers: `From`, `Reply-To`, `To`, `Subject` (display names and subject pass through
/// [`header_safe`]), a `Message-ID` derived from the idempotency key (so a retry carries the same
/// id), and `Resend-Idempotency-Key`. An address that does not parse is
/// [`SendError::Permanent`] naming the field, never the value.
pub fn mime_message(email: &Email) -> Result<Message, SendError> {
    let key = idempotency_key(&email.idempotency_key)?;
    let from = mailbox(&email.from, "from")?;
    let to = recipients(email)?;

    let message_id = format!(
        "<{}@{}>",
        &hex::encode(Sha256::digest(key.as_bytes()))[..32],
        from.email.domain()
    );
    let mut builder = Message::builder()
        .from(from)
        .subject(header_safe(&email.subject))
        .message_id(Some(message_id))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(IDEMPOTENCY_HEADER),
            key,
        ));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(mailbox(reply_to, "reply_to")?);
    }
    for mbox in to {
        builder = builder.to(mbox);
    }

    let mut alternative = MultiPart::alternative()
        .singlepart(SinglePart::plain(email.text.clone()))
        .singlepart(SinglePart::html(email.html.clone()));
    let mixed = match &email.calendar {
        Some(invite) => {
            alternative = alternative.singlepart(
                SinglePart::builder()
                    .content_type(content_type(&calendar_content_type(invite, true))?)
                    .body(invite.ics.clone()),
            );
            let attachment = Attachment::new(INVITE_FILENAME.to_owned())
                .body(invite.ics.clone(), content_type("application/ics")?);
            MultiPart::mixed()
                .multipart(alternative)
                .singlepart(attachment)
        }
        None => MultiPart::mixed().multipart(alternative),
    };
    builder.multipart(mixed).map_err(build_error)
}

fn build_error(e: lettre::error::Error) -> SendError {
    SendError::Permanent {
        reason: format!("cannot build the MIME message: {e}"),
    }
}

fn content_type(value: &str) -> Result<ContentType, SendError> {
    ContentType::parse(value).map_err(|e| SendError::Permanent {
        reason: format!("invalid content type {value:?}: {e}"),
    })
}

/// `text/calendar; [charset=utf-8; ]method=REQUEST`.
pub(crate) fn calendar_content_type(invite: &CalendarInvite, charset: bool) -> String {
    if charset {
        format!(
            "text/calendar; charset=utf-8; method={}",
            invite.method.as_str()
        )
    } else {
        format!("text/calendar; method={}", invite.method.as_str())
    }
}

/// Parses a [`Mailbox`] into lettre's: the address trimmed and validated, the display name
/// made header-safe (an empty name is dropped). Errors name `field`, not the address.
pub(crate) fn mailbox(mbox: &Mailbox, field: &str) -> Result<LettreMailbox, SendError> {
    let address: Address = mbox
        .address
        .trim()
        .parse()
        .map_err(|e| SendError::Permanent {
            reason: format!("invalid {field} address ({e})"),
        })?;
    let name = mbox
        .name
        .as_deref()
        .map(header_safe)
        .filter(|n| !n.is_empty());
    Ok(LettreMailbox::new(name, address))
}

/// All `to` mailboxes, validated; at least one.
pub(crate) fn recipients(email: &Email) -> Result<Vec<LettreMailbox>, SendError> {
    if email.to.is_empty() {
        return Err(SendError::Permanent {
            reason: "the email has no recipient (to is empty)".to_owned(),
        });
    }
    email
        .to
        .iter()
        .enumerate()
        .map(|(i, m)| mailbox(m, &format!("to[{i}]")))
        .collect()
}

/// The idempotency key as sent on the wire (HTTP header, SMTP header, file name seed).
///
/// A key of visible ASCII other than `%` (the normal case, e.g.
/// `booking/<uid>/confirmation/<recipient>`) is used as is. Any other byte (space, control,
/// non-ASCII, `%`) is percent-encoded so the key fits in an HTTP header and cannot break a MIME
/// header; the mapping is deterministic and injective, so retries still share one key. A result
/// longer than 256 characters becomes `sha256/<hex of the original key>`. An empty key is
/// [`SendError::Permanent`].
pub(crate) fn idempotency_key(key: &str) -> Result<String, SendError> {
    if key.trim().is_empty() {
        return Err(SendError::Permanent {
            reason: "the idempotency key is empty".to_owned(),
        });
    }
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_KEY_LEN {
        out = format!("sha256/{}", hex::encode(Sha256::digest(key.as_bytes())));
    }
    Ok(out)
}

/// Standard base64 (RFC 4648, with padding), for Resend attachments.
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mail::{CalendarInvite, CalendarMethod};

    pub(crate) const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbook//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:booking-123@calbook\r\nDTSTART:20260301T100000Z\r\nDTEND:20260301T103000Z\r\nSUMMARY:Intro call\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    /// A booking confirmation whose recipient name tries to inject a `Bcc` header.
    pub(crate) fn sample_email() -> Email {
        Email {
            from: Mailbox {
                name: Some("Dana Whitfield".into()),
                address: "bookings@studio.example".into(),
            },
            reply_to: Some(Mailbox {
                name: Some("Dana".into()),
                address: " dana@studio.example ".into(),
            }),
            to: vec![Mailbox {
                name: Some("Marco\r\nBcc: attacker@evil.example".into()),
                address: "marco@client.example".into(),
            }],
            subject: "Confirmed: Intro call".into(),
            text: "Your intro call is confirmed.\r\nSee you soon.".into(),
            html: "<p>Your intro call is <b>confirmed</b>.</p>".into(),
            calendar: Some(CalendarInvite {
                method: CalendarMethod::Request,
                ics: ICS.into(),
            }),
            idempotency_key: "booking/uid-123/confirmation/marco@client.example".into(),
        }
    }

    /// Standard base64 decoding (test side).
    pub(crate) fn unbase64(s: &str) -> Vec<u8> {
        use base64::Engine;
        let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(clean)
            .expect("valid base64")
    }

    /// The raw header block (before the first empty line), unfolded, one header per entry.
    pub(crate) fn top_headers(raw: &str) -> Vec<String> {
        let head = raw.split("\r\n\r\n").next().unwrap_or_default();
        let mut headers: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.push_str(line);
                }
            } else {
                headers.push(line.to_owned());
            }
        }
        headers
    }

    /// Asserts the structure every transport that writes MIME must produce.
    pub(crate) fn assert_full_mime(raw: &str) {
        let headers = top_headers(raw);
        let named = |name: &str| {
            headers
                .iter()
                .filter(|h| h.to_ascii_lowercase().starts_with(&format!("{name}:")))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(named("to").len(), 1, "exactly one To: {headers:?}");
        assert!(named("to")[0].contains("<marco@client.example>"));
        assert!(named("bcc").is_empty(), "no Bcc header: {headers:?}");
        assert!(
            !raw.lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "no line starts a Bcc header"
        );
        assert_eq!(
            named("resend-idempotency-key"),
            vec!["Resend-Idempotency-Key: booking/uid-123/confirmation/marco@client.example"]
        );
        assert_eq!(named("from").len(), 1);
        assert!(
            named("from")[0].contains("\"Dana Whitfield\" <bookings@studio.example>"),
            "{raw}"
        );
        assert!(named("reply-to")[0].contains("<dana@studio.example>"));
        assert!(named("subject")[0].contains("Confirmed: Intro call"));
        assert!(named("content-type")[0].contains("multipart/mixed"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(raw.contains("Content-Type: text/html; charset=utf-8"));
        assert!(raw.contains("Content-Type: text/calendar; charset=utf-8; method=REQUEST"));
        assert!(raw.contains("Content-Type: application/ics"));
        assert!(raw.contains("Content-Disposition: attachment; filename=\"invite.ics\""));
        assert!(raw.contains("Your intro call is confirmed."));
        assert!(raw.contains("<p>Your intro call is <b>confirmed</b>.</p>"));
        assert_eq!(
            raw.matches("UID:booking-123@calbook").count(),
            2,
            "ics twice"
        );
        // The alternative part sits inside the mixed part, before the attachment.
        let alt = raw.find("multipart/alternative").unwrap();
        let cal = raw.find("method=REQUEST").unwrap();
        let att = raw.find("application/ics").unwrap();
        assert!(alt < cal && cal < att);
    }

    #[test]
    fn mime_has_all_parts_and_no_injected_header() {
        let raw = String::from_utf8(mime_message(&sample_email()).unwrap().formatted()).unwrap();
        assert_full_mime(&raw);
        let envelope = mime_message(&sample_email()).unwrap().envelope().clone();
        assert_eq!(
            envelope
                .to()
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>(),
            vec!["marco@client.example"]
        );
    }

    #[test]
    fn mime_without_calendar_has_no_calendar_parts() {
        let mut email = sample_email();
        email.calendar = None;
        let raw = String::from_utf8(mime_message(&email).unwrap().formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"));
        assert!(!raw.contains("text/calendar"));
        assert!(!raw.contains("invite.ics"));
    }

    #[test]
    fn cancel_method_reaches_the_content_type() {
        let mut email = sample_email();
        email.calendar.as_mut().unwrap().method = CalendarMethod::Cancel;
        let raw = String::from_utf8(mime_message(&email).unwrap().formatted()).unwrap();
        assert!(raw.contains("text/calendar; charset=utf-8; method=CANCEL"));
    }

    #[test]
    fn invalid_address_is_permanent_and_names_the_field_not_the_value() {
        let mut email = sample_email();
        email.to.push(Mailbox {
            name: None,
            address: "not-an-address-secret".into(),
        });
        match mime_message(&email) {
            Err(SendError::Permanent { reason }) => {
                assert!(reason.contains("to[1]"), "{reason}");
                assert!(!reason.contains("not-an-address-secret"), "{reason}");
            }
            other => panic!("expected Permanent, got {other:?}"),
        }
        let mut email = sample_email();
        email.from.address = "bad address@x".into();
        assert!(
            matches!(mime_message(&email), Err(SendError::Permanent { reason }) if reason.contains("from"))
        );
        let mut email = sample_email();
        email.to.clear();
        assert!(matches!(
            mime_message(&email),
            Err(SendError::Permanent { .. })
        ));
    }

    #[test]
    fn idempotency_key_is_header_safe_and_deterministic() {
        assert_eq!(idempotency_key("booking/a/b").unwrap(), "booking/a/b");
        assert_eq!(
            idempotency_key("a b%\r\nü").unwrap(),
            "a%20b%25%0D%0A%C3%BC"
        );
        let long = "k".repeat(300);
        let hashed = idempotency_key(&long).unwrap();
        assert!(hashed.starts_with("sha256/") && hashed.len() == 71);
        assert_eq!(hashed, idempotency_key(&long).unwrap());
        assert!(idempotency_key("  ").is_err());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
            assert_eq!(unbase64(encoded), plain.as_bytes());
        }
        assert_eq!(unbase64(&base64(ICS.as_bytes())), ICS.as_bytes());
    }
}
