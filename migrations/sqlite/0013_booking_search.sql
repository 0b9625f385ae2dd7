-- The dashboard's booking search (issue 14). Same version number as migrations/postgres/0013.
--
-- An FTS5 index over the title, attendee name and email, and notes of every booking, with the
-- trigram tokenizer: any substring of three characters or more is found through the index,
-- case-insensitively, as the earlier `LIKE '%…%'` scan found it. It is an external-content
-- table: the text stays in `bookings` only, and the triggers below keep the index in step with
-- every insert, update and delete (the `delete` command needs the old values, which the
-- triggers pass). The index is keyed by the bookings' rowid, which `VACUUM` and `VACUUM INTO`
-- (the backup) keep.
CREATE VIRTUAL TABLE bookings_search USING fts5(
  title, attendee_name, attendee_email, notes,
  content = 'bookings', content_rowid = 'rowid', tokenize = 'trigram'
);

INSERT INTO bookings_search (bookings_search) VALUES ('rebuild');

CREATE TRIGGER bookings_search_insert AFTER INSERT ON bookings BEGIN
  INSERT INTO bookings_search (rowid, title, attendee_name, attendee_email, notes)
  VALUES (new.rowid, new.title, new.attendee_name, new.attendee_email, new.notes);
END;

CREATE TRIGGER bookings_search_delete AFTER DELETE ON bookings BEGIN
  INSERT INTO bookings_search (bookings_search, rowid, title, attendee_name, attendee_email, notes)
  VALUES ('delete', old.rowid, old.title, old.attendee_name, old.attendee_email, old.notes);
END;

CREATE TRIGGER bookings_search_update
AFTER UPDATE OF title, attendee_name, attendee_email, notes ON bookings BEGIN
  INSERT INTO bookings_search (bookings_search, rowid, title, attendee_name, attendee_email, notes)
  VALUES ('delete', old.rowid, old.title, old.attendee_name, old.attendee_email, old.notes);
  INSERT INTO bookings_search (rowid, title, attendee_name, attendee_email, notes)
  VALUES (new.rowid, new.title, new.attendee_name, new.attendee_email, new.notes);
END;
