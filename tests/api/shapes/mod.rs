//! Every real Cal.com booking shape (issue 11), delivered signed to a real calbook on both
//! databases: seats, recurring series, payments, never-erasing confirmations, no-shows, host and
//! place changes, the empty body and the triggers calbook does not act on. Each story asserts the
//! booking's end state and which emails the change planned (who gets what, who gets nothing).
//!
//! Bodies start from the `created` sample (`samples/calcom`, built from Cal.com's
//! `RegularBookingService.ts@368f82de` payload) and change only what the shape changes; the
//! Cal.com file and commit each shape was read from are named beside it in [`story`].

mod changes;
mod dashboard;
mod payments;
mod seats;
mod series;
pub(crate) mod story;
mod trigger;
