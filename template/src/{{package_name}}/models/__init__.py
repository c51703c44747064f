"""The database models, one module per model.

Alembic (``flask db migrate``) sees only the models imported here: a model in a
new module that this package does not import is silently left out of every
migration. Add each new module's model to the imports below.
"""

from .note import Note
from .user import User

__all__ = ["Note", "User"]
