"""WSGI entry point for gunicorn (``app:app``); ``python app.py`` runs Flask's development server."""

from service import create_app

app = create_app()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8080)
