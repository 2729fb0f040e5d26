"""A small client for the GitHub REST API: issue comments, reactions and pull requests.

Every request has a timeout and goes through one retry policy: 5xx, 429 and
secondary-rate-limit 403 responses are retried with bounded exponential backoff that honours
``Retry-After`` and ``x-ratelimit-reset``. List calls follow the ``Link`` header. The token
never appears in a log line or an exception message.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from dvc_sweep import __version__
from dvc_sweep.errors import EnvironmentProblemError

logger = logging.getLogger(__name__)

#: Maximum length of an issue or pull request comment body, in characters. GitHub rejects
#: longer bodies with 422 "Body is too long (maximum is 65536 characters)".
COMMENT_MAX_CHARS = 65_536

#: The largest page GitHub serves for list endpoints such as issue comments.
PER_PAGE = 100

#: Seconds to wait for the connection, then for each read of the response.
DEFAULT_TIMEOUT = (10.0, 30.0)

#: Login of the ``GITHUB_TOKEN`` installation token, which cannot read ``GET /user``.
GITHUB_ACTIONS_BOT_LOGIN = "github-actions[bot]"

#: The REST API version this client was written against.
API_VERSION = "2022-11-28"

#: GitHub's message for a token that lacks a permission, for example the read-only token
#: of a pull request from a fork.
INTEGRATION_FORBIDDEN_MESSAGE = "Resource not accessible by integration"

#: Reactions GitHub accepts on a comment.
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})


class GitHubAPIError(EnvironmentProblemError):
    """A GitHub API request that failed, with the status and GitHub's message."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status: int | None = None,
        api_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.method = method
        self.url = url
        self.status = status
        self.api_message = api_message


class IntegrationAccessError(GitHubAPIError):
    """403 "Resource not accessible by integration": the token lacks a permission.

    The usual cause is a pull request from a fork, whose ``GITHUB_TOKEN`` is read-only
    whatever the workflow's ``permissions:`` grant. Retrying cannot help.
    """


class BodyTooLongError(GitHubAPIError):
    """422 from GitHub because a comment body is longer than ``COMMENT_MAX_CHARS``."""


class RateLimitError(GitHubAPIError):
    """A rate limit whose reset is further away than the client is willing to wait."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and how long the client waits before it repeats a failed request.

    ``max_attempts`` counts the first request. Backoff doubles from ``base_delay`` and
    never exceeds ``max_delay`` seconds. When GitHub names a wait (``Retry-After`` or a
    rate-limit reset) longer than ``max_wait`` seconds, the client gives up at once
    instead of retrying early against GitHub's instruction.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_wait: float = 120.0
    #: GitHub's advice for a secondary rate limit that names no wait: one minute.
    secondary_limit_delay: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Return the delay before retry number ``attempt`` (1-based) of a 5xx response."""
        return min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)


@dataclasses.dataclass(frozen=True)
class Comment:
    """An issue or pull request comment, as far as this tool needs it."""

    id: int
    body: str
    author: str
    html_url: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Comment:
        """Build a Comment from the JSON object the REST API returns."""
        user = data.get("user") or {}
        return cls(
            id=int(data["id"]),
            body=str(data.get("body") or ""),
            author=str(user.get("login") or ""),
            html_url=str(data.get("html_url") or ""),
        )


