"""``User``: someone who uses the app, known by a unique username."""

from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Base

USERNAME_MAX_LENGTH = 80


class User(Base):
    """A user; the API and CLI check new ones with ``schemas.user.UserCreate``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX_LENGTH), unique=True)
    # Set by the database, not by a flush event: work inside flush events is
    # what raises "Session is already flushing".
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"
