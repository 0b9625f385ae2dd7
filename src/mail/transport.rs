//! Sending rendered emails (Resend, SMTP, files). See `mod.rs`.
