//! Issue 13: faults heal without a restart, health tells the truth, bad input never wedges.
//! Each module is one row of the table.

mod alerts;
mod check;
mod data_dir;
mod disk_full;
mod fairness;
mod metrics;
mod nul;
mod readiness;
mod shutdown;
mod wal;
