"""Running `supportbot chat` as a separate process, as a person at a terminal would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def chat(data: Path, script: str, *args: str) -> str:
    """Pipe `script` into `supportbot chat --no-delay` with its data in `data`; stdout."""
    env = {**os.environ, "SUPPORTBOT_DATA_DIR": str(data)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--no-delay", *args],
        input=script,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "Traceback" not in done.stderr
    return done.stdout
