//! The bookings API through real HTTP: sign-in (Supabase HS256 and ES256 tokens, the admin token),
//! who sees which booking, filters, cursor paging under concurrent inserts, reschedule chains,
//! history, and the OpenAPI document against the routes.

mod listing;
mod openapi;
mod privacy;
mod sign_in;
