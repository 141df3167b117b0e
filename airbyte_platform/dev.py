"""`make dev`: the Dagster UI (dagster dev) with the webhook receiver beside it.

Both run until Ctrl-C; stopping one stops the other, so no orphan receiver keeps the port.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from airbyte_platform.settings import PROJECT_ROOT, get_settings


def main() -> int:
    settings = get_settings()
    webhooks = settings.webhooks
    assert webhooks is not None
    processes = [
        subprocess.Popen([sys.executable, "-m", "airbyte_platform.events.receiver"], cwd=PROJECT_ROOT),
        subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")],
            cwd=PROJECT_ROOT,
        ),
    ]
    print(
        f"Webhook receiver on http://{webhooks.host}:{webhooks.port}, Dagster UI on http://127.0.0.1:3000",
        flush=True,
    )
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return max((p.returncode or 0) for p in processes)


if __name__ == "__main__":
    sys.exit(main())
