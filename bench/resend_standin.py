#!/usr/bin/env python3
"""A Resend stand-in for bench/email.sh's burst case (Python standard library only, loopback).

POST /emails and POST /emails/batch (1 to 100 emails, no attachments), at most RATE requests in
any one second (Resend's default team limit is 5; older accounts 2): beyond that, 429
`rate_limit_exceeded` with `retry-after: 1`. Resend's idempotency: a request whose
`Idempotency-Key` was accepted before gets the first answer again and sends nothing.

  GET  /stats        -> {"requests", "refused", "replays", "batches", "singles", "emails",
                         "twice", "accepted": [[to, subject, unix_time], ...]}
  POST /stats/reset

  python3 bench/resend_standin.py --port 18300 --rate 5
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {}


def reset():
    state.update(window=[], requests=0, refused=0, replays=0, batches=0, singles=0, keys=set(),
                 emails={}, accepted=[])


reset()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    rate = 5

    def log_message(self, *a):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                emails = state["emails"]
                self.reply(200, {
                    "requests": state["requests"], "refused": state["refused"], "replays": state["replays"],
                    "batches": state["batches"], "singles": state["singles"], "emails": len(emails),
                    "twice": sum(1 for n in emails.values() if n > 1), "accepted": state["accepted"],
                })
        else:
            self.reply(404, {"message": "not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/stats/reset":
            with lock:
                reset()
            return self.reply(200, {})
        if self.path not in ("/emails", "/emails/batch"):
            return self.reply(404, {"message": "not found"})
        now = time.time()
        with lock:
            state["requests"] += 1
            state["window"] = [t for t in state["window"] if now - t < 1.0]
            if len(state["window"]) >= self.rate:
                state["refused"] += 1
                return self.reply(429, {"statusCode": 429, "name": "rate_limit_exceeded",
                                        "message": "Too many requests"}, [("retry-after", "1")])
            state["window"].append(now)
            key = self.headers.get("idempotency-key", "")
            if key and key in state["keys"]:
                state["replays"] += 1
                return self.reply(200, {"data": []} if self.path.endswith("batch") else {"id": "replay"})
            try:
                msg = json.loads(body)
            except ValueError:
                return self.reply(400, {"message": "invalid JSON"})
            emails = msg if self.path.endswith("batch") else [msg]
            if self.path.endswith("batch") and not (1 <= len(emails) <= 100):
                return self.reply(422, {"message": "1 to 100 emails"})
            if self.path.endswith("batch") and any("attachments" in e for e in emails):
                return self.reply(422, {"message": "no attachments in a batch"})
            for e in emails:
                ident = (e["to"][0], e["subject"])
                state["emails"][ident] = state["emails"].get(ident, 0) + 1
                state["accepted"].append([e["to"][0], e["subject"], now])
            state["keys"].add(key)
            if self.path.endswith("batch"):
                state["batches"] += 1
                return self.reply(200, {"data": [{"id": f"re_{i}"} for i in range(len(emails))]})
            state["singles"] += 1
            return self.reply(200, {"id": "re_single"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18300)
    ap.add_argument("--rate", type=int, default=5)
    a = ap.parse_args()
    Handler.rate = a.rate
    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
