"""Loopback fakes of the providers' HTTP APIs: Twilio REST (messages, calls), Postmark (an ESP
anymail speaks to) and an SMTP sink. Only the provider side is fake; our code runs for real.

Run a fake Twilio as its own process (for worker tests and the benchmark):
    python -m tests.notifications.fake_providers twilio PORT
"""

import contextlib
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class FakeTwilio:
    """Twilio's REST API, enough for messages.create/list and calls.create.

    `errors_for[to]` = (http status, twilio code) answers that number with an error every time;
    `fail_next` = a list of (status, code) answered, in order, to the next sends whatever the
    number; `max_per_second` answers 429 (code 20429) above that many sends in one second;
    `gate` (a threading.Event) holds every POST until it is set; `peers` are the client
    connections that have posted.
    """

    def __init__(self, max_per_second: float | None = None):
        self.messages: list[dict] = []
        self.calls: list[dict] = []
        self.errors_for: dict[str, tuple[int, int]] = {}
        self.fail_next: list[tuple[int, int]] = []
        self.max_per_second = max_per_second
        self.delay = 0.0  # seconds each send takes, like a real provider's latency
        self.gate: threading.Event | None = None
        self.peers: set = set()
        self.rejected_429 = 0
        self.request_times: deque = deque()
        self.lock = threading.Lock()
        self.server = None

    # -- serving ---------------------------------------------------------------------------
    def start(self, port: int = 0, tls: "ssl.SSLContext | None" = None) -> "FakeTwilio":
        """Serve on loopback; with `tls` (a server context), HTTPS with its certificate."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # one small reply must not wait for a delayed ACK

            def log_message(self, *args):
                pass

            def _reply(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/_fake/stats":
                    with fake.lock:
                        self._reply(200, {"messages": len(fake.messages), "calls": len(fake.calls),
                                          "rejected_429": fake.rejected_429})
                elif url.path == "/_fake/messages":
                    with fake.lock:
                        self._reply(200, {"messages": list(fake.messages)})
                elif url.path.endswith("/Messages.json"):
                    with fake.lock:
                        found = [m for m in reversed(fake.messages)
                                 if not query.get("To") or m["to"] == query["To"]]
                    page_size = int(query.get("PageSize", 50))
                    self._reply(200, {"messages": found[:page_size], "next_page_uri": None,
                                      "page": 0, "page_size": page_size, "start": 0,
                                      "uri": url.path})
                else:
                    self._reply(404, {"code": 20404, "message": "not found", "status": 404})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:
                    # The client went away mid-request (a killed worker): like any HTTP server,
                    # the provider never sees an incomplete request as a message.
                    self.close_connection = True
                    return
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                path = urlparse(self.path).path
                with fake.lock:
                    fake.peers.add(self.client_address)
                if fake.gate is not None:
                    fake.gate.wait(60)
                status, payload = fake.handle_post(path, form)
                self._reply(status, payload)

        self.server = _Server(("127.0.0.1", port), Handler)
        self.scheme = "http"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # -- behaviour -------------------------------------------------------------------------
    def _error(self, status, code):
        return status, {"code": code, "message": f"fake Twilio error {code}", "status": status,
                        "more_info": f"https://www.twilio.com/docs/errors/{code}"}

    def handle_post(self, path: str, form: dict):
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            now = time.monotonic()
            if self.max_per_second is not None:
                while self.request_times and now - self.request_times[0] > 1.0:
                    self.request_times.popleft()
                if len(self.request_times) >= self.max_per_second:
                    self.rejected_429 += 1
                    return self._error(429, 20429)
                self.request_times.append(now)
            if self.fail_next:
                return self._error(*self.fail_next.pop(0))
            to = form.get("To", "")
            if to in self.errors_for:
                return self._error(*self.errors_for[to])
            if path.endswith("/Messages.json"):
                record = {"sid": "SM" + uuid.uuid4().hex, "to": to, "body": form.get("Body", ""),
                          "from": form.get("From"),
                          "messaging_service_sid": form.get("MessagingServiceSid"),
                          "status_callback": form.get("StatusCallback"), "status": "queued",
                          "direction": "outbound-api", "account_sid": path.split("/")[3]}
                self.messages.append(record)
                return 201, record
            if path.endswith("/Calls.json"):
                record = {"sid": "CA" + uuid.uuid4().hex, "to": to, "from": form.get("From"),
                          "twiml": form.get("Twiml", ""),
                          "status_callback": form.get("StatusCallback"), "status": "queued"}
                self.calls.append(record)
                return 201, record
            return self._error(404, 20404)


class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), as corporate proxies do for HTTPS: every tunnel
    goes to `upstream` (a loopback port) whatever host it names; `tunnels` records the
    (target, Proxy-Authorization) of each."""

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.tunnels: list[tuple[str, str]] = []
        self.server = None

    def start(self) -> "ConnectProxy":
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                request = self.rfile.readline().decode("latin-1").split()
                headers = {}
                while (line := self.rfile.readline().decode("latin-1").strip()):
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if len(request) < 2 or request[0] != "CONNECT":
                    self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                proxy.tunnels.append((request[1], headers.get("proxy-authorization", "")))
                upstream = socket.create_connection(("127.0.0.1", proxy.upstream))
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
                pipes = [threading.Thread(target=_pipe, args=pair, daemon=True)
                         for pair in ((self.connection, upstream), (upstream, self.connection))]
                for pipe in pipes:
                    pipe.start()
                for pipe in pipes:
                    pipe.join()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _pipe(source, sink):
    try:
        while (chunk := source.recv(65536)):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class FakePostmark:
    """Postmark's send API (anymail's postmark backend, POSTMARK_API_URL pointed here)."""

    def __init__(self):
        self.sent: list[dict] = []
        self.inactive: set[str] = set()
        self.fail_next: list[int] = []
        self.server = None

    def start(self) -> "FakePostmark":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # one small reply must not wait for a delayed ACK

            def log_message(self, *args):
                pass

            def do_POST(self):
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, body = fake.handle(payload)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def handle(self, payload):
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, {"ErrorCode": 100, "Message": "fake server error"}
        if payload.get("To") in self.inactive:
            return 422, {"ErrorCode": 406, "Message": (
                "You tried to send to a recipient that has been marked as inactive.\n Found "
                f"inactive addresses: {payload['To']}.\n Inactive recipients are ones that have "
                "generated a hard bounce or a spam complaint. ")}
        message_id = str(uuid.uuid4())
        self.sent.append({**payload, "MessageID": message_id})
        return 200, {"To": payload.get("To"), "SubmittedAt": "2026-06-10T15:00:00Z",
                     "MessageID": message_id, "ErrorCode": 0, "Message": "OK"}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """A minimal SMTP server: accepts everything except recipients listed in `refuse`."""

    def __init__(self):
        self.messages: list[dict] = []
        self.refuse: set[str] = set()
        self.server = None

    def start(self) -> "SmtpSink":
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                def say(line):
                    self.wfile.write(line.encode() + b"\r\n")

                say("220 sink ESMTP")
                rcpts, mail_from = [], ""
                while True:
                    line = self.rfile.readline().decode(errors="replace").rstrip("\r\n")
                    if not line:
                        return
                    verb = line.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250 sink")
                    elif verb == "MAIL":
                        mail_from, rcpts = line.split(":", 1)[1].strip(" <>"), []
                        say("250 ok")
                    elif verb == "RCPT":
                        rcpt = line.split(":", 1)[1].strip(" <>")
                        if rcpt in sink.refuse:
                            say("550 no such user")
                        else:
                            rcpts.append(rcpt)
                            say("250 ok")
                    elif verb == "DATA":
                        say("354 go ahead")
                        data = []
                        while (chunk := self.rfile.readline().decode(errors="replace")) not in (
                                ".\r\n", ""):
                            data.append(chunk)
                        sink.messages.append({"from": mail_from, "to": rcpts, "data": "".join(data)})
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 ok")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    if sys.argv[1] != "twilio":
        raise SystemExit("usage: python -m tests.notifications.fake_providers twilio PORT")
    fake = FakeTwilio().start(int(sys.argv[2]))
    print(f"fake twilio on {fake.url}", flush=True)
    threading.Event().wait()
