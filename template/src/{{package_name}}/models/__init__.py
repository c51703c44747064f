"""The database models, one module per model.

Alembic (``flask db migrate``) sees only the models imported here: a model in a
new module that this package does not import is silently left out of every
migration. Import each new module's model below (``as`` re-exports it).
"""

from .note import Note as Note
from .user import User as User
