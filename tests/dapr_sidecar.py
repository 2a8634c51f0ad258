"""An emulation of the Dapr sidecar's state HTTP API, for tests, since no sidecar can run here.

It reproduces the documented behaviour the Dapr store relies on, served over real HTTP on
127.0.0.1 from a background thread, so other processes can share it:

- State API (https://docs.dapr.io/reference/api/state_api/):
  - save: `POST /v1.0/state/{store}`, a JSON array of {key, value, etag?, options?, metadata?};
    204; 400 for a malformed body or a key containing `||` (Dapr's reserved separator); 409
    ERR_STATE_SAVE on an ETag mismatch. Items are saved one by one: a bulk save is no
    transaction.
  - get: `GET /v1.0/state/{store}/{key}`: 200, the JSON value and an `ETag` header; 204 when the
    key does not exist.
  - bulk get: `POST|PUT /v1.0/state/{store}/bulk`, {keys, parallelism}: 200, [{key, data, etag}]
    with `data` and `etag` left out for a missing key (the runtime's `omitempty`).
  - delete: `DELETE /v1.0/state/{store}/{key}` with an optional `If-Match` ETag: 204; 409
    ERR_STATE_DELETE on a mismatch.
  - transaction: `POST|PUT /v1.0/state/{store}/transaction`, {operations: [{operation:
    upsert|delete, request: {key, value, etag, options, metadata}}]}: all or nothing; 204; 400
    for an unknown operation; 500 ERR_STATE_TRANSACTION when any precondition fails, which is
    how the runtime reports a failed transaction, ETag mismatches included.
  - an unknown store name: 400 ERR_STATE_STORE_NOT_FOUND.
- Concurrency (the state API's "Optional behaviors", and the first-write conformance tests of
  dapr/components-contrib): a write or delete carrying an ETag succeeds only if it matches the
  key's current ETag, and no ETag matches a missing key; a `first-write` write without an ETag
  (or with an empty one) succeeds only if the key does not exist; otherwise the last write
  wins. ETags are opaque strings; here a per-key version, "1", "2", ..., that starts again
  when the key is deleted, as in the Redis component; a non-numeric ETag is malformed (400).
- TTL (https://docs.dapr.io/developing-applications/building-blocks/state-management/
  state-store-ttl/): `ttlInSeconds` in a request's metadata, or `metadata.ttlInSeconds` in the
  save URL; an expired key reads as missing; -1 means never; a value that is not an integer
  fails the write.
- Health (https://docs.dapr.io/reference/api/health_api/): `GET /v1.0/healthz` answers 204.
- API token (https://docs.dapr.io/operations/security/api-token/): with a token set, every
  call but the health check needs a matching `dapr-api-token` header, else 401.
"""

import functools
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

Reply = tuple[int, dict[str, str], bytes]
STATE = "/v1.0/state/"


class Dropped(Exception):
    """Raised by an `on_request` hook: the connection closes without an answer."""


class Refused(Exception):
    """A request the sidecar answers with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Request:
    """One call to the state API, its path already split."""

    method: str
    store: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Entry:
    """A stored value, its version (the ETag) and its expiry."""

    value: Any
    version: int
    ttl: int | None = None
    expires_at: float | None = None


def error(status: int, code: str, message: str) -> Reply:
    """An error answer in the runtime's shape."""
    body = json.dumps({"errorCode": code, "message": message}).encode()
    return status, {"content-type": "application/json"}, body


def json_reply(value: Any, **headers: str) -> Reply:
    """A 200 answer with a JSON body."""
    return 200, {"content-type": "application/json", **headers}, json.dumps(value).encode()


