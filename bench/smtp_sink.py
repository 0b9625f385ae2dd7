#!/usr/bin/env python3
"""A minimal SMTP sink for bench/smtp.sh: accepts every message on 127.0.0.1 and counts them.

EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT (no STARTTLS, no AUTH: calbook connects with
`smtp://127.0.0.1:PORT?tls=none`). It does not advertise PIPELINING (lettre would not use it).
GET /stats on --stats-port answers {"emails", "connections", "commands"}; POST /stats/reset zeroes
them. Every command gets its answer before the next is read, as a real server's would.
"""
import argparse
import asyncio
import json

stats = {"emails": 0, "connections": 0, "commands": 0}


async def smtp(reader, writer):
    stats["connections"] += 1
    writer.write(b"220 sink ESMTP\r\n")
    await writer.drain()
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            stats["commands"] += 1
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                while True:
                    body = await reader.readline()
                    if not body or body == b".\r\n":
                        break
                stats["emails"] += 1
                writer.write(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:  # MAIL, RCPT, RSET, NOOP
                writer.write(b"250 ok\r\n")
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def http(reader, writer):
    request = await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    if request.startswith(b"POST /stats/reset"):
        for k in stats:
            stats[k] = 0
    body = json.dumps(stats).encode()
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                 b"connection: close\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stats-port", type=int, required=True)
    a = ap.parse_args()
    s1 = await asyncio.start_server(smtp, "127.0.0.1", a.port)
    s2 = await asyncio.start_server(http, "127.0.0.1", a.stats_port)
    async with s1, s2:
        await asyncio.gather(s1.serve_forever(), s2.serve_forever())


if __name__ == "__main__":
    asyncio.run(main())
