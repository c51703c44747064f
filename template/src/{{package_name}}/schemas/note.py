"""What a note looks like to clients, and the rules its fields must meet."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from ..models.note import NOTE_TITLE_MAX_LENGTH
from .common import Body, Name, Text
from .user import UserOut

Title = Annotated[Name, Field(max_length=NOTE_TITLE_MAX_LENGTH)]
NoteText = Annotated[Text, Field(max_length=10_000)]


class NoteCreate(Body):
    """``POST /api/users/<id>/notes``."""

    title: Title
    body: NoteText = ""


def _no_default(schema: JsonDict) -> None:
    schema.pop("default", None)


class NoteUpdate(Body):
    """``PATCH /api/notes/<id>``: the fields given change, the others stay."""

    # None only as "not given": an explicit null is refused, and not documented.
    title: Title | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    body: NoteText | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)

    @field_validator("title", "body", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("not_null", "must not be null; leave it out")
        return value

    @model_validator(mode="after")
    def _something_to_change(self) -> "NoteUpdate":
        if not self.model_fields_set:
            raise ValueError("give at least one of: title, body")
        return self


class NoteOut(BaseModel):
    """A note as the API answers it, with its owner."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    word_count: int | None
    created_at: datetime
    owner: UserOut