class DaprSidecar:
    """The emulated sidecar: state in dicts behind one lock, served by a background thread."""

    def __init__(
        self,
        stores: tuple[str, ...] = ("statestore",),
        token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tables: dict[str, dict[str, Entry]] = {name: {} for name in stores}
        self.token = token
        self.clock = clock
        self.lock = threading.Lock()
        self.conflicts = 0  # failed preconditions, for tests that race writers
        self.on_request: Callable[[str, str], None] | None = None
        self.port = 0
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        """Where the sidecar listens."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> int:
        """Listen (on a free port unless one is given) and serve from a daemon thread."""
        self._server = _Server(("127.0.0.1", port), functools.partial(_Handler, self))
        self.port = self._server.server_address[1]
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, daemon=True).start()
        return self.port

    def stop(self) -> None:
        """Stop listening and cut every open connection, as a sidecar that dies would."""
        if self._server is not None:
            self._server.shutdown()
            self._server.cut_connections()
            self._server.server_close()
            self._server = None

    def keys(self, prefix: str = "", store: str = "statestore") -> list[str]:
        """Live keys under a prefix."""
        with self.lock:
            return sorted(
                k for k in list(self.tables[store]) if k.startswith(prefix) and self._live(store, k)
            )

    def entry(self, key: str, store: str = "statestore") -> Entry | None:
        """A live entry, as stored."""
        with self.lock:
            return self._live(store, key)

    def drop_prefix(self, prefix: str, store: str = "statestore") -> None:
        """Forget every key under a prefix."""
        with self.lock:
            for key in [k for k in self.tables[store] if k.startswith(prefix)]:
                del self.tables[store][key]

    def _live(self, store: str, key: str) -> Entry | None:
        entry = self.tables[store].get(key)
        if entry is not None and entry.expires_at is not None and self.clock() >= entry.expires_at:
            del self.tables[store][key]
            return None
        return entry

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request."""
        url = urlsplit(target)
        if url.path == "/v1.0/healthz" and method == "GET":
            return 204, {}, b""
        if self.token is not None and headers.get("dapr-api-token") != self.token:
            return 401, {"content-type": "text/plain"}, b"invalid api token"
        store, _, key = url.path.removeprefix(STATE).partition("/")
        if not url.path.startswith(STATE) or store not in self.tables:
            return error(400, "ERR_STATE_STORE_NOT_FOUND", f"state store {store} is not found")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        return self._guarded(Request(method, store, unquote(key), query, headers, body))

    def _guarded(self, request: Request) -> Reply:
        try:
            with self.lock:
                return self._route(request)
        except Refused as exc:
            self.conflicts += exc.status in (409, 500)
            return error(exc.status, exc.code, str(exc))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return error(400, "ERR_MALFORMED_REQUEST", f"malformed request: {exc!r}")

    def _route(self, r: Request) -> Reply:
        store, key = r.store, r.key
        if r.method in ("POST", "PUT") and key == "bulk":
            return self._bulk_get(store, json.loads(r.body))
        if r.method in ("POST", "PUT") and key == "transaction":
            return self._transaction(store, json.loads(r.body)["operations"])
        if r.method == "POST" and key == "":
            return self._save(store, json.loads(r.body), r.query.get("metadata.ttlInSeconds"))
        if r.method == "GET" and key:
            return self._get(store, key)
        if r.method == "DELETE" and key:
            self._delete(store, key, r.headers.get("if-match"), "ERR_STATE_DELETE")
            return 204, {}, b""
        return error(404, "ERR_NOT_FOUND", f"no route for {r.method} {STATE}{store}/{key}")

    def _get(self, store: str, key: str) -> Reply:
        entry = self._live(store, key)
        if entry is None:
            return 204, {}, b""
        return json_reply(entry.value, etag=str(entry.version))

    def _bulk_get(self, store: str, request: dict[str, Any]) -> Reply:
        answers = []
        for key in request["keys"]:
            entry = self._live(store, key)
            answers.append(
                {"key": key}
                if entry is None
                else {"key": key, "data": entry.value, "etag": str(entry.version)}
            )
        return json_reply(answers)

    def _save(self, store: str, items: list[dict[str, Any]], ttl: str | None) -> Reply:
        for item in items:
            metadata = {"ttlInSeconds": ttl} if ttl is not None else {}
            self._upsert(
                store,
                {**item, "metadata": {**metadata, **item.get("metadata", {})}},
                "ERR_STATE_SAVE",
            )
        return 204, {}, b""

    def _transaction(self, store: str, operations: list[dict[str, Any]]) -> Reply:
        undo: dict[str, Entry | None] = {}
        try:
            for op in operations:
                key = op["request"]["key"]
                undo.setdefault(key, self._live(store, key))
                if op["operation"] == "upsert":
                    self._upsert(store, op["request"], "ERR_STATE_TRANSACTION")
                elif op["operation"] == "delete":
                    request = op["request"]
                    self._delete(store, key, request.get("etag"), "ERR_STATE_TRANSACTION")
                else:
                    raise Refused(
                        400,
                        "ERR_NOT_SUPPORTED_STATE_OPERATION",
                        f"operation type {op['operation']} not supported",
                    )
        except Refused as exc:
            for key, entry in undo.items():
                self.tables[store].pop(key, None)
                if entry is not None:
                    self.tables[store][key] = entry
            if exc.code == "ERR_STATE_TRANSACTION":
                raise Refused(
                    500, exc.code, f"error while executing state transaction: {exc}"
                ) from exc
            raise
        return 204, {}, b""

    def _check(
        self, store: str, key: str, etag: str | None, first_write: bool, code: str
    ) -> Entry | None:
        if "||" in key:
            raise Refused(
                400, "ERR_MALFORMED_REQUEST", f"input key/keyPrefix '{key}' can't contain '||'"
            )
        current = self._live(store, key)
        if etag:
            if not etag.isdigit():
                raise Refused(400, code, f"invalid etag value: {etag!r}")
            if current is None or str(current.version) != etag:
                raise Refused(409, code, f"possible etag mismatch. error from state store: {key}")
        elif first_write and current is not None:
            raise Refused(
                409, code, f"possible etag mismatch. error from state store: {key} exists"
            )
        return current

    def _upsert(self, store: str, request: dict[str, Any], code: str) -> None:
        key = request["key"]
        first_write = request.get("options", {}).get("concurrency") == "first-write"
        current = self._check(store, key, request.get("etag"), first_write, code)
        ttl = request.get("metadata", {}).get("ttlInSeconds")
        try:
            seconds = None if ttl is None or int(ttl) == -1 else int(ttl)
        except ValueError:
            raise Refused(500, code, f"ttlInSeconds must be an integer, got {ttl!r}") from None
        version = 1 if current is None else current.version + 1
        expires = None if seconds is None else self.clock() + seconds
        self.tables[store][key] = Entry(request.get("value"), version, seconds, expires)

    def _delete(self, store: str, key: str, etag: str | None, code: str) -> None:
        # A delete without an ETag removes the key whatever the concurrency mode.
        self._check(store, key, etag, False, code)
        self.tables[store].pop(key, None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        self.open_connections: set[socket.socket] = set()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        self.open_connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        self.open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test) closes its end: nothing to report.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        for connection in list(self.open_connections):
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.open_connections.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real sidecar

    def __init__(self, sidecar: DaprSidecar, *args: Any) -> None:
        self.sidecar = sidecar
        super().__init__(*args)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read state, not access logs."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        hook = self.sidecar.on_request
        try:
            if hook is not None:
                hook(self.command, self.path)
        except Dropped:
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.sidecar.handle(self.command, self.path, headers, body)
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if status != 204:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@functools.cache
def shared_sidecar() -> DaprSidecar:
    """One emulated sidecar for the whole test session, started on first use."""
    sidecar = DaprSidecar()
    sidecar.start()
    return sidecar


@contextmanager
def running_sidecar(**options: Any) -> Iterator[DaprSidecar]:
    """A sidecar of its own for one test, stopped afterwards."""
    sidecar = DaprSidecar(**options)
    sidecar.start()
    try:
        yield sidecar
    finally:
        sidecar.stop()
