"""The extension objects, created unbound so any module can import them.

``create_app`` binds them to an app; models, views and commands import from here
and never from the factory, which keeps the import graph free of cycles.
"""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations can drop and alter them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model: plain SQLAlchemy 2.0 typing, no legacy ``query``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects keep their loaded values after a commit. With the default (expire
# on commit), reading ``user.id`` for the response runs a new SELECT, and if
# that fails the client is told to retry a write that has already committed.
# Sessions made elsewhere (test isolation) take the same options from here.
SESSION_OPTIONS = {"expire_on_commit": False}

db = SQLAlchemy(model_class=Base, session_options=SESSION_OPTIONS)
migrate = Migrate()
