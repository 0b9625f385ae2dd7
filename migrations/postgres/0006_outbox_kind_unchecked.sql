-- The outbox's `kind` column loses its CHECK: the list of email kinds is `EmailKind` in the code
-- (src/mail/render/kind.rs), which writes every row, so a new kind needs no migration. Same
-- version number as migrations/sqlite/0006 (which rebuilds the table, as SQLite must).

ALTER TABLE email_outbox DROP CONSTRAINT email_outbox_kind_check;
