"""The gunicorn worker for the open internet: gthread, plus request buffering, JSON errors and a clean stop.

Why a worker of our own rather than plain ``gthread``:

- **Slow clients.** ``gthread`` hands a connection to a thread as soon as its first byte arrives; a client that
  trickles its headers or body then holds that thread for as long as it likes, and eight of them stall a
  2 x 4-thread server. This worker reads each request (head and body) in the worker's event loop, without a
  thread, and hands it to the thread pool only once it is complete: what a buffering proxy (nginx) does in front
  of gunicorn, without a second process to run. A request head must arrive within ``header_timeout`` and the
  body within ``body_timeout``, else the client gets 408; the bytes buffered in one worker are capped, beyond
  which a new request gets 503. A request that arrives in one piece on a kept-alive connection (every normal
  client's) takes ``gthread``'s path: a pool thread reads it with one ``recv``, without waiting; only what is
  still missing is read by the event loop (reading every request in the loop gave the loop one more GIL
  hand-over per request).
- **Closing.** A connection is closed after its last answer by draining it from the event loop (gunicorn does it
  with a blocking read of up to 2 s in the loop itself, where one client that kept its end open stalled the
  worker's other connections).
- **JSON errors.** gunicorn answers a bad request line, a too-long URI (414) or too-large headers (431) itself,
  with an HTML page; API clients get the API's JSON error shape instead.
- **Stop.** On SIGTERM the listening sockets are closed at once, so new connections are refused instead of
  waiting in the kernel's backlog until the worker exits (and then being reset); ``service.lifecycle`` is marked
  draining so ``/readyz`` answers 503 on connections still open; in-flight requests finish within
  ``graceful_timeout``.
- **Queue time.** The moment a request became complete is passed to the app (``ARRIVAL_KEY`` in the WSGI
  environ), so the per-request time limit counts the time a request waited for a thread.

Only plain HTTP/1.x is buffered; TLS and HTTP/2 connections take ``gthread``'s own path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import re
import selectors
import socket
import threading
import time
from functools import partial

from gunicorn import util
from gunicorn.http.unreader import SocketUnreader
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from service import lifecycle
from service.config import Settings
from service.deadline import ARRIVAL_KEY

_RECV = 256 * 1024
_LINGER_SECONDS = 2.0  # how long a closing connection is drained at most (gunicorn's close_graceful: the same)
_LINGER_MAX_DRAIN = 65536
_STILL_ARRIVING = object()  # handle()'s answer when a request is incomplete: the event loop reads the rest
_M_MMAP_THRESHOLD = -3  # mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
# Free memory a heap keeps at its top before giving it back (glibc's default, 128 KiB, is fixed once the mmap
# threshold is set): at that default each photo request faulted ~1,000 pages back in, 2-4 ms of CPU per request.
_TRIM_THRESHOLD = 8 * 1024 * 1024
_HEAD_END = b"\r\n\r\n"
# A head longer than gunicorn's own limits (4094-byte request line, 100 fields of 8190 bytes) is handed to the
# parser as it is, which answers 414 or 431.
_MAX_HEAD = 1024 * 1024
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([^\r\n]*)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)
_EXPECT_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue", re.IGNORECASE)
_REASONS = {400: "Bad Request", 403: "Forbidden", 408: "Request Timeout", 414: "URI Too Long",
            417: "Expectation Failed", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable"}
_CODES = {400: "bad_request", 403: "forbidden", 408: "request_timeout", 414: "uri_too_long",
          417: "expectation_failed", 431: "request_header_fields_too_large", 500: "internal_error",
          501: "not_implemented", 503: "unavailable"}


def json_error_bytes(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 response in the API's error shape; the connection is closed after it."""
    body = json.dumps({"error": message, "code": _CODES.get(status, "http_error"), "status": status}).encode()
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def _write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Replaces gunicorn's HTML error page (``gunicorn.util.write_error``) with the API's JSON shape."""
    message = mesg or reason
    if status_int >= 500:
        message = "internal server error; the incident was logged"
    util.write_nonblock(sock, json_error_bytes(status_int, message))


def _chunked_end(buf: bytearray, pos: int) -> int | None:
    """Where a chunked body starting at ``pos`` ends: an offset, -1 if malformed (the parser then says why), or
    None while it is incomplete."""
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return -1 if len(buf) - pos > 1024 else None
        try:
            size = int(bytes(buf[pos:line_end]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return -1
        if size < 0:
            return -1
        if size == 0:  # the last chunk, then trailer fields (usually none) and an empty line
            done = buf.find(_HEAD_END, line_end)
            return None if done < 0 else done + 4
        pos = line_end + 2 + size + 2
        if pos > len(buf):
            return None


def _return_large_blocks_to_the_system() -> None:
    """Serve every allocation of 1 MiB or more with its own mmap, so that freeing it shrinks the worker.

    glibc raises its mmap threshold as large blocks are freed (up to 32 MiB), after which decoded images and
    request bodies come from per-thread heaps that keep their peak size: a worker then stays at the high-water
    mark of its four threads' uploads. A fixed threshold keeps its RSS near what it is using now. Fixing it also
    fixes the trim threshold at 128 KiB, which gives smaller blocks back too eagerly: that one is raised.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


