"""The database models: plain SQLAlchemy 2.0 declarative classes."""

from datetime import datetime
from typing import Any

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import Base

USERNAME_MAX_LENGTH = 80


def username_problem(username: str) -> str | None:
    """Why ``username`` is not acceptable, or None when it is.

    The API and the CLI both check here; the database enforces uniqueness.
    """
    if not username.strip() or username != username.strip():
        return "must not be blank or have surrounding spaces"
    if len(username) > USERNAME_MAX_LENGTH:
        return f"must be at most {USERNAME_MAX_LENGTH} characters"
    return None


class User(Base):
    """Someone who uses the app, known by a unique username."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX_LENGTH), unique=True)
    # Set by the database, not by a flush event: work inside flush events is
    # what raises "Session is already flushing".
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a user."""
        return {
            "id": self.id,
            "username": self.username,
            "created_at": self.created_at.isoformat(),
        }

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"
