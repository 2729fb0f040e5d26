"""The REST client against the fake GitHub API: retries, pagination, errors and upserts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dvc_sweep.errors import EnvironmentProblemError
from dvc_sweep.github import (
    COMMENT_MAX_CHARS,
    GITHUB_ACTIONS_BOT_LOGIN,
    BodyTooLongError,
    CommentUpserter,
    GitHubAPIError,
    GitHubClient,
    IntegrationAccessError,
    RateLimitError,
    RetryPolicy,
    comment_marker,
)
from tests.fake_github import SECONDARY_LIMIT_MESSAGE, FakeGitHub, Token

REPO = "octo/demo"
BOT = GITHUB_ACTIONS_BOT_LOGIN


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fake: FakeGitHub, sleeps: Sleeps) -> Iterator[GitHubClient]:
    with GitHubClient("test-token", api_url=fake.url, sleep=sleeps, clock=lambda: 1000.0) as c:
        yield c


def test_client_sends_token_and_api_headers(fake: FakeGitHub, client: GitHubClient) -> None:
    client.create_issue_comment(REPO, 1, "hello")
    [request] = fake.requests
    assert request.headers["authorization"] == "Bearer test-token"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["user-agent"].startswith("dvc-sweep/")


def test_client_respects_api_url_path_prefix(fake: FakeGitHub, sleeps: Sleeps) -> None:
    """GitHub Enterprise Server serves the API under /api/v3: the path must be kept."""
    client = GitHubClient("test-token", api_url=fake.url + "/api/v3/", sleep=sleeps)
    with client, pytest.raises(GitHubAPIError):
        client.get_pull_request(REPO, 1)
    assert fake.requests[0].path == f"/api/v3/repos/{REPO}/pulls/1"


def test_client_empty_api_url_rejected() -> None:
    with pytest.raises(EnvironmentProblemError, match="API URL"):
        GitHubClient("test-token", api_url="")


def test_client_retries_502_then_succeeds(
    fake: FakeGitHub, client: GitHubClient, sleeps: Sleeps
) -> None:
    fake.fail("POST", r"/comments$", 502, times=2)
    comment = client.create_issue_comment(REPO, 1, "hello")
    assert comment.body == "hello"
    assert len(fake.requests_to("POST", r"/comments$")) == 3
    assert sleeps == [1.0, 2.0]


def test_client_gives_up_after_max_attempts(fake: FakeGitHub, sleeps: Sleeps) -> None:
    fake.fail("GET", r"/pulls/", 503, times=10)
    policy = RetryPolicy(max_attempts=3)
    client = GitHubClient("test-token", api_url=fake.url, retry=policy, sleep=sleeps)
    with client, pytest.raises(GitHubAPIError, match=r"returned 503 .* after 3 attempts"):
        client.get_pull_request(REPO, 1)
    assert len(fake.requests) == 3
    assert sleeps == [1.0, 2.0]


def test_client_backoff_is_capped(fake: FakeGitHub, sleeps: Sleeps) -> None:
    fake.fail("GET", r"/pulls/", 500, times=5)
    fake.add_pull(REPO, 1, head_sha="a" * 40)
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0)
    with GitHubClient("test-token", api_url=fake.url, retry=policy, sleep=sleeps) as client:
        client.get_pull_request(REPO, 1)
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_client_secondary_limit_honours_retry_after(
    fake: FakeGitHub, client: GitHubClient, sleeps: Sleeps
) -> None:
    fake.fail(
        "POST", r"/comments$", 403, message=SECONDARY_LIMIT_MESSAGE, headers={"Retry-After": "7"}
    )
    client.create_issue_comment(REPO, 1, "hello")
    assert sleeps == [7.0]
    assert len(fake.comments_on(REPO, 1)) == 1


def test_client_secondary_limit_without_headers_waits_a_minute(
    fake: FakeGitHub, client: GitHubClient, sleeps: Sleeps
) -> None:
    fake.fail("POST", r"/comments$", 403, message=SECONDARY_LIMIT_MESSAGE)
    client.create_issue_comment(REPO, 1, "hello")
    assert sleeps == [60.0]


def test_client_429_honours_ratelimit_reset(
    fake: FakeGitHub, client: GitHubClient, sleeps: Sleeps
) -> None:
    """The fixture clock returns 1000; a reset at 1010 means 10 s plus one of slack."""
    fake.fail(
        "GET",
        r"/pulls/",
        429,
        message="API rate limit exceeded",
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"},
    )
    fake.add_pull(REPO, 1, head_sha="a" * 40)
    client.get_pull_request(REPO, 1)
    assert sleeps == [11.0]


def test_client_rate_limit_reset_too_far_fails_fast(
    fake: FakeGitHub, client: GitHubClient, sleeps: Sleeps
) -> None:
    fake.fail(
        "GET",
        r"/pulls/",
        403,
        message="API rate limit exceeded for installation",
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4600"},
    )
    with pytest.raises(RateLimitError, match="rate limit"):
        client.get_pull_request(REPO, 1)
    assert sleeps == []
    assert len(fake.requests) == 1


def test_client_integration_403_not_retried(
    fake: FakeGitHub, client: GitHubClient, sleeps: Sleeps
) -> None:
    fake.tokens["test-token"] = Token(login=BOT, can_write=False)
    with pytest.raises(IntegrationAccessError) as caught:
        client.create_issue_comment(REPO, 1, "hello")
    assert caught.value.status == 403
    assert "pull-requests: write" in (caught.value.hint or "")
    assert sleeps == []
    assert len(fake.requests) == 1


def test_client_plain_403_not_retried(
    fake: FakeGitHub, client: GitHubClient, sleeps: Sleeps
) -> None:
    fake.fail("PATCH", r"/comments/", 403, message="Unable to edit a locked conversation")
    fake.add_comment(REPO, 1, "x", author=BOT)
    with pytest.raises(GitHubAPIError, match="locked conversation"):
        client.update_issue_comment(REPO, 1000, "y")
    assert sleeps == []


def test_client_422_body_too_long(client: GitHubClient) -> None:
    with pytest.raises(BodyTooLongError, match="too long"):
        client.create_issue_comment(REPO, 1, "x" * (COMMENT_MAX_CHARS + 1))


def test_client_error_message_has_no_token(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.fail("GET", r"/pulls/", 404, message="Not Found")
    with pytest.raises(GitHubAPIError) as caught:
        client.get_pull_request(REPO, 1)
    assert "test-token" not in str(caught.value)


def test_client_paginates_with_link_header(fake: FakeGitHub, client: GitHubClient) -> None:
    for index in range(250):
        fake.add_comment(REPO, 5, f"comment {index}", author="someone")
    bodies = [comment.body for comment in client.list_issue_comments(REPO, 5)]
    assert bodies == [f"comment {index}" for index in range(250)]
    pages = fake.requests_to("GET", r"/issues/5/comments$")
    assert [r.query.get("page", ["1"])[0] for r in pages] == ["1", "2", "3"]
    assert all(r.query["per_page"] == ["100"] for r in pages)


def test_client_rejects_next_link_to_other_origin(fake: FakeGitHub, client: GitHubClient) -> None:
    """The token must not follow a Link header to another host."""
    fake.fail(
        "GET",
        r"/issues/5/comments$",
        200,
        body=[],
        # The same host on another port is another origin; nothing listens on port 1.
        headers={"Link": '<http://127.0.0.1:1/steal?page=2>; rel="next"'},
    )
    with pytest.raises(GitHubAPIError, match="not following"):
        list(client.list_issue_comments(REPO, 5))


def test_authenticated_login_from_user_token(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.tokens["test-token"] = Token(login="octocat", user_endpoint=True)
    assert client.authenticated_login() == "octocat"


def test_authenticated_login_none_for_installation_token(client: GitHubClient) -> None:
    assert client.authenticated_login() is None


def test_reaction_posted(fake: FakeGitHub, client: GitHubClient) -> None:
    comment = fake.add_comment(REPO, 1, "/sweep", author="alice")
    client.create_comment_reaction(REPO, comment["id"], "eyes")
    assert fake.reactions[comment["id"]] == ["eyes"]


def test_reaction_unknown_content_rejected(client: GitHubClient) -> None:
    with pytest.raises(ValueError, match="unknown reaction"):
        client.create_comment_reaction(REPO, 1, "thumbs")


# -- upsert ------------------------------------------------------------------------------------


def test_marker_cannot_close_html_comment() -> None:
    marker = comment_marker("evil --> <b>", "s-->x")
    assert marker.count("-->") == 1
    assert marker.endswith("-->")


def test_marker_differs_by_workflow_and_sweep() -> None:
    markers = {
        comment_marker("a.yml", "s"),
        comment_marker("b.yml", "s"),
        comment_marker("a.yml", "t"),
    }
    assert len(markers) == 3


def test_upsert_creates_then_updates(fake: FakeGitHub, client: GitHubClient) -> None:
    marker = comment_marker(".github/workflows/sweep.yml", "grid")
    upserter = CommentUpserter(client, REPO, 3, marker, frozenset({BOT}))
    first = upserter.upsert(f"{marker}\nrunning")
    second = upserter.upsert(f"{marker}\ndone")
    assert first.id == second.id
    [comment] = fake.comments_on(REPO, 3)
    assert comment["body"].endswith("done")


def test_upsert_finds_comment_from_previous_run(fake: FakeGitHub, client: GitHubClient) -> None:
    marker = comment_marker("sweep.yml", "grid")
    old = fake.add_comment(REPO, 3, f"{marker}\nold", author=BOT)
    CommentUpserter(client, REPO, 3, marker, frozenset({BOT})).upsert(f"{marker}\nnew")
    [comment] = fake.comments_on(REPO, 3)
    assert comment["id"] == old["id"]
    assert comment["body"].endswith("new")


def test_upsert_ignores_marker_by_other_author(fake: FakeGitHub, client: GitHubClient) -> None:
    marker = comment_marker("sweep.yml", "grid")
    quoted = fake.add_comment(REPO, 3, f"> {marker}\nquoting the bot", author="mallory")
    CommentUpserter(client, REPO, 3, marker, frozenset({BOT})).upsert(f"{marker}\nnew")
    comments = fake.comments_on(REPO, 3)
    assert len(comments) == 2
    assert comments[0] == quoted


def test_upsert_author_match_is_case_insensitive(fake: FakeGitHub, client: GitHubClient) -> None:
    marker = comment_marker("sweep.yml", "grid")
    fake.add_comment(REPO, 3, f"{marker}\nold", author="OctoCat")
    CommentUpserter(client, REPO, 3, marker, frozenset({"octocat"})).upsert(f"{marker}\nnew")
    assert len(fake.comments_on(REPO, 3)) == 1


def test_upsert_short_body_after_422(fake: FakeGitHub, client: GitHubClient) -> None:
    marker = comment_marker("sweep.yml", "grid")
    upserter = CommentUpserter(client, REPO, 3, marker, frozenset({BOT}))
    long_body = marker + "x" * COMMENT_MAX_CHARS
    comment = upserter.upsert(long_body, short_body=f"{marker}\nshort")
    assert comment.body.endswith("short")
    assert len(fake.requests_to("POST", r"/comments$")) == 2


def test_upsert_body_without_marker_rejected(client: GitHubClient) -> None:
    marker = comment_marker("sweep.yml", "grid")
    upserter = CommentUpserter(client, REPO, 3, marker, frozenset({BOT}))
    with pytest.raises(ValueError, match="marker"):
        upserter.upsert("no marker")
