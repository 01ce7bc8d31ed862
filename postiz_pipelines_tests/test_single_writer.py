"""One writer of job state, read from the source with ``ast``.

Every change of a ``PublishJob``'s status, lease, attempt count, budget or due time goes
through ``core/publishing/queue.py``, where each transition is fenced (on the lease owner, or
on the status it starts from). No other module of the package may assign those attributes on
a job (a name that says ``job``), pass them to ``setattr``, or build an ``update``, ``delete``
or ``insert`` statement of ``PublishJob``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "postiz_pipelines"
WRITER = ROOT / "core" / "publishing" / "queue.py"
JOB_STATE = frozenset(
    {
        "status",
        "lease_owner",
        "lease_expires_at",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "queued_at",
    }
)
STATEMENTS = frozenset({"update", "delete", "insert", "insert_ignoring_conflicts"})


def _is_job(node: ast.expr) -> bool:
    """Whether an expression names a job: ``job``, ``jobs[0]``, ``self.job``, ``old_job``..."""
    while isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return "job" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "job" in node.attr.lower()
    return False


def _targets(node: ast.AST) -> Iterator[ast.expr]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield from _flatten(target)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        yield from _flatten(node.target)


def _flatten(target: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            yield from _flatten(elt)
    else:
        yield target


def job_state_writes(source: str) -> list[str]:
    """Every write of job state in ``source``: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        for target in _targets(node):
            if (
                isinstance(target, ast.Attribute)
                and target.attr in JOB_STATE
                and _is_job(target.value)
            ):
                found.append(f"{target.lineno}: {ast.unparse(target)} = ...")
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if (
                name == "setattr"
                and len(node.args) >= 2
                and _is_job(node.args[0])
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in JOB_STATE
            ):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
            if name.rsplit(".", 1)[-1] in STATEMENTS and any(
                isinstance(a, ast.Name) and a.id == "PublishJob" for a in node.args
            ):
                found.append(f"{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def modules() -> Iterator[Path]:
    yield from sorted(p for p in ROOT.rglob("*.py") if p != WRITER)


def test_no_module_but_the_queue_writes_job_state() -> None:
    offenders = {
        str(path.relative_to(ROOT)): writes
        for path in modules()
        if (writes := job_state_writes(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "job state written outside core/publishing/queue.py"


def test_the_queue_itself_writes_job_state() -> None:
    """The checker sees the writes where they are: it reads what it claims to read."""
    writes = job_state_writes(WRITER.read_text(encoding="utf-8"))
    assert any("job.status = ..." in w for w in writes)
    assert any("update(PublishJob)" in w for w in writes)


@pytest.mark.parametrize(
    "source",
    [
        "job.status = 'failed'",
        "def f(jobs):\n    jobs[0].lease_owner = None",
        "self.job.attempts += 1",
        "job.next_attempt_at, job.queued_at = a, b",
        "old_job.max_attempts: int = 9",
        "setattr(job, 'lease_expires_at', None)",
        "session.execute(update(PublishJob).values(status='x'))",
        "session.execute(sa.delete(PublishJob))",
        "insert_ignoring_conflicts(session, PublishJob, rows, on=['id'])",
    ],
)
def test_a_write_of_job_state_is_found(source: str) -> None:
    assert job_state_writes(source), source


@pytest.mark.parametrize(
    "source",
    [
        "post.status = 'published'",
        "target.status = 'failed'",
        "delivery.attempts += 1",
        "x = job.status",
        "select(PublishJob).where(PublishJob.status == 'running')",
        "update(Post).values(status='x')",
    ],
)
def test_other_writes_and_reads_are_not_job_state(source: str) -> None:
    assert job_state_writes(source) == []
