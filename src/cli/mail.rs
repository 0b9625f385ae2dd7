//! `calbook mail preview` and `calbook mail test`.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Settings;
use crate::mail::render::{EmailKind, Recipient, RenderContext, Role};
use crate::mail::{Email, Mailbox};

/// Renders `kind` for a stored booking and prints subject, text and HTML.
pub async fn preview(
    settings: &Settings,
    kind: EmailKind,
    uid: &str,
    host: bool,
) -> anyhow::Result<ExitCode> {
    let store = super::open(settings).await?;
    let Some(booking) = store.booking(uid).await? else {
        eprintln!("error: no booking with uid {uid:?}");
        return Ok(ExitCode::from(2));
    };
    let person = if host {
        booking.organizer.clone()
    } else {
        booking.attendees.first().cloned()
    };
    let role = if host { Role::Host } else { Role::Attendee };
    let Some(recipient) = person
        .as_ref()
        .and_then(|p| Recipient::from_person(p, role))
    else {
        eprintln!(
            "error: booking {uid:?} has no {} with an email address",
            if host { "organizer" } else { "attendee" }
        );
        return Ok(ExitCode::from(2));
    };
    let pipeline = settings
        .email
        .build(&settings.data_dir)
        .context("email settings")?;
    let previous_start = match (&booking.rescheduled_from, kind) {
        (Some(old), EmailKind::Rescheduled) => store.booking(old).await?.map(|b| b.starts_at),
        _ => None,
    };
    let ctx = RenderContext {
        business_name: pipeline.worker.business_name.clone(),
        reminder_lead: (kind == EmailKind::Reminder).then(|| jiff::SignedDuration::from_hours(24)),
        previous_start,
        series: Vec::new(),
        series_uid: None,
    };
    let parts = pipeline.renderer.render(kind, &booking, &recipient, &ctx)?;
    println!("Subject: {}\n", parts.subject);
    println!("----- text/plain -----\n{}\n", parts.text);
    println!("----- text/html -----\n{}", parts.html);
    Ok(ExitCode::SUCCESS)
}

/// Sends one plain test email through the configured transport.
pub async fn test(settings: &Settings, to: &str) -> anyhow::Result<ExitCode> {
    let pipeline = settings
        .email
        .build(&settings.data_dir)
        .context("email settings")?;
    let to = crate::outbox::setup::parse_mailbox("TO", to)?;
    let email = Email {
        from: pipeline.worker.from.clone(),
        reply_to: pipeline.worker.reply_to.clone(),
        to: vec![Mailbox {
            name: None,
            address: to.address.clone(),
        }],
        subject: "calbook test email".to_owned(),
        text: "This is a test email from calbook. If you can read it, email delivery works.\n"
            .to_owned(),
        html: "<p>This is a test email from calbook. If you can read it, email delivery works.</p>"
            .to_owned(),
        calendar: None,
        idempotency_key: format!("test/{}", uuid::Uuid::now_v7()),
    };
    match pipeline.mailer.send(&email).await {
        Ok(sent) => {
            println!(
                "sent through {}{}",
                pipeline.mailer.kind(),
                sent.provider_id
                    .map(|id| format!(" (id {id})"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {} could not send: {e}", pipeline.mailer.kind());
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::mail::render::EmailKind;

    /// `EMAIL_KINDS`'s default and help are written out for clap; they must name every kind, or
    /// a new kind would silently not be sent by default.
    #[test]
    fn the_email_kinds_default_and_help_name_every_kind() {
        let command = super::super::Cli::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some("email-kinds"))
            .expect("--email-kinds");
        let default: Vec<&str> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let parsed = crate::outbox::plan::parse_kinds(&default.join(",")).unwrap();
        assert_eq!(
            parsed.into_iter().collect::<Vec<_>>(),
            EmailKind::ALL,
            "{default:?}"
        );
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        for kind in EmailKind::ALL {
            assert!(help.contains(kind.as_str()), "{kind} missing from {help:?}");
        }
    }
}
