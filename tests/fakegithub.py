"""A small fake GitHub REST API on 127.0.0.1 for real PyGithub to talk HTTP to.

An in-memory model of pull requests, their files, commits, reviews and issue
comments, commit statuses, users and teams; URLs in responses point back at
this server; lists are paginated with ``Link`` headers like GitHub's; faults
(status codes, malformed JSON, delays) can be injected per route; every
request and every write is recorded.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class QuietServer(ThreadingHTTPServer):
    """A server that says nothing when a client went away (the timeout tests hang up on purpose).

    socketserver prints such a disconnect as a traceback on sys.stderr from the server's thread,
    which lands in whatever test is capturing stderr at that moment."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class Fault:
    path: str  # regex on the path
    status: int = 500
    body: str = '{"message": "Server Error"}'
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None  # None: every time
    delay: float = 0.0


# GitHub lists at most 250 commits and 3000 files of a pull request (its REST documentation).
LISTED_COMMITS, LISTED_FILES = 250, 3000


@dataclass
class Pull:
    number: int
    title: str
    author: str
    head_sha: str
    base_sha: str
    head_ref: str = "feature"
    base_ref: str = "main"
    reviews: list[dict[str, Any]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    head_after_first_read: str | None = None  # simulate a push while checking
    reads: int = 0


class FakeGitHub:
    def __init__(self, repo: str = "acme-payments/flags") -> None:
        self.repo = repo
        self.default_branch = "main"
        self.pulls: dict[int, Pull] = {}
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.tokens: dict[str, dict[str, Any]] = {"good-token": {"login": "flaggate-bot", "type": "Bot"}}
        self.teams: dict[str, list[str]] = {}  # "org/slug" readable through the API
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.writes: list[tuple[str, str, Any]] = []
        self._ids = 1000
        self._lock = threading.Lock()
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        # serve_forever looks for shutdown() between requests every poll_interval (0.5 s by default):
        # each test's teardown waited for it.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    # --- model helpers ---------------------------------------------------------------------
    def add_pull(self, pull: Pull) -> Pull:
        self.pulls[pull.number] = pull
        return pull

    def review(self, pull: Pull, login: str, state: str, commit_id: str, at: str) -> None:
        pull.reviews.append(
            {"id": self.next_id(), "user": self.user(login), "state": state, "commit_id": commit_id, "submitted_at": at, "body": ""}
        )

    def user(self, login: str, kind: str = "User") -> dict[str, Any]:
        return {"login": login, "id": abs(hash(login)) % 10**8, "type": kind, "url": f"{self.url}/users/{login}"}

    # --- HTTP ------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes on a kept-alive connection: with Nagle's algorithm
            # the body waited for the client's delayed ACK of the headers, up to 40 ms a request.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: str | None = None) -> None:
                data = (raw if raw is not None else ("" if body is None else json.dumps(body))).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                path, query = parts.path, parse_qs(parts.query)
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"null") if length else None
                fake.requests.append((method, path))
                for fault in fake.faults:
                    if (fault.method in (None, method)) and re.search(fault.path, path) and fault.times != 0:
                        if fault.times is not None:
                            fault.times -= 1
                        if fault.delay:
                            time.sleep(fault.delay)
                        self._send(fault.status, raw=fault.body, headers=fault.headers)
                        return
                auth = self.headers.get("Authorization", "")
                token = auth.split(" ", 1)[1] if " " in auth else ""
                if token not in fake.tokens:
                    self._send(401, {"message": "Bad credentials"})
                    return
                if method in ("POST", "PATCH", "PUT", "DELETE"):
                    fake.writes.append((method, path, payload))
                status, body, headers = fake.answer(method, path, query, payload, fake.tokens[token])
                self._send(status, body, headers)

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PATCH(self) -> None:
                self._route("PATCH")

        return Handler

    def _page(self, path: str, query: dict[str, list[str]], items: list[Any]) -> tuple[int, Any, dict[str, str]]:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        if page < last:
            links.append(f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{self.url}{path}?per_page={per_page}&page={last}>; rel="last"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _pull_json(self, pull: Pull, head: str) -> dict[str, Any]:
        base = f"{self.url}/repos/{self.repo}"
        return {
            "id": pull.number * 10,
            "number": pull.number,
            "title": pull.title,
            "state": "open",
            "url": f"{base}/pulls/{pull.number}",
            "issue_url": f"{base}/issues/{pull.number}",
            "html_url": f"https://github.invalid/{self.repo}/pull/{pull.number}",
            "user": self.user(pull.author),
            "head": {"sha": head, "ref": pull.head_ref, "label": f"x:{pull.head_ref}"},
            # Counts of the whole pull request; the listings below stop at GitHub's documented limits.
            "commits": len(pull.commits),
            "changed_files": len(pull.files),
            "base": {"sha": pull.base_sha, "ref": pull.base_ref, "label": f"x:{pull.base_ref}"},
        }

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], payload: Any, me: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        repo = f"/repos/{self.repo}"
        if method == "GET" and path == "/user":
            return 200, {**self.user(me["login"], me["type"])}, {}
        if method == "GET" and path == repo:
            return (
                200,
                {
                    "full_name": self.repo,
                    "name": self.repo.split("/")[1],
                    "url": f"{self.url}{repo}",
                    "default_branch": self.default_branch,
                },
                {},
            )
        if method == "POST" and path == f"{repo}/pulls":
            number = max(self.pulls, default=0) + 1
            pull = self.add_pull(Pull(number, payload["title"], me["login"], "0" * 40, "0" * 40, payload["head"], payload["base"]))
            pull.body = payload.get("body", "")  # type: ignore[attr-defined]
            return 201, self._pull_json(pull, pull.head_sha), {}
        match = re.fullmatch(rf"{repo}/issues/(\d+)/labels", path)
        if match and method == "POST":
            pull = self.pulls[int(match.group(1))]
            labels = payload if isinstance(payload, list) else payload.get("labels", [])
            pull.labels = [*getattr(pull, "labels", []), *labels]  # type: ignore[attr-defined]
            return 200, [{"name": name, "url": f"{self.url}{repo}/labels/{name}"} for name in pull.labels], {}  # type: ignore[attr-defined]
        match = re.fullmatch(rf"{repo}/pulls/(\d+)(/\w+)?", path)
        if match and method == "GET":
            pull = self.pulls.get(int(match.group(1)))
            if pull is None:
                return 404, {"message": "Not Found"}, {}
            if match.group(2) is None:
                pull.reads += 1
                head = pull.head_sha if pull.reads == 1 or pull.head_after_first_read is None else pull.head_after_first_read
                return 200, self._pull_json(pull, head), {}
            kind = match.group(2)[1:]
            if kind == "reviews":
                return self._page(path, query, pull.reviews)
            if kind == "commits":
                return self._page(path, query, pull.commits[:LISTED_COMMITS])
            if kind == "files":
                return self._page(path, query, [{"filename": f, "status": "modified", "sha": "0" * 40} for f in pull.files[:LISTED_FILES]])
        match = re.fullmatch(rf"{repo}/issues/(\d+)/comments", path)
        if match:
            pull = self.pulls[int(match.group(1))]
            if method == "GET":
                return self._page(path, query, pull.comments)
            if method == "POST":
                cid = self.next_id()
                comment = {
                    "id": cid,
                    "body": payload["body"],
                    "user": self.user(me["login"], me["type"]),
                    "url": f"{self.url}{repo}/issues/comments/{cid}",
                }
                pull.comments.append(comment)
                return 201, comment, {}
        match = re.fullmatch(rf"{repo}/issues/comments/(\d+)", path)
        if match and method == "PATCH":
            for pull in self.pulls.values():
                for comment in pull.comments:
                    if comment["id"] == int(match.group(1)):
                        if comment["user"]["login"] != me["login"]:
                            return 403, {"message": "Resource not accessible by integration"}, {}
                        comment["body"] = payload["body"]
                        return 200, comment, {}
            return 404, {"message": "Not Found"}, {}
        match = re.fullmatch(rf"{repo}/commits/([0-9a-f]+)", path)
        if match and method == "GET":
            return 200, {"sha": match.group(1), "url": f"{self.url}{path}"}, {}
        match = re.fullmatch(rf"{repo}/statuses/([0-9a-f]+)", path)
        if match and method == "POST":
            status = {"id": self.next_id(), **payload, "url": f"{self.url}{path}"}
            self.statuses.setdefault(match.group(1), []).append(status)
            return 201, status, {}
        match = re.fullmatch(r"/orgs/([^/]+)", path)
        if match and method == "GET":
            org = match.group(1)
            if not any(team.split("/")[0] == org for team in self.teams):
                return 404, {"message": "Not Found"}, {}
            return 200, {"login": org, "url": f"{self.url}/orgs/{org}"}, {}
        match = re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)", path)
        if match and method == "GET":
            team = f"{match.group(1)}/{match.group(2)}"
            if team not in self.teams:
                return 404, {"message": "Not Found"}, {}
            return 200, {"id": abs(hash(team)) % 10**6, "slug": match.group(2), "url": f"{self.url}{path}"}, {}
        match = re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)/members", path)
        if match and method == "GET":
            team = f"{match.group(1)}/{match.group(2)}"
            if team not in self.teams:
                return 404, {"message": "Not Found"}, {}
            return self._page(path, query, [self.user(login) for login in self.teams[team]])
        return 404, {"message": f"Not Found: {method} {path}"}, {}
