"""The ``postiz-pipelines`` command.

Each ``*_cmds`` module adds its commands to ``main``; importing this package wires them all.
"""

from __future__ import annotations

from postiz_pipelines.cli import (  # noqa: F401  (each module registers its commands)
    api_cmds,
    connect_cmds,
    evergreen_cmds,
    keys_cmds,
    ops_cmds,
    posts_cmds,
    run_cmds,
    schedule_cmds,
    setup_cmds,
)
from postiz_pipelines.cli.base import Env, main

__all__ = ["Env", "main"]