class GitHubClient:
    """A REST client bound to one API URL and token.

    ``sleep`` and ``clock`` are injectable so that tests of the retry policy do not wait.
    """

    def __init__(
        self,
        token: str,
        *,
        api_url: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_url:
            raise EnvironmentProblemError(
                "the GitHub API URL is empty",
                hint="set GITHUB_API_URL, which every GitHub Actions runner sets",
            )
        self.api_url = api_url.rstrip("/")
        self._origin = _origin(self.api_url)
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"dvc-sweep/{__version__}",
            },
        )
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        """Close the underlying HTTP session."""
        self._session.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one request, retrying by the policy, and return a successful response.

        ``path_or_url`` is a path under the API URL, or a full URL on the same origin (the
        ``next`` link of a list). Raise a GitHubAPIError subclass for any final failure.
        """
        url = self._url(path_or_url)
        attempt = 1
        while True:
            try:
                response = self._session.request(
                    method, url, params=params, json=json, timeout=self._timeout
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt >= self._retry.max_attempts:
                    raise GitHubAPIError(
                        f"{method} {_display(url)} failed after {attempt} attempts: "
                        f"{type(error).__name__}",
                        method=method,
                        url=url,
                        hint=f"check that {self._origin} is reachable from the runner",
                    ) from error
                delay = self._retry.backoff(attempt)
                logger.warning(
                    "%s %s failed (%s), retrying in %.1f s (attempt %d of %d)",
                    method, _display(url), type(error).__name__, delay,
                    attempt + 1, self._retry.max_attempts,
                )  # fmt: skip
                self._sleep(delay)
                attempt += 1
                continue

            logger.debug("%s %s -> %d", method, _display(url), response.status_code)
            if response.ok:
                return response

            wait = self._retry_delay(response, attempt)
            if wait is None or attempt >= self._retry.max_attempts:
                raise self._error(method, url, response, attempts=attempt)
            logger.warning(
                "%s %s returned %d (%s), retrying in %.1f s (attempt %d of %d)",
                method, _display(url), response.status_code, _api_message(response) or "-",
                wait, attempt + 1, self._retry.max_attempts,
            )  # fmt: skip
            self._sleep(wait)
            attempt += 1

    def paginate(
        self, path: str, *, params: Mapping[str, str | int] | None = None
    ) -> Iterator[Any]:
        """Yield every item of a list endpoint, following the ``Link: rel="next"`` header."""
        query: dict[str, str | int] = {"per_page": PER_PAGE, **(params or {})}
        next_url: str | None = path
        page_params: Mapping[str, str | int] | None = query
        while next_url is not None:
            response = self.request("GET", next_url, params=page_params)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubAPIError(
                    f"GET {_display(response.url)} returned a {type(items).__name__}, "
                    "expected a JSON list",
                    method="GET",
                    url=response.url,
                    status=response.status_code,
                )
            yield from items
            next_url = response.links.get("next", {}).get("url")
            # The next link already carries per_page and page.
            page_params = None

    # -- endpoints -------------------------------------------------------------------------

    def authenticated_login(self) -> str | None:
        """Return the login of the token's user, or None when the token cannot read it.

        ``GET /user`` returns 403 for installation tokens such as ``GITHUB_TOKEN``.
        """
        try:
            data = self.request("GET", "/user").json()
        except GitHubAPIError as error:
            if error.status in (HTTPStatus.FORBIDDEN, HTTPStatus.UNAUTHORIZED):
                logger.debug("GET /user returned %s: not a user token", error.status)
                return None
            raise
        login = data.get("login") if isinstance(data, dict) else None
        return str(login) if login else None

    def list_issue_comments(self, repo: str, number: int) -> Iterator[Comment]:
        """Yield every comment of an issue or pull request, oldest first."""
        for item in self.paginate(f"/repos/{_repo_path(repo)}/issues/{number}/comments"):
            yield Comment.from_api(item)

    def create_issue_comment(self, repo: str, number: int, body: str) -> Comment:
        """Create a comment on an issue or pull request."""
        response = self.request(
            "POST", f"/repos/{_repo_path(repo)}/issues/{number}/comments", json={"body": body}
        )
        return Comment.from_api(response.json())

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        """Replace the body of an existing comment."""
        response = self.request(
            "PATCH", f"/repos/{_repo_path(repo)}/issues/comments/{comment_id}", json={"body": body}
        )
        return Comment.from_api(response.json())

    def create_comment_reaction(self, repo: str, comment_id: int, content: str) -> None:
        """Add a reaction (``content`` is one of ``REACTIONS``) to an issue comment."""
        if content not in REACTIONS:
            raise ValueError(f"unknown reaction {content!r}, expected one of {sorted(REACTIONS)}")
        self.request(
            "POST",
            f"/repos/{_repo_path(repo)}/issues/comments/{comment_id}/reactions",
            json={"content": content},
        )

    def get_pull_request(self, repo: str, number: int) -> dict[str, Any]:
        """Return the pull request object (``head.sha``, ``head.ref``, ``state`` ...)."""
        data = self.request("GET", f"/repos/{_repo_path(repo)}/pulls/{number}").json()
        if not isinstance(data, dict):
            raise GitHubAPIError(
                f"GET pull request #{number} returned no JSON object",
                method="GET",
                url=f"{self.api_url}/repos/{repo}/pulls/{number}",
            )
        return data

    # -- helpers ---------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            # The Authorization header goes with every request, so a link from a response
            # is only followed while it stays on the API's own origin.
            if _origin(path_or_url) != self._origin:
                raise GitHubAPIError(
                    f"not following {_display(path_or_url)}: it is not on {self._origin}",
                    method="GET",
                    url=path_or_url,
                )
            return path_or_url
        return f"{self.api_url}/{path_or_url.lstrip('/')}"

    def _retry_delay(self, response: requests.Response, attempt: int) -> float | None:
        """Return seconds to wait before repeating the request, or None not to repeat it."""
        status = response.status_code
        if status in (HTTPStatus.FORBIDDEN, HTTPStatus.TOO_MANY_REQUESTS):
            message = _api_message(response) or ""
            if INTEGRATION_FORBIDDEN_MESSAGE.lower() in message.lower():
                return None
            named: float | None = self._named_wait(response)
            secondary = "secondary rate limit" in message.lower()
            if named is None and not secondary and status == HTTPStatus.FORBIDDEN:
                # A plain 403: missing permission, blocked user, locked conversation.
                return None
            if named is None:
                # GitHub's advice when a rate limit names no wait: at least a minute, then
                # exponentially longer.
                named = self._retry.secondary_limit_delay * 2.0 ** (attempt - 1)
            if named > self._retry.max_wait:
                return None
            return named
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            return self._retry.backoff(attempt)
        return None

    def _named_wait(self, response: requests.Response) -> float | None:
        """Return the wait that ``Retry-After`` or an exhausted ``x-ratelimit-reset`` names."""
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            try:
                return max(float(retry_after), 0.0)
            except ValueError:
                logger.debug("ignoring a Retry-After that is not seconds: %r", retry_after)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset")
            try:
                # The reset is in UTC epoch seconds; one more second covers clock skew.
                return max(float(reset or "") - self._clock(), 0.0) + 1.0
            except ValueError:
                logger.debug("ignoring an x-ratelimit-reset that is not epoch seconds: %r", reset)
        return None

    def _error(
        self, method: str, url: str, response: requests.Response, *, attempts: int
    ) -> GitHubAPIError:
        status = response.status_code
        api_message = _api_message(response)
        where = f"{method} {_display(url)}"
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        text = f"{where} returned {status} {_reason(status)}{tried}: {api_message or '-'}"
        kwargs: dict[str, Any] = {
            "method": method, "url": url, "status": status, "api_message": api_message
        }  # fmt: skip
        lowered = (api_message or "").lower()
        if status == HTTPStatus.FORBIDDEN and INTEGRATION_FORBIDDEN_MESSAGE.lower() in lowered:
            return IntegrationAccessError(
                text,
                hint="the token lacks a permission: give the job `pull-requests: write`, or for "
                "pull requests from forks comment from a `workflow_run` workflow",
                **kwargs,
            )
        if status == HTTPStatus.UNPROCESSABLE_ENTITY and "too long" in lowered:
            return BodyTooLongError(text, **kwargs)
        if status in (HTTPStatus.FORBIDDEN, HTTPStatus.TOO_MANY_REQUESTS) and (
            "rate limit" in lowered or self._named_wait(response) is not None
        ):
            return RateLimitError(
                text,
                hint=f"GitHub asked to wait longer than {self._retry.max_wait:.0f} s; "
                "run the workflow again later",
                **kwargs,
            )
        if status == HTTPStatus.UNAUTHORIZED:
            return GitHubAPIError(text, hint="the token is invalid or expired", **kwargs)
        if status == HTTPStatus.NOT_FOUND:
            return GitHubAPIError(
                text,
                hint="check the repository and number, and that the token can read the repository",
                **kwargs,
            )
        return GitHubAPIError(text, **kwargs)


# -- comment upsert ----------------------------------------------------------------------------


def comment_marker(workflow: str, sweep: str) -> str:
    """Return the hidden HTML comment that identifies this workflow's comment for a sweep.

    Both names are percent-encoded, so neither can end the HTML comment early.
    """
    return (
        f"<!-- dvc-sweep comment: workflow={quote(workflow, safe='/@.')} "
        f"sweep={quote(sweep, safe='.')} -->"
    )


def find_marked_comment(
    comments: Iterator[Comment] | list[Comment], marker: str, authors: frozenset[str]
) -> Comment | None:
    """Return the first comment by one of ``authors`` (case-insensitive) that has ``marker``.

    A comment with the marker by anyone else (a user who quoted it, another bot) is skipped.
    """
    wanted = {author.lower() for author in authors}
    for comment in comments:
        if marker not in comment.body:
            continue
        if comment.author.lower() in wanted:
            return comment
        logger.debug(
            "skipping comment %d with our marker: its author %s is not one of %s",
            comment.id, comment.author, sorted(authors),
        )  # fmt: skip
    return None


@dataclasses.dataclass
class CommentUpserter:
    """Keeps one marked comment on a pull request up to date.

    The first ``upsert`` searches every page of the pull request's comments for the marker
    among comments by ``authors``; later calls update the comment found or created.
    """

    client: GitHubClient
    repo: str
    number: int
    marker: str
    authors: frozenset[str]
    comment: Comment | None = None
    _searched: bool = False

    def upsert(self, body: str, *, short_body: str | None = None) -> Comment:
        """Create or update the comment with ``body``, which must contain the marker.

        When GitHub rejects the body as too long, send ``short_body`` once instead.
        """
        if self.marker not in body:
            raise ValueError("the comment body does not contain its marker")
        if not self._searched:
            self.comment = find_marked_comment(
                self.client.list_issue_comments(self.repo, self.number), self.marker, self.authors
            )
            self._searched = True
            if self.comment is not None:
                logger.debug("found comment %d on #%d", self.comment.id, self.number)
        try:
            return self._send(body)
        except BodyTooLongError:
            if short_body is None:
                raise
            logger.warning(
                "GitHub rejected a comment body of %d characters as too long; sending a "
                "short one of %d characters",
                len(body), len(short_body),
            )  # fmt: skip
            return self._send(short_body)

    def _send(self, body: str) -> Comment:
        if self.comment is None:
            created = self.client.create_issue_comment(self.repo, self.number, body)
            logger.info("created comment %d on #%d: %s", created.id, self.number, created.html_url)
            self.comment = created
            return created
        updated = self.client.update_issue_comment(self.repo, self.comment.id, body)
        logger.info("updated comment %d on #%d: %s", updated.id, self.number, updated.html_url)
        self.comment = updated
        return updated


# -- small helpers -----------------------------------------------------------------------------


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _display(url: str) -> str:
    """Return the URL without its query, for log lines and messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _repo_path(repo: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise ValueError(f"invalid repository {repo!r}, expected OWNER/NAME")
    return repo


def _api_message(response: requests.Response) -> str | None:
    """Return GitHub's error message, with the messages of ``errors[]`` appended."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:200] or None
    if not isinstance(data, dict):
        return None
    parts = [str(data["message"])] if data.get("message") else []
    for item in data.get("errors") or []:
        if isinstance(item, dict) and item.get("message"):
            parts.append(str(item["message"]))
        elif isinstance(item, str):
            parts.append(item)
    return ": ".join(parts) or None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
