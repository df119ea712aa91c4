"""Entry point: `flask --app app ...` finds `app`; `python app.py` migrates and serves with waitress."""

from sentri import create_app

app = create_app()

if __name__ == "__main__":
    from sentri.server import serve

    serve(app)