class _PrefixedUnreader(SocketUnreader):
    """gunicorn's socket reader, serving the bytes this worker buffered before reading the socket again.

    Handing them over in pieces the size ``recv`` would return (rather than ``unread()``, after which gunicorn
    copies the rest of the buffer on every read) keeps reading a 10 MiB body as cheap as reading the socket.
    """

    def __init__(self, sock: socket.socket, data: bytearray) -> None:
        super().__init__(sock)
        self.prefix = memoryview(data)

    def chunk(self, size_hint: int | None = None) -> bytes:
        if self.prefix:
            size = min(max(size_hint or 0, self.mxchunk), self.max_body_chunk)
            piece, self.prefix = bytes(self.prefix[:size]), self.prefix[size:]
            if not self.prefix:
                self.prefix = memoryview(b"")  # let go of the buffered request
            return piece
        return super().chunk(size_hint)


class _Pending:
    """A connection whose request is still arriving."""

    __slots__ = ("buf", "body_deadline", "continued", "head_deadline", "head_end", "need", "registered")

    def __init__(self, head_deadline: float) -> None:
        self.buf = bytearray()
        self.head_deadline = head_deadline
        self.body_deadline = 0.0
        self.head_end = -1
        self.need: int | None = None  # total bytes when known (Content-Length); None for chunked
        self.continued = False
        self.registered = False


