//! Rendering emails from bookings (templates, time zones, calendar invites). See `mod.rs`.
