"""labgrid's own command-line client, run as a subprocess, and the settings every labgrid client shares.

The rig runs `labgrid-client` where labgrid's code is blocking or must outlive the rig: switching power
(labgrid's power drivers) and the reaper. The coordinator address (LG_COORDINATOR, else
127.0.0.1:20408) and the identity a place is locked under (LG_HOSTNAME/LG_USERNAME, else this host and
user) are labgrid's own defaults, so the rig, `labgrid-client` and a person at a shell agree on them.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import shutil
import sys
from pathlib import Path

# Variables that would make labgrid-client pick a place, token or environment file other than the one
# the rig names on the command line.
_SCRUBBED = ("LG_ENV", "LG_PLACE", "PLACE", "LG_TOKEN", "LG_STATE", "STATE", "LG_INITIAL_STATE")


class LabgridError(Exception):
    pass


def client_path() -> str:
    """labgrid-client next to this Python (the project's venv) first, then on PATH."""
    beside = Path(sys.executable).with_name("labgrid-client")
    if beside.is_file():
        return str(beside)
    found = shutil.which("labgrid-client")
    if found:
        return found
    raise LabgridError("labgrid-client not found: install labgrid (pip install 'han-ota-rig[test]' or "
                       "pip install labgrid)")


def coordinator_address(coordinator: str | None = None) -> str:
    return coordinator or os.environ.get("LG_COORDINATOR") or "127.0.0.1:20408"


def identity() -> str:
    """Who the coordinator records as holder, computed as labgrid's client does ("host/user")."""
    host = os.environ.get("LG_HOSTNAME", socket.gethostname())
    return f"{host}/{os.environ.get('LG_USERNAME', getpass.getuser())}"


def client_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(extra or {})
    return env


def command(args: list[str], coordinator: str | None = None) -> list[str]:
    return [client_path(), "-x", coordinator_address(coordinator), *args]


async def run(args: list[str], *, coordinator: str | None = None, timeout: float = 30.0,
              check: bool = True, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `labgrid-client ARGS`; with `check`, a non-zero exit raises LabgridError with labgrid's message."""
    cmd = command(args, coordinator)
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=client_env(env))
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        if isinstance(asyncio.current_task(), asyncio.Task) and asyncio.current_task().cancelling():
            raise
        raise LabgridError(f"labgrid-client {' '.join(args)}: no answer within {timeout:g} s "
                           f"(coordinator {coordinator_address(coordinator)})") from None
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    if check and proc.returncode != 0:
        raise LabgridError(f"labgrid-client {' '.join(args)} failed: {last_words(stderr, stdout)}")
    return proc.returncode, stdout, stderr


def last_words(stderr: str, stdout: str = "") -> str:
    """labgrid-client's own error line (it prints 'labgrid-client: error: ...' last)."""
    for text in (stderr, stdout):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        if errors:
            return errors[-1]
        if lines:
            return lines[-1]
    return "no message"
