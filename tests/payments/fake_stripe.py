"""A loopback fake of Stripe's HTTP API (Checkout Sessions), and events signed as Stripe signs
them. Only Stripe's side is fake: stripe-python and our code run for real against it."""

import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeStripe:
    """`POST /v1/checkout/sessions` (with Stripe's idempotency: the same key answers the same
    session, another body with the same key is refused) and `GET /v1/checkout/sessions/<id>`.

    `requests` records each request's path, headers and form; `fail_next` = a list of
    (http status, error type) answered, in order, to the next requests.
    """

    def __init__(self):
        self.requests: list[dict] = []
        self.sessions: dict[str, dict] = {}
        self.idempotent: dict[str, tuple[str, dict]] = {}
        self.fail_next: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self.server = None

    def start(self) -> "FakeStripe":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _reply(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Request-Id", "req_" + uuid.uuid4().hex[:14])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._reply(*fake.handle("GET", urlparse(self.path).path, {}, dict(self.headers)))

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = dict(parse_qsl(raw, keep_blank_values=True))
                self._reply(*fake.handle("POST", urlparse(self.path).path, form, dict(self.headers)))

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, path: str, form: dict, headers: dict):
        with self.lock:
            self.requests.append({"method": method, "path": path, "form": form, "headers": headers})
            if self.fail_next:
                status, kind = self.fail_next.pop(0)
                return status, {"error": {"type": kind, "message": f"fake Stripe error {status}"}}
            if method == "GET" and path.startswith("/v1/checkout/sessions/"):
                session = self.sessions.get(path.rsplit("/", 1)[1])
                return (200, session) if session else (404, {"error": {"type": "invalid_request_error"}})
            if method == "POST" and path == "/v1/checkout/sessions":
                key = headers.get("Idempotency-Key", "")
                if key in self.idempotent:
                    body, session = self.idempotent[key]
                    if body != json.dumps(form, sort_keys=True):
                        message = ("Keys for idempotent requests can only be used with the same "
                                   "parameters they were first used with.")
                        return 400, {"error": {"type": "idempotency_error", "message": message}}
                    return 200, session
                session = self.session_from(form, account=headers.get("Stripe-Account", ""))
                self.sessions[session["id"]] = session
                if key:
                    self.idempotent[key] = (json.dumps(form, sort_keys=True), session)
                return 200, session
            return 404, {"error": {"type": "invalid_request_error", "message": f"no route {path}"}}

    @staticmethod
    def session_from(form: dict, account: str) -> dict:
        session_id = "cs_test_" + uuid.uuid4().hex
        return {
            "id": session_id, "object": "checkout.session", "mode": form.get("mode"), "status": "open",
            "payment_status": "unpaid", "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "customer_email": form.get("customer_email"), "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"), "expires_at": int(form.get("expires_at", 0)),
            "account": account, "payment_intent": None,
        }


# --- events, signed the way Stripe signs them ---


def sign(payload: str | bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">."""
    stamp = int(time.time()) if timestamp is None else timestamp
    raw = payload if isinstance(payload, bytes) else payload.encode()
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def event(type_: str, obj: dict, *, account: str = "", event_id: str = "") -> dict:
    return {"id": event_id or "evt_" + uuid.uuid4().hex, "object": "event", "api_version": "2026-01-28",
            "created": int(time.time()), "livemode": False, "type": type_, "account": account or None,
            "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj}}


def session_event(type_: str, session: dict, *, payment_status: str = "paid", email: str = "",
                  payment_intent: str = "", account: str = "", event_id: str = "") -> dict:
    obj = {**session, "status": "complete" if type_.endswith("completed") else session.get("status"),
           "payment_status": payment_status,
           "payment_intent": payment_intent or "pi_" + uuid.uuid4().hex[:24],
           "customer_details": {"email": email or None, "name": None}}
    if type_.endswith("expired"):
        obj.update(status="expired", payment_status="unpaid", payment_intent=None)
    return event(type_, obj, account=account or session.get("account", ""), event_id=event_id)


def refund_event(*, payment_intent: str, amount: int, amount_refunded: int, account: str = "",
                 event_id: str = "") -> dict:
    charge = {"id": "ch_" + uuid.uuid4().hex[:24], "object": "charge", "amount": amount,
              "amount_refunded": amount_refunded, "refunded": amount_refunded >= amount,
              "payment_intent": payment_intent, "currency": "usd"}
    return event("charge.refunded", charge, account=account, event_id=event_id)
