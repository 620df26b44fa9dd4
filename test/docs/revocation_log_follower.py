#!/usr/bin/env python3
"""A revocation-log follower written from docs/revocation-log.md alone: Python's
standard library and a minimal RESP2 client, no Tessera code and no Redis library.
It is run by revocation-log-follower.test.ts to prove the doc is enough.

Usage: revocation_log_follower.py <redis-url> <key> <issuer>

Stdout, one JSON object a line: {"event": "ready"} after the bootstrap, then
"entry" (a revocation, fields decoded), "heartbeat", "skipped" (a kind it does
not know) and "gap" as they are read, and "decision" for each check.
Stdin, one JSON object a line: {"id": ..., "sub": ..., "sid": ..., "jti": ...,
"iat": ..., "exp": ...}, the claims of a token whose signature and claims were
already checked; the answer is revoked, live, strict (check it in Redis) or
unavailable (503).
"""
import base64
import json
import socket
import sys
import threading
import time
from urllib.parse import unquote, urlparse

COUNT = 1000
BLOCK_MS = 1000
STALENESS_MS = 2500
HEARTBEAT_SILENCE_MS = 20_000
CONFIGURED_HORIZON_MS = 15 * 60 * 1000
TOLERANCE_MS = 0

out_lock = threading.Lock()


def emit(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def now_ms():
    return int(time.time() * 1000)


class RedisError(Exception):
    pass


class Resp:
    """Just enough RESP2: send a command as an array of bulk strings, read one reply."""

    def __init__(self, url):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=10)
        self.file = self.sock.makefile("rb")
        if u.password:
            self.call(*(["AUTH"] + ([unquote(u.username)] if u.username else []) + [unquote(u.password)]))
        if u.path and u.path.strip("/"):
            self.call("SELECT", u.path.strip("/"))

    def call(self, *args, timeout_s=10):
        self.sock.settimeout(timeout_s)
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self.read()

    def read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("unexpected reply %r" % line)


def position(pos):
    """Positions compare numerically, ms first, then seq."""
    ms, seq = pos.split("-")
    return (int(ms), int(seq))


def created_at_ms(sid):
    """The first 8 characters of a sid decode (base64url) to 6 bytes: big-endian epoch ms."""
    return int.from_bytes(base64.urlsafe_b64decode(sid[:8]), "big")