class BufferingThreadWorker(ThreadWorker):
    """``gthread`` that reads whole requests in the event loop before a thread sees them (see module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        settings = Settings.from_env()
        self.header_timeout = settings.header_timeout
        self.body_timeout = settings.body_timeout
        self.max_body = settings.max_upload_bytes
        self.buffer_budget = settings.worker_buffer_bytes
        self.buffered = 0
        self.reading: dict[TConn, _Pending] = {}
        self.lingering: dict[socket.socket, tuple[float, int]] = {}  # closing sockets: (deadline, bytes drained)
        self.arrival = threading.local()

    def init_process(self) -> None:
        util.write_error = _write_json_error
        _return_large_blocks_to_the_system()
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app, arrival = self.wsgi, self.arrival

        def wsgi(environ, start_response):
            environ[ARRIVAL_KEY] = getattr(arrival, "value", None) or time.monotonic()
            return app(environ, start_response)

        self.wsgi = wsgi

    # --- stop -----------------------------------------------------------------------------------------------
    def handle_exit(self, sig, frame) -> None:
        lifecycle.start_draining()
        super().handle_exit(sig, frame)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            for listener in self.sockets:
                listener.close()  # new connections are refused now, not reset at exit

    # --- reading requests in the event loop -----------------------------------------------------------------
    def enqueue_req(self, conn: TConn) -> None:
        if (self.cfg.is_ssl or conn.is_http2 or negotiation.prior_knowledge_allowed(self.cfg, conn.client)
                or (conn.parser is not None and conn.parser.unreader.buf.getvalue())):
            super().enqueue_req(conn)  # TLS, HTTP/2, or pipelined bytes already read ahead
            return
        if conn.initialized:
            # A kept-alive connection turned readable: its next request is there, usually whole. The pool thread
            # reads it, as in gthread (one recv, and no GIL hand-over in this loop); whatever is still missing
            # comes back here (see finish_request).
            conn.read_first = True
            super().enqueue_req(conn)
            return
        if conn.sock.getblocking():  # the poller leaves it non-blocking already; each call is a syscall
            conn.sock.setblocking(False)
        self._read_in_loop(conn, _Pending(time.monotonic() + self.header_timeout))

    def _read_in_loop(self, conn: TConn, pending: _Pending) -> None:
        self.reading[conn] = pending
        self.buffered += len(pending.buf)
        if self.buffered > self.buffer_budget:
            self._refuse(conn, 503, "the server is busy receiving other uploads; retry shortly")
            return
        # A new connection's request is usually there already: read it now and skip the poller round trip.
        if not self._receive(conn, pending):
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))
            pending.registered = True

    def on_request_bytes(self, conn: TConn, _sock: socket.socket) -> None:
        self._receive(conn, self.reading[conn])

    def _receive(self, conn: TConn, pending: _Pending) -> bool:
        """Read what has arrived; True once the connection has left the reading state (dispatched or closed)."""
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:
            if pending.buf:  # the client stopped sending (half-closed) before its request was complete
                self._refuse(conn, 400, "the connection ended before the request was complete")
            else:
                self._drop(conn)
            return True
        pending.buf += data
        self.buffered += len(data)
        if self.buffered > self.buffer_budget:
            self._refuse(conn, 503, "the server is busy receiving other uploads; retry shortly")
            return True
        if self._complete(conn, pending):
            self._dispatch(conn)
            return True
        return False

    def _complete(self, conn: TConn, pending: _Pending) -> bool:
        buf = pending.buf
        if pending.head_end < 0:
            head_end = buf.find(_HEAD_END)
            if head_end < 0:
                return len(buf) > _MAX_HEAD
            pending.head_end = head_end + 4
            pending.body_deadline = time.monotonic() + self.body_timeout
            head = bytes(buf[: pending.head_end])
            if _CHUNKED.search(head):
                pending.need = None
            else:
                match = _CONTENT_LENGTH.search(head)
                try:
                    length = int(match.group(1).strip()) if match else 0
                except ValueError:
                    return True  # the parser answers 400
                if length > self.max_body or length < 0:
                    return True  # the app answers 413 without reading the body
                pending.need = pending.head_end + length
            if not pending.continued and _EXPECT_CONTINUE.search(head) and len(buf) == pending.head_end:
                # The client waits for this before sending its body; gunicorn's parser may send another,
                # which HTTP/1.1 clients accept (several 1xx may precede the answer).
                pending.continued = True
                try:
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    pass
        if pending.need is not None:
            return len(buf) >= pending.need
        if len(buf) - pending.head_end > self.max_body:
            return True  # the app reads up to its limit and answers 413
        return _chunked_end(buf, pending.head_end) is not None

    def _dispatch(self, conn: TConn) -> None:
        pending = self.reading.pop(conn)
        self.buffered -= len(pending.buf)
        if pending.registered:
            self.poller.unregister(conn.sock)
        conn.buffered = pending.buf
        conn.data_ready = True
        conn.arrived = time.monotonic()
        super().enqueue_req(conn)

    def _drop(self, conn: TConn) -> None:
        pending = self.reading.pop(conn)
        self.buffered -= len(pending.buf)
        if pending.registered:
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def _refuse(self, conn: TConn, status: int, message: str) -> None:
        try:
            conn.sock.send(json_error_bytes(status, message))
        except OSError:
            pass
        self._drop(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for sock, (deadline, _) in list(self.lingering.items()):
            if now > deadline:
                self._close_lingering(sock)
        for conn, pending in list(self.reading.items()):
            if not pending.buf and not self.alive:
                self._drop(conn)  # stopping: a connection that has sent nothing yet is not in flight
            elif pending.head_end < 0 and now > pending.head_deadline:
                if pending.buf:
                    self._refuse(conn, 408, f"the request headers did not arrive within {self.header_timeout:g} s")
                else:
                    self._drop(conn)  # an idle connection (kept alive, or opened and never used): just close it
            elif pending.head_end >= 0 and now > pending.body_deadline:
                self._refuse(conn, 408, f"the request body did not arrive within {self.body_timeout:g} s")

    def _first_read(self, conn: TConn) -> bool | None:
        """In a pool thread: read a kept-alive connection's next request without waiting for it. True when it is
        complete (in ``conn.buffered``), False when the client closed, None while bytes are still missing (the
        event loop then reads the rest, ``conn.pending``)."""
        pending = _Pending(time.monotonic() + self.header_timeout)
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            return False
        if data == b"":
            return False
        if data:
            pending.buf += data
            if self._complete(conn, pending):
                conn.buffered, conn.arrived = pending.buf, time.monotonic()
                return True
        conn.pending = pending
        return None

    def handle(self, conn: TConn):
        """Runs in a pool thread: feed the buffered bytes to gunicorn's parser, then serve as ``gthread`` does."""
        if getattr(conn, "read_first", False):
            conn.read_first = False
            complete = self._first_read(conn)
            if not complete:
                return _STILL_ARRIVING if complete is None else False
        data = getattr(conn, "buffered", None)
        if data is not None:
            conn.buffered = None
            conn.init()
            conn.parser.unreader = _PrefixedUnreader(conn.sock, data)
            self.arrival.value = conn.arrived
        else:
            self.arrival.value = None
        return super().handle(conn)

    def finish_request(self, conn: TConn, fs) -> None:
        result = None if fs.cancelled() or fs.exception() is not None else fs.result()
        if result is _STILL_ARRIVING:
            pending, conn.pending = conn.pending, None
            if self.alive:
                self._read_in_loop(conn, pending)
            else:  # stopping: a request that has not arrived is not in flight
                self.nr_conns -= 1
                conn.close()
            return
        conn.buffered = None
        unreader = getattr(conn.parser, "unreader", None)
        if isinstance(unreader, _PrefixedUnreader) and unreader.prefix:
            # A pipelined next request arrived with this one: where gthread looks for read-ahead bytes.
            unreader.unread(bytes(unreader.prefix))
            unreader.prefix = memoryview(b"")
        if not result and not self.cfg.is_ssl:  # the connection ends here (closed, refused or failed)
            self.nr_conns -= 1
            self._linger(conn.sock)
            return
        super().finish_request(conn, fs)

    # --- closing without blocking the event loop --------------------------------------------------------------
    def _linger(self, sock: socket.socket) -> None:
        """Close a connection after its last answer, as gunicorn's ``close_graceful`` does (send FIN, then read
        and drop what the client still sends until it closes, so the kernel does not reset the connection and
        truncate the answer) but from the event loop: gunicorn lingers with a blocking read of up to 2 s in the
        loop itself, so one client that kept its end open after a ``Connection: close`` answer stalled every
        other connection of the worker for 2 s."""
        try:
            sock.setblocking(False)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        self.lingering[sock] = (time.monotonic() + _LINGER_SECONDS, 0)
        self.poller.register(sock, selectors.EVENT_READ, self._on_lingering_readable)

    def _on_lingering_readable(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        deadline, drained = self.lingering[sock]
        if not data or drained + len(data) >= _LINGER_MAX_DRAIN:
            self._close_lingering(sock)
        else:
            self.lingering[sock] = (deadline, drained + len(data))

    def _close_lingering(self, sock: socket.socket) -> None:
        del self.lingering[sock]
        self.poller.unregister(sock)
        sock.close()

    def run(self) -> None:
        try:
            super().run()
        finally:
            for conn in list(self.reading):
                self._drop(conn)
            for sock in list(self.lingering):
                self._close_lingering(sock)


