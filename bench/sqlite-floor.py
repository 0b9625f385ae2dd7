#!/usr/bin/env python3
"""What SQLite alone needs for calbook's writes: no HTTP, no JSON, no decisions, no async.

Copies the rows one `BOOKING_CREATED` delivery leaves (its booking, its history entry, the
delivery with its raw body), taken as templates from a database calbook filled (bench/ingest.sh
or any load), into a fresh copy of calbook's schema, 64 deliveries per transaction, with fresh
keys (uid, ids, body digest, start time, attendee e-mail), in WAL mode with synchronous=FULL
(an fsync per commit, as calbook's barrier), autocheckpoint at 16 MiB. Every index and the
search index's triggers fire as they do for calbook; `--drop` removes them first, as
bench/sqlite-parts.sh does. Prints deliveries/s over the wall time and over the time spent inside SQLite's calls alone
(without the script's own row building): the ceiling of the storage on this machine.

  bench/sqlite-floor.py --from filled.db --schema fresh.db [--drop nofts|noidx|none] [-n 20000]
      [--synchronous NORMAL]
"""
import argparse, os, random, sqlite3, time, uuid

NOFTS = ["DROP TRIGGER bookings_search_insert", "DROP TRIGGER bookings_search_update"]
NOIDX = ["DROP INDEX bookings_starts_at_idx", "DROP INDEX bookings_status_starts_at_idx",
         "DROP INDEX bookings_attendee_email_idx", "DROP INDEX bookings_live_starts_idx",
         "DROP INDEX booking_history_counts_idx", "DROP INDEX webhook_deliveries_received_at_id_idx"]

ap = argparse.ArgumentParser()
ap.add_argument("--from", dest="src", required=True)
ap.add_argument("--schema", required=True, help="a database `calbook migrate` just made (changed)")
ap.add_argument("--drop", choices=["nofts", "noidx", "none"])
ap.add_argument("-n", type=int, default=20000)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"],
                help="NORMAL: no fsync at commit in WAL mode (the CPU and write cost alone)")
a = ap.parse_args()

src = sqlite3.connect(a.src)
src.row_factory = sqlite3.Row
booking = dict(src.execute("SELECT * FROM bookings LIMIT 1").fetchone())
history = dict(src.execute("SELECT * FROM booking_history WHERE booking_id = ?", (booking["id"],)).fetchone())
delivery = dict(src.execute("SELECT * FROM webhook_deliveries WHERE booking_uid = ?", (booking["external_id"],)).fetchone())
del delivery["seq"]

db = sqlite3.connect(a.schema, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute(f"PRAGMA synchronous={a.synchronous}")
db.execute("PRAGMA foreign_keys=ON")
db.execute("PRAGMA cache_size=-16384")
db.execute("PRAGMA wal_autocheckpoint=4000")
for sql in {"nofts": NOFTS, "noidx": NOIDX, "none": NOFTS + NOIDX}.get(a.drop, []):
    db.execute(sql)

def insert(table, row):
    cols = ", ".join(row)
    return f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})", list(row)

b_sql, b_cols = insert("bookings", booking)
h_sql, h_cols = insert("booking_history", history)
d_sql, d_cols = insert("webhook_deliveries", delivery)
rng = random.Random(7)
start = time.perf_counter()
done, in_sqlite = 0, 0.0
while done < a.n:
    rows_b, rows_h, rows_d = [], [], []
    for _ in range(min(a.batch, a.n - done)):
        bid, uid = str(uuid.uuid4()), uuid.uuid4().hex[:22]
        b = dict(booking, id=bid, external_id=uid,
                 starts_at=f"2027-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}T{rng.randint(0, 23):02}:00:00Z",
                 attendee_email=f"{uuid.uuid4().hex[:10]}@example.com")
        rows_b.append([b[c] for c in b_cols])
        rows_h.append([dict(history, id=str(uuid.uuid4()), booking_id=bid)[c] for c in h_cols])
        rows_d.append([dict(delivery, id=str(uuid.uuid4()), booking_uid=uid,
                            body_sha256=os.urandom(32).hex())[c] for c in d_cols])
    t = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(b_sql, rows_b)
    db.executemany(h_sql, rows_h)
    db.executemany(d_sql, rows_d)
    db.execute("COMMIT")
    in_sqlite += time.perf_counter() - t
    done += len(rows_b)
secs = time.perf_counter() - start
print(f"{a.drop or 'full':<6} {done} deliveries: {done / secs:,.0f}/s of wall time, "
      f"{done / in_sqlite:,.0f}/s of the time inside SQLite ({in_sqlite:.2f} of {secs:.2f} s; "
      f"batch {a.batch}, synchronous={a.synchronous})")
