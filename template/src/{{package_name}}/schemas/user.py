"""What a user looks like to clients, and the rules a new one must meet."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ..models.user import USERNAME_MAX_LENGTH
from .common import Body, Name

#: The one definition of a valid username (the database enforces uniqueness).
Username = Annotated[Name, Field(min_length=1, max_length=USERNAME_MAX_LENGTH)]


class UserCreate(Body):
    """``POST /api/users`` and ``flask users create``."""

    username: Username


class UserOut(BaseModel):
    """A user as the API answers it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    created_at: datetime
