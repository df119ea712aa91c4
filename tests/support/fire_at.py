"""A process that fires schedules at the instants a test gives it, one per line on stdin, and answers each
with the ids of the runs it started (a JSON list on stdout): firing.fire_due in a process of its own, with
its own connections, so that two of them race for the same due row as two Sentri processes do.

    SENTRI_DATABASE_URL=postgresql://... SENTRI_INSTANCE_PATH=... python -m tests.support.fire_at"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from sentri import create_app
from sentri.schedules import firing


def main() -> None:
    app = create_app({"TESTING": True, "SENTRI_DEMO": False})
    print("ready", flush=True)
    for line in sys.stdin:
        with app.app_context():
            started = firing.fire_due(datetime.fromisoformat(line.strip()))
        print(json.dumps(started), flush=True)


if __name__ == "__main__":
    main()
