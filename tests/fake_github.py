"""A fake GitHub REST API on 127.0.0.1 for the tests of the client and the action.

It serves the few endpoints dvc-sweep calls, keeps comments in memory, records every
request, and can be scripted to fail the next matching requests (502s, rate limits, a
read-only fork token, "body is too long").
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

COMMENT_MAX_CHARS = 65_536
INTEGRATION_MESSAGE = "Resource not accessible by integration"
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int


@dataclasses.dataclass
class Failure:
    """A scripted response for the next ``times`` requests that match method and path."""

    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    skip: int = 0


@dataclasses.dataclass
class Token:
    login: str
    can_write: bool = True
    # Installation tokens (GITHUB_TOKEN) get 403 from GET /user.
    user_endpoint: bool = False


class FakeGitHub:
    """The server and its state. Use as a context manager, or call start() and stop()."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.reactions: dict[int, list[str]] = {}
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.tokens: dict[str, Token] = {"test-token": Token(login="github-actions[bot]")}
        self._failures: list[Failure] = []
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        message: str = "fake failure",
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        skip: int = 0,
    ) -> None:
        """Fail ``times`` requests whose path matches the regex ``path`` with ``status``.

        The first ``skip`` matching requests are served normally.
        """
        with self._lock:
            self._failures.append(
                Failure(
                    method=method,
                    path=re.compile(path),
                    status=status,
                    body=body if body is not None else {"message": message},
                    headers=headers or {},
                    times=times,
                    skip=skip,
                )
            )

    def add_comment(self, repo: str, number: int, body: str, *, author: str) -> dict[str, Any]:
        """Store a comment as if someone had posted it, and return it."""
        with self._lock:
            return self._store_comment(repo, number, body, author)

    def add_pull(self, repo: str, number: int, *, head_sha: str, head_ref: str = "feature") -> None:
        with self._lock:
            self.pulls[(repo, number)] = {
                "number": number,
                "state": "open",
                "head": {"sha": head_sha, "ref": head_ref},
                "base": {"ref": "main"},
                "html_url": f"{self.url}/{repo}/pull/{number}",
            }

    def comments_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(comment) for comment in self.comments.get((repo, number), [])]

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    # -- request handling ------------------------------------------------------------------

    def _store_comment(self, repo: str, number: int, body: str, author: str) -> dict[str, Any]:
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "body": body,
            "user": {"login": author, "type": "Bot" if author.endswith("[bot]") else "User"},
            "html_url": f"{self.url}/{repo}/pull/{number}#issuecomment-{comment_id}",
            "issue_url": f"{self.url}/repos/{repo}/issues/{number}",
        }
        self.comments.setdefault((repo, number), []).append(comment)
        return comment

    def _take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.method != method or not failure.path.search(path) or failure.times <= 0:
                continue
            if failure.skip > 0:
                failure.skip -= 1
                continue
            failure.times -= 1
            return failure
        return None

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        with self._lock:
            status, payload, extra = self._answer(method, path, query, headers, body)
            self.requests.append(
                RecordedRequest(method, path, query, dict(headers), body, status),
            )
        return status, payload, extra

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        failure = self._take_failure(method, path)
        if failure is not None:
            return failure.status, failure.body, failure.headers

        auth = headers.get("authorization", "")
        token = self.tokens.get(auth.removeprefix("Bearer ").strip())
        if token is None:
            return HTTPStatus.UNAUTHORIZED, {"message": "Bad credentials"}, {}

        if method == "GET" and path == "/user":
            if not token.user_endpoint:
                return HTTPStatus.FORBIDDEN, {"message": INTEGRATION_MESSAGE}, {}
            return HTTPStatus.OK, {"login": token.login, "type": "User"}, {}

        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", path)
        if match:
            repo, number = match.group(1), int(match.group(2))
            if method == "GET":
                return self._list_comments(repo, number, query)
            if method == "POST":
                if not token.can_write:
                    return HTTPStatus.FORBIDDEN, {"message": INTEGRATION_MESSAGE}, {}
                problem = _validate_body(body)
                if problem is not None:
                    return problem
                return (
                    HTTPStatus.CREATED,
                    self._store_comment(repo, number, body["body"], token.login),
                    {},
                )

        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)", path)
        if match:
            comment = self._find_comment(int(match.group(2)))
            if comment is None:
                return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
            if method == "GET":
                return HTTPStatus.OK, comment, {}
            if method == "PATCH":
                if not token.can_write:
                    return HTTPStatus.FORBIDDEN, {"message": INTEGRATION_MESSAGE}, {}
                problem = _validate_body(body)
                if problem is not None:
                    return problem
                comment["body"] = body["body"]
                return HTTPStatus.OK, comment, {}

        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)/reactions", path)
        if match and method == "POST":
            if not token.can_write:
                return HTTPStatus.FORBIDDEN, {"message": INTEGRATION_MESSAGE}, {}
            self.reactions.setdefault(int(match.group(2)), []).append(body["content"])
            return HTTPStatus.CREATED, {"id": next(self._ids), "content": body["content"]}, {}

        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/pulls/(\d+)", path)
        if match and method == "GET":
            pull = self.pulls.get((match.group(1), int(match.group(2))))
            if pull is None:
                return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}
            return HTTPStatus.OK, pull, {}

        return HTTPStatus.NOT_FOUND, {"message": "Not Found"}, {}

    def _find_comment(self, comment_id: int) -> dict[str, Any] | None:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == comment_id:
                    return comment
        return None

    def _list_comments(
        self, repo: str, number: int, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        comments = self.comments.get((repo, number), [])
        last = max((len(comments) + per_page - 1) // per_page, 1)
        chunk = comments[(page - 1) * per_page : page * per_page]
        links = []
        base = f"{self.url}/repos/{repo}/issues/{number}/comments"
        if page < last:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
            links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
        extra = {"Link": ", ".join(links)} if links else {}
        return HTTPStatus.OK, chunk, extra


def _validate_body(body: Any) -> tuple[int, Any, dict[str, str]] | None:
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        return HTTPStatus.UNPROCESSABLE_ENTITY, {"message": "Invalid request."}, {}
    if len(body["body"]) > COMMENT_MAX_CHARS:
        return (
            HTTPStatus.UNPROCESSABLE_ENTITY,
            {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "IssueComment",
                        "code": "custom",
                        "field": "body",
                        "message": "body is too long (maximum is 65536 characters)",
                    }
                ],
            },
            {},
        )
    return None


def _make_handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, payload, extra = fake.handle(self.command, self.path, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815  # http.server's names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # base signature
            """Keep the test output quiet."""

    return Handler


def iter_bodies(fake: FakeGitHub, method: str, path_regex: str) -> Iterator[str]:
    """Yield the comment bodies sent by the recorded requests that match."""
    for request in fake.requests_to(method, path_regex):
        if isinstance(request.body, dict) and isinstance(request.body.get("body"), str):
            yield request.body["body"]
