"""`supportbot run` restarted in milliseconds, for crash drills: a warm parent process.

A cold start pays ~2 s of CPU (imports, then loading flows, texts and the gazetteer) and takes
3-7 s on a loaded two-core machine; a drill restarts the bot 30 to 200 times. So a parent
process (`python -m tests.auxil.warm`) imports the bot and loads its content once, then forks
one child per start. Each child sets its own environment and runs `bot.cli.main(argv)`, which is
`supportbot run` from there on: its own settings, database, keys, recovery and port. Only
`Content.load` is answered from the parent's copy (the same files, read once): what the
drills test (the database, recovery, the channels, the clients) starts fresh in every child.

The protocol, one JSON object per line: the test writes {"argv", "env", "log"} (optionally
"stdin": a file to read as standard input, "err": a separate file for standard error, "status":
a file the child writes its exit status to) and reads back {"pid"}. Children are reaped by the
parent as they exit; a child that is gone (or a zombie) counts as exited.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WarmChild:
    """A forked `supportbot run`, with the part of `subprocess.Popen` the drills use."""

    pid: int
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):  # gone: no such file, or ESRCH while reading it
            state = "X"
        if state in ("Z", "X"):
            self.returncode = -signal.SIGKILL
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
            time.sleep(0.01)
        return code


class Warm:
    """The warm parent; `spawn` starts a child `supportbot <argv>` in a few milliseconds."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.auxil.warm"],
            cwd=ROOT,
            env=env or dict(os.environ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.children: list[WarmChild] = []
        ready = self._read()
        assert ready == {"ready": True}, ready

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the warm parent exited before answering")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def spawn(
        self,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        *,
        stdin: Path | None = None,
        err: Path | None = None,
        status: Path | None = None,
    ) -> WarmChild:
        assert self.process.stdin is not None
        request = {"argv": argv, "env": env, "log": str(log)}
        for name, path in (("stdin", stdin), ("err", err), ("status", status)):
            if path is not None:
                request[name] = str(path)
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        child = WarmChild(int(self._read()["pid"]))
        self.children.append(child)
        return child

    def close(self) -> None:
        for child in self.children:
            child.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# --- the parent process ---------------------------------------------------------------------------


def _reap(signum: int, frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(request: dict[str, Any]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setpgid(0, 0)  # its own group: a signal to the test's group never reaches it by accident
    os.environ.clear()
    os.environ.update(request["env"])
    os.dup2(os.open(request.get("stdin", os.devnull), os.O_RDONLY), 0)
    writing = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    out = os.open(request["log"], writing, 0o600)
    os.dup2(out, 1)
    os.dup2(os.open(request["err"], writing, 0o600) if "err" in request else out, 2)
    # Standard input as a fresh process would have it (the parent's buffered its own commands).
    sys.stdin = io.TextIOWrapper(
        io.BufferedReader(io.FileIO(0, "r", closefd=False)),
        encoding=sys.stdin.encoding,
        errors=sys.stdin.errors,
    )
    code = 70
    try:
        from bot.cli import main

        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        if "status" in request:
            Path(request["status"]).write_text(str(code))
        os._exit(code)


def _serve() -> None:
    # Imported once, here: the children inherit them.
    import uvicorn

    import bot.app
    import bot.channels.telegram.factory
    import bot.cli
    import bot.web.app
    from bot.config import Settings

    del uvicorn, bot  # only loaded
    from bot.engine import Content

    settings = Settings()
    loaded = Content.load(settings)
    cold = Content.load.__func__  # type: ignore[attr-defined]

    def warm_load(cls: type[Content], wanted: Settings) -> Content:
        same = (wanted.flows_dir, wanted.content_dir, wanted.default_locale) == (
            settings.flows_dir,
            settings.content_dir,
            settings.default_locale,
        )
        return loaded if same else cold(cls, wanted)  # type: ignore[no-any-return]

    Content.load = classmethod(warm_load)  # type: ignore[method-assign, assignment]
    signal.signal(signal.SIGCHLD, _reap)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)


if __name__ == "__main__":
    _serve()
