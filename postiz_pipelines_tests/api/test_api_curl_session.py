"""docs/api-curl.md, run: every ``curl`` command there (after its ``# expect NNN`` line) is
parsed and sent to the app in order, with the shell variables the session sets up."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "api-curl.md"
VAR = re.compile(r"\$(\w+)")


@dataclass
class Curl:
    expect: int
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    capture: tuple[str, str] | None  # (variable, jq field) for VAR=$(curl ... | jq -r .field)


def parse(doc: str) -> list[Curl]:
    """The ``curl`` commands that follow an ``# expect`` line, in document order."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", doc, flags=re.S):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            m = re.match(r"# expect (\d{3})$", lines[i].strip())
            if not m:
                i += 1
                continue
            command, i = lines[i + 1], i + 2
            while command.endswith("\\"):
                command, i = command[:-1] + " " + lines[i].strip(), i + 1
            body = None
            heredoc = re.search(r"<<(\w+)", command)
            if heredoc:
                end = lines.index(heredoc.group(1), i)
                body, i = "\n".join(lines[i:end]), end + 1
                command = command.replace(heredoc.group(0), "")
            capture = None
            assign = re.match(r"(\w+)=\$\((.*)$", command)
            if assign:
                command = assign.group(2)
                jq = re.search(r"\|\s*jq -r \.(\w+)\s*\)?\s*$", command)
                assert jq, command
                capture = (assign.group(1), jq.group(1))
                command = command[: jq.start()]
            out.append(_curl(int(m.group(1)), command, body, capture))
    return out


def _curl(expect: int, command: str, body: str | None, capture: tuple[str, str] | None) -> Curl:
    args = shlex.split(command)
    assert args[0] == "curl", command
    method, url, headers, k = "GET", "", {}, 1
    while k < len(args):
        a = args[k]
        if a == "-X":
            method, k = args[k + 1], k + 2
        elif a == "-H":
            name, _, value = args[k + 1].partition(":")
            headers[name.strip()] = value.strip()
            k += 2
        elif a == "--data":
            assert args[k + 1] == "@-"
            k += 2
        elif a.startswith("-"):
            k += 1
        else:
            url, k = a, k + 1
    return Curl(expect, method, url, headers, body, capture)


def test_the_documented_session_runs(client, world, app):  # type: ignore[no-untyped-def]
    commands = parse(DOC.read_text())
    assert [c.method for c in commands] == [
        "POST",
        "POST",
        "POST",
        "GET",
        "GET",
        "PATCH",
        "DELETE",
        "GET",
        "DELETE",
        "POST",
    ]
    env = {
        "API": "",
        "TOKEN": world.tokens["owner"],
        "WS": world.a,
        "ACCOUNT": world.account_a,
        "LONG_TEXT": "x" * 600,
    }

    def sub(text: str) -> str:
        return VAR.sub(lambda m: env[m.group(1)], text)

    answers = []
    for c in commands:
        r = client.request(
            c.method,
            sub(c.url),
            headers={k: sub(v) for k, v in c.headers.items()},
            content=sub(c.body).encode() if c.body is not None else None,
        )
        assert r.status_code == c.expect, (c.method, c.url, r.status_code, r.text)
        if c.capture:
            env[c.capture[0]] = r.json()[c.capture[1]]
        answers.append(r)

    created, replayed, refused, listed, read, moved, canceled, listed_canceled, again = answers[:9]
    daily = answers[9].json()["schedule"]
    assert replayed.json()["id"] == created.json()["id"] == env["POST_ID"]
    assert replayed.headers["idempotent-replayed"] == "true"
    assert refused.json()["problems"][0] == {
        "field": "mastodon.text",
        "message": "text is 600 graphemes, limit 500",
        "value": 600,
        "limit": 500,
    }
    assert [p["id"] for p in listed.json()["posts"]] == [env["POST_ID"]]
    assert read.json()["scheduledAt"] == "2026-12-01T08:30:00+00:00"
    assert moved.json()["scheduledAt"] == "2026-12-02T08:30:00+00:00"
    assert canceled.json()["status"] == "canceled"
    assert [p["status"] for p in listed_canceled.json()["posts"]] == ["canceled"]
    assert again.headers["content-type"] == "application/problem+json"
    assert json.loads(again.text)["status"] == 409
    assert daily["kind"] == "recurring" and daily["count"] == 30
    assert daily["waitingJobs"] == 1  # 09:00 in Berlin tomorrow is within the next 24 h
