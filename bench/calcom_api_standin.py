#!/usr/bin/env python3
"""A Cal.com API v2 stand-in for bench/sync-import.sh (Python standard library only, loopback).

Serves N bookings in Cal.com's 2024-08-13 shape: GET /v2/bookings with afterUpdatedAt,
sortUpdatedAt=asc, take (max 250) and skip, answering {status, data, pagination{hasNextPage,...}};
checks `Authorization: Bearer KEY` (401) and `cal-api-version: 2024-08-13` (400). Each booking's
JSON is made once at start, so serving a page costs a join, not calbook's time.

Mix: 70 % confirmed bookings in the future (each gets two reminders), 20 % in the past, 10 %
cancelled.

  python3 bench/calcom_api_standin.py --port 18390 --n 10000 --key cal_bench
"""
import argparse
import json
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def make(n):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    base = now - timedelta(days=30)
    out = []
    for i in range(n):
        kind = i % 10
        if kind < 7:
            start, status = now + timedelta(days=2, minutes=30 * i), "accepted"
        elif kind < 9:
            start, status = now - timedelta(days=3, minutes=30 * i), "accepted"
        else:
            start, status = now + timedelta(days=5, minutes=30 * i), "cancelled"
        updated = base + timedelta(milliseconds=10 * i)
        b = {
            "id": i + 1, "uid": f"bench-{i:07d}", "title": "Intro Call between Host and Guest",
            "description": "", "status": status,
            "hosts": [{"id": 1, "name": "Host", "email": "host@example.com", "username": "host",
                       "timeZone": "Europe/Rome"}],
            "start": iso(start), "end": iso(start + timedelta(minutes=30)), "duration": 30,
            "eventTypeId": 7, "eventType": {"id": 7, "slug": "intro-call"},
            "location": "https://video.example.com/room", "absentHost": False,
            "attendees": [{"name": f"Guest {i}", "email": f"guest{i}@example.com",
                           "timeZone": "Europe/Rome", "language": "en", "absent": False}],
            "bookingFieldsResponses": {}, "metadata": {}, "icsUid": f"bench-{i}@Cal.com",
            "createdAt": iso(updated), "updatedAt": iso(updated),
        }
        if status == "cancelled":
            b["cancellationReason"] = "bench"
        out.append((updated, json.dumps(b, separators=(",", ":"))))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18390)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--key", default="cal_bench")
    args = ap.parse_args()
    bookings = make(args.n)
    stats = {"requests": 0}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, code, body):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            u = urlparse(self.path)
            if u.path == "/stats":
                return self.answer(200, json.dumps(stats))
            stats["requests"] += 1
            if self.headers.get("authorization") != f"Bearer {args.key}":
                return self.answer(401, '{"status":"error"}')
            if self.headers.get("cal-api-version") != "2024-08-13":
                return self.answer(400, '{"status":"error"}')
            if u.path != "/v2/bookings":
                return self.answer(404, '{"status":"error"}')
            q = {k: v[0] for k, v in parse_qs(u.query).items()}
            take, skip = int(q.get("take", 100)), int(q.get("skip", 0))
            if not 1 <= take <= 250:
                return self.answer(400, '{"status":"error"}')
            rows = bookings
            if "afterUpdatedAt" in q:
                after = datetime.fromisoformat(q["afterUpdatedAt"].replace("Z", "+00:00"))
                rows = [b for b in bookings if b[0] > after]
            page = rows[skip:skip + take]
            total = len(rows)
            more = skip + len(page) < total
            self.answer(200, '{"status":"success","data":[' + ",".join(b[1] for b in page)
                        + '],"pagination":' + json.dumps({
                            "totalItems": total, "remainingItems": max(0, total - skip - len(page)),
                            "returnedItems": len(page), "itemsPerPage": take,
                            "currentPage": skip // take + 1, "totalPages": -(-total // take),
                            "hasNextPage": more, "hasPreviousPage": skip > 0}) + "}")

    ThreadingHTTPServer(("127.0.0.1", args.port), H).serve_forever()


if __name__ == "__main__":
    main()
