"""``Note``: a short text that a user owns; deleting the user deletes its notes."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Base
from .user import User

NOTE_TITLE_MAX_LENGTH = 200


class Note(Base):
    """A note; each owner's titles are unique."""

    __tablename__ = "notes"
    __table_args__ = (UniqueConstraint("owner_id", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # ON DELETE CASCADE: the database removes a user's notes with the user
    # (SQLite enforces it because database.py turns foreign keys on).
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(NOTE_TITLE_MAX_LENGTH))
    body: Mapped[str] = mapped_column(Text, server_default="")
    # Filled in by a background task (notes.count_words), so None at first.
    word_count: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    # Loaded lazily unless a query asks for it: list queries use selectinload.
    owner: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Note {self.id} {self.title!r} of user {self.owner_id}>"
