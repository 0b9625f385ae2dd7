//! calbook's integration tests: one binary, the real server on port 0, real databases (SQLite
//! files and a throwaway PostgreSQL server), real HTTP. Every scenario runs on both backends.

mod booking_page;
mod bookings_api;
mod browser;
mod calcom_embed;
mod calcom_stand_in;
mod cli;
mod dashboard;
mod email;
mod email_batch;
mod email_language;
mod email_screenshots;
mod faults;
mod helpers;
mod ingest;
mod logs;
mod operations;
mod ordering;
mod outbox;
mod outbox_tasks;
mod ownership;
mod postgres_server;
mod postgres_tls;
mod refusals;
mod rls;
mod security;
mod service;
mod sessions;
mod shapes;
mod store_contract;
mod sync;
mod web;
