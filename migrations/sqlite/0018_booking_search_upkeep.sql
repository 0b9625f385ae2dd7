-- The search index of migration 0013, kept lean (issue 14: searches at 110,000 bookings): its
-- trigger writes only text changes, and the index is kept in few segments. SQLite only:
-- PostgreSQL's trigram index is a GIN index on an expression, which PostgreSQL maintains by
-- itself; no PostgreSQL migration has this number.
--
-- A booking is written whole (an upsert that sets every column), so `AFTER UPDATE OF title, …`
-- fired on every cancellation, reschedule or status change, and the trigger deleted and inserted
-- the booking's trigrams again although its text was the same. Each such pair leaves a delete
-- marker and a second copy in the index until FTS5 merges them, and a search steps over both.
-- The trigger now rewrites the trigrams only when one of the four columns changed.
DROP TRIGGER bookings_search_update;

CREATE TRIGGER bookings_search_update
AFTER UPDATE OF title, attendee_name, attendee_email, notes ON bookings
WHEN old.title IS NOT new.title OR old.attendee_name IS NOT new.attendee_name
  OR old.attendee_email IS NOT new.attendee_email OR old.notes IS NOT new.notes
BEGIN
  INSERT INTO bookings_search (bookings_search, rowid, title, attendee_name, attendee_email, notes)
  VALUES ('delete', old.rowid, old.title, old.attendee_name, old.attendee_email, old.notes);
  INSERT INTO bookings_search (rowid, title, attendee_name, attendee_email, notes)
  VALUES (new.rowid, new.title, new.attendee_name, new.attendee_email, new.notes);
END;

-- Few segments: FTS5 writes a small segment per transaction and merges four of a level at a
-- time, so an index filled by webhooks holds a dozen segments, and a search for a term whose
-- trigrams are in every booking reads each trigram's list in every segment (a rare attendee at
-- 110,000 bookings: 1.7 ms, 0.75 ms in one segment). calbook's background upkeep asks FTS5 to
-- merge every second (`search::merge_index`); `usermerge` 2 lets it merge a level as soon as it
-- holds two segments (FTS5's default waits for four). The index is merged into one segment once
-- here: a few seconds at 110,000 bookings.
INSERT INTO bookings_search (bookings_search, rank) VALUES ('usermerge', 2);
INSERT INTO bookings_search (bookings_search) VALUES ('optimize');
