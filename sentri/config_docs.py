"""docs/configuration.md, generated from the settings' own declarations (settings.py) and the few variables
read before them (`python -m sentri.config_docs > docs/configuration.md`); tests/test_config.py fails when a
setting has no sentence or the page is out of date."""

from __future__ import annotations

import sys

from .config import DEFAULTS
from .settings import env_name, fields

# Read straight from the environment, before the settings are (settings.py declares the rest, each with its
# sentence there).
ALSO_READ = {
    "SENTRI_INSTANCE_PATH": "The instance folder: the SQLite database, the secret key and the artifacts. Read "
    "before anything else, since `config.py` in it is the second layer of settings.",
    "PROMETHEUS_MULTIPROC_DIR": "With several processes on one machine, an empty writable folder where "
    "prometheus_client sums their counters.",
    "MALLOC_ARENA_MAX": "glibc's malloc arenas; `python app.py` sets 2 unless this says otherwise (flat memory).",
}
DOCS: dict[str, str] = {
    "SENTRI_INSTANCE_PATH": ALSO_READ["SENTRI_INSTANCE_PATH"],
    **{env_name(spec.name): spec.metadata["doc"] for spec in fields()},
    **{name: text for name, text in ALSO_READ.items() if name != "SENTRI_INSTANCE_PATH"},
}


def documented() -> list[str]:
    """Every setting Sentri reads, in the order the page lists them."""
    return list(DOCS)


def _default(name: str) -> str:
    if name == "SENTRI_MAX_BROWSERS":
        return "the CPU count"
    value = DEFAULTS.get(name)
    return "unset" if value in (None, "") else f"`{str(value).lower() if isinstance(value, bool) else value}`"


def markdown() -> str:
    """The text of docs/configuration.md."""
    lines = [
        "# Configuration",
        "",
        "Every setting is read once, at start, in this order: Sentri's defaults, then `config.py` in the instance",
        "folder (the same names), then the environment. A value Sentri cannot use stops the start with one line",
        "naming the setting. Generated from `sentri/settings.py`: `python -m sentri.config_docs > "
        "docs/configuration.md`.",
        "",
        "| setting | default | what it does |",
        "|---|---|---|",
    ]
    for name in documented():
        lines.append(f"| `{name}` | {_default(name)} | {DOCS[name]} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
