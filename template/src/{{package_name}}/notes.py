"""``/api/notes``: notes that users own, and a background task on them."""

from typing import Any

from flask import Blueprint, Response, jsonify, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .database import unit_of_work
from .errors import error_response
from .extensions import db
from .models import Note
from .openapi import documented
from .resources import dump, page_of, read_body
from .schemas.common import Page, PageQuery
from .schemas.note import NoteCreate, NoteOut, NoteUpdate
from .tasks import submit
from .users import find_user

bp = Blueprint("notes", __name__, url_prefix="/api")


@bp.get("/notes")
@documented(response=Page[NoteOut], query=PageQuery)
def list_notes() -> dict[str, Any]:
    """A page of notes with their owners, oldest first."""
    # selectinload: one more query for all the page's owners, not one per note.
    statement = select(Note).options(selectinload(Note.owner)).order_by(Note.id)
    return page_of(statement, NoteOut)


@bp.get("/users/<id:user_id>/notes")
@documented(response=Page[NoteOut], query=PageQuery, errors=(404,))
def list_user_notes(user_id: int) -> dict[str, Any]:
    """A page of one user's notes, oldest first."""
    find_user(user_id)
    statement = (
        select(Note)
        .where(Note.owner_id == user_id)
        .options(selectinload(Note.owner))
        .order_by(Note.id)
    )
    return page_of(statement, NoteOut)


@bp.post("/users/<id:user_id>/notes")
@documented(status=201, response=NoteOut, body=NoteCreate, errors=(404, 409))
def create_note(
    user_id: int,
) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """Add a note to a user; 409 when that user has a note with this title."""
    new = read_body(NoteCreate)
    note = Note(owner=find_user(user_id), title=new.title, body=new.body)
    try:
        with unit_of_work() as session:
            session.add(note)
    except IntegrityError:
        return error_response(409, f"This user already has a note {new.title!r}.")
    answer = jsonify(dump(NoteOut, note))
    submit(count_words, note.id)  # an id, not the note: see count_words
    return answer, 201, {"Location": url_for(".get_note", note_id=note.id)}


@bp.get("/notes/<id:note_id>")
@documented(response=NoteOut, errors=(404,))
def get_note(note_id: int) -> dict[str, Any]:
    """One note."""
    return dump(NoteOut, find_note(note_id))


@bp.patch("/notes/<id:note_id>")
@documented(response=NoteOut, body=NoteUpdate, errors=(404, 409))
def update_note(note_id: int) -> dict[str, Any] | tuple[Response, int]:
    """Change a note's title or body; 409 when the owner has that title already."""
    changes = read_body(NoteUpdate)
    note = find_note(note_id)
    try:
        with unit_of_work():
            for field, value in changes.model_dump(exclude_unset=True).items():
                setattr(note, field, value)
    except IntegrityError:
        return error_response(409, f"This user already has a note {changes.title!r}.")
    answer = dump(NoteOut, note)
    submit(count_words, note.id)
    return answer


@bp.delete("/notes/<id:note_id>")
@documented(status=204, errors=(404,))
def delete_note(note_id: int) -> tuple[str, int]:
    """Delete a note."""
    note = find_note(note_id)
    with unit_of_work() as session:
        session.delete(note)
    return "", 204


def find_note(note_id: int) -> Note:
    """The note with this id, or a 404 that says which id."""
    return db.get_or_404(Note, note_id, description=f"No note with id {note_id}.")


def count_words(note_id: int) -> int | None:
    """Background task: store how many words a note has.

    It takes the note's id and loads the note in its own session. The request
    that submitted it may be over by the time it runs, its session closed: a
    note object from that session would be detached here, and reading what it
    had not loaded (``note.owner``) raises ``DetachedInstanceError``.
    """
    with unit_of_work() as session:
        note = session.get(Note, note_id)
        if note is None:  # deleted in the meantime
            return None
        note.word_count = len(note.body.split())
        return note.word_count
