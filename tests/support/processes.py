"""The processes below a process, read from /proc (Linux): a server's browsers, a test's Chromium."""

from __future__ import annotations

import os


def descendants(pid: int) -> list[int]:
    """Return the ids of every process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """CPU seconds (user + system, all threads) a process has used; with `reaped`, also those of the children
    it has waited for. Raises OSError when the process is gone."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11 : 15 if reaped else 13]) / os.sysconf("SC_CLK_TCK")


def command_line(pid: int) -> list[str]:
    """A process's arguments, program first ([] when it has ended or cannot be read)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []
