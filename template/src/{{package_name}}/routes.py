"""Every resource the app serves, registered in one place: add new ones here."""

from flask import Flask

from . import docs, notes, resources, users


def init_app(app: Flask) -> None:
    """Register each resource's blueprint, then the docs that describe them."""
    resources.init_app(app)  # first: the <id:...> converter the routes use
    app.register_blueprint(users.bp)
    app.register_blueprint(notes.bp)
    docs.init_app(app)
