-- Ownership made strict. SQLite; same version number as migrations/postgres/0004, which also
-- replaces the row-level-security policies and grants (SQLite has none).
--
-- The ownership rule's email match is ASCII case-insensitive (src/store/query.rs): SQLite's
-- built-in lower() folds A-Z only, so the `lower(attendee_email)` index of 0003 stays.
--
-- Client ids never proven are cleared. Before this version `client_id` came from the embed's
-- `metadata[client_id]`, which any booker can set; from now on calbook sets it only when the
-- booking carries an ownership proof it signed. Every existing client id is cleared (the
-- booking's `metadata` keeps the old value, with no power), and each cleared booking gets a
-- history entry `owner_cleared` with the old and the new client id. Such a booking now belongs to
-- the client whose verified email is the attendee's. The migration holds the database's write
-- lock, so nothing slips in between the two statements.

-- History ids are UUIDs (calbook mints v7; these are random v4, unique just the same); times are
-- calbook's fixed RFC 3339 form, 2026-03-10T14:00:00.000Z.
INSERT INTO booking_history (id, booking_id, action, old_values, new_values, created_at, delivery_id)
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
         || substr(lower(hex(randomblob(2))), 2) || '-'
         || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)
         || '-' || lower(hex(randomblob(6))),
       id, 'owner_cleared',
       json_object('client_id', client_id), json_object('client_id', NULL),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NULL
FROM bookings
WHERE client_id IS NOT NULL;
UPDATE bookings SET client_id = NULL WHERE client_id IS NOT NULL;
