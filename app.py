"""Entry point: `flask --app app ...` finds `app`; `python app.py` migrates and serves with waitress."""

from sentri import create_app
from sentri.config import ConfigError
from sentri.server import limit_malloc_arenas

if __name__ == "__main__":
    limit_malloc_arenas()  # before create_app starts any thread: flat memory over a long life

try:
    app = create_app()
except ConfigError as exc:
    # Both `python app.py` and every `flask --app app ...` command import this module: a setting
    # Sentri cannot start with is one line and a non-zero exit there, not a traceback.
    raise SystemExit(f"sentri: {exc}") from None

if __name__ == "__main__":
    from sentri.server import serve

    try:
        serve(app)
    except ConfigError as exc:  # found at start (an artifact bucket that does not answer): one line too
        raise SystemExit(f"sentri: {exc}") from None