def integer(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


class Follower:
    def __init__(self, url, key, issuer):
        self.redis = Resp(url)
        self.key = key
        self.issuer = issuer
        self.lock = threading.Lock()
        self.sessions = {}  # (user, local id) -> forget at
        self.cutoffs = {}  # user -> [greatest cut-off, latest forget at]
        self.tokens = {}  # jti -> forget at
        self.horizon_ms = None  # greatest seen in heartbeats
        self.max_ttl_s = None
        self.position = None
        self.last_contact = 0
        self.untrusted_until = 0
        self.issuer_heard_at = None

    def horizon(self):
        return self.horizon_ms if self.horizon_ms is not None else CONFIGURED_HORIZON_MS

    def info(self):
        try:
            reply = self.redis.call("XINFO", "STREAM", self.key)
        except RedisError as err:
            if "no such key" in str(err).lower():
                return None
            raise
        return dict(zip(reply[::2], reply[1::2]))

    def apply(self, pos, flat, loading):
        f = dict(zip(flat[::2], flat[1::2]))
        kind, now = f.get("k"), now_ms()
        at = integer(f.get("a"))
        if kind == "h":
            ttl, tol, grace = integer(f.get("t")), integer(f.get("o")), integer(f.get("g"))
            if not f.get("i") or None in (ttl, tol, grace, at):
                return emit({"event": "skipped", "position": pos, "kind": kind})
            version = integer(f.get("v")) or 2
            with self.lock:
                self.horizon_ms = max(self.horizon_ms or 0, (ttl + grace + tol) * 1000)
                self.max_ttl_s = max(self.max_ttl_s or 0, ttl)
                if f["i"] == self.issuer:
                    heard = min(at, now) if loading else now
                    self.issuer_heard_at = max(self.issuer_heard_at or 0, heard)
            return emit({"event": "heartbeat", "position": pos, "issuer": f["i"], "ttl_s": ttl, "tolerance_s": tol, "grace_s": grace, "version": version, "at_ms": at})
        user, x = f.get("u"), integer(f.get("x"))
        if kind == "s" and user and f.get("l") and at is not None:
            with self.lock:
                forget = max(x or 0, now + self.horizon()) + TOLERANCE_MS
                self.sessions[(user, f["l"])] = max(self.sessions.get((user, f["l"]), 0), forget)
            return emit({"event": "entry", "position": pos, "kind": "session", "user": user, "local_id": f["l"], "reason": f.get("r"), "at_ms": at, "x": x})
        if kind == "u" and user and integer(f.get("c")) is not None and at is not None:
            cutoff = integer(f["c"])
            with self.lock:
                forget = max(x or 0, now + self.horizon()) + TOLERANCE_MS
                old = self.cutoffs.get(user, [0, 0])
                self.cutoffs[user] = [max(old[0], cutoff), max(old[1], forget)]
            return emit({"event": "entry", "position": pos, "kind": "user", "user": user, "cutoff_ms": cutoff, "reason": f.get("r"), "at_ms": at, "x": x})
        if kind == "t" and user and f.get("j") and x is not None and at is not None:
            with self.lock:
                self.tokens[f["j"]] = max(self.tokens.get(f["j"], 0), x + TOLERANCE_MS)
            return emit({"event": "entry", "position": pos, "kind": "token", "user": user, "jti": f["j"], "at_ms": at, "x": x})
        emit({"event": "skipped", "position": pos, "kind": kind})

    def load(self):
        """Bootstrap: the head, then the whole log in pages."""
        info = self.info()
        head = info["last-generated-id"] if info else None
        start, last = "0-0", None
        while True:
            reply = self.redis.call("XREAD", "COUNT", COUNT, "STREAMS", self.key, start)
            entries = reply[0][1] if reply else []
            for pos, flat in entries:
                self.apply(pos, flat, loading=True)
                last = pos
            if entries:
                start = entries[-1][0]
            if len(entries) < COUNT:
                break
        with self.lock:
            if last is not None:
                self.position = last if self.position is None else max(self.position, last, key=position)
            elif self.position is None:
                self.position = head or "0-0"
            self.last_contact = now_ms()

    def gap(self, info):
        if info is None:
            return False
        first = info.get("first-entry")
        if first:
            return position(first[0]) > position(self.position)
        return position(info["last-generated-id"]) > position(self.position)

    def follow(self):
        while True:
            reply = self.redis.call("XREAD", "COUNT", COUNT, "BLOCK", BLOCK_MS, "STREAMS", self.key, self.position, timeout_s=BLOCK_MS / 1000 + 10)
            entries = reply[0][1] if reply else []
            for pos, flat in entries:
                self.apply(pos, flat, loading=False)
                self.position = pos
            if len(entries) < COUNT:
                with self.lock:
                    self.last_contact = now_ms()
            if self.gap(self.info()):
                with self.lock:
                    self.untrusted_until = now_ms() + self.horizon()
                emit({"event": "gap", "position": self.position})
                self.load()
            self.forget()

    def forget(self):
        now = now_ms()
        with self.lock:
            self.sessions = {k: t for k, t in self.sessions.items() if t > now}
            self.cutoffs = {u: c for u, c in self.cutoffs.items() if c[1] > now}
            self.tokens = {j: t for j, t in self.tokens.items() if t > now}

    def decide(self, claims):
        now = now_ms()
        sub, sid, jti = claims["sub"], claims["sid"], claims["jti"]
        with self.lock:
            if self.issuer_heard_at is None or now - self.issuer_heard_at > HEARTBEAT_SILENCE_MS:
                return "unavailable"
            revoked = (
                (len(sid) > 16 and sid[16] == "." and (sub, sid[:16]) in self.sessions)
                or jti in self.tokens
                or (sub in self.cutoffs and created_at_ms(sid) <= self.cutoffs[sub][0])
            )
            if revoked:
                return "revoked"
            if now - self.last_contact > STALENESS_MS or now < self.untrusted_until:
                return "strict"
            if self.max_ttl_s is not None and claims["exp"] - claims["iat"] > self.max_ttl_s:
                return "strict"
            return "live"


def main():
    url, key, issuer = sys.argv[1:4]
    follower = Follower(url, key, issuer)
    follower.load()
    emit({"event": "ready", "position": follower.position})

    def checks():
        for line in sys.stdin:
            if line.strip():
                claims = json.loads(line)
                emit({"event": "decision", "id": claims.get("id"), "decision": follower.decide(claims)})

    threading.Thread(target=checks, daemon=True).start()
    follower.follow()


if __name__ == "__main__":
    main()
