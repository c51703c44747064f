"""Shapes every resource shares: safe text, paging, the error body."""

import unicodedata
from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

#: Deeper pages cost the database a long scan: ask clients to filter instead.
MAX_PAGE = 100_000
MAX_PER_PAGE = 100

ItemT = TypeVar("ItemT")


def _clean(*, multiline: bool) -> Callable[[str], str]:
    """A check refusing what databases and clients choke on.

    NUL (PostgreSQL refuses it in text), lone surrogates (not encodable as
    UTF-8) and control characters; newlines and tabs only in ``multiline`` text.
    """
    allowed = {"\n", "\r", "\t"} if multiline else set()

    def check(text: str) -> str:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError(
                "text_surrogate", "must not contain lone surrogates"
            ) from None
        for char in text:
            if unicodedata.category(char) == "Cc" and char not in allowed:
                raise PydanticCustomError(
                    "text_control",
                    "must not contain control characters (found {code})",
                    {"code": f"U+{ord(char):04X}"},
                )
        return text

    return check


def _trimmed(text: str) -> str:
    if not text.strip() or text != text.strip():
        raise PydanticCustomError(
            "text_blank", "must not be blank or have surrounding spaces"
        )
    return text


#: One line of text, not blank, without surrounding spaces.
Name = Annotated[str, AfterValidator(_clean(multiline=False)), AfterValidator(_trimmed)]
#: Free text: newlines and tabs allowed, other control characters not.
Text = Annotated[str, AfterValidator(_clean(multiline=True))]


class Body(BaseModel):
    """Base of request bodies: exact JSON types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class PageQuery(BaseModel):
    """``?page=`` and ``?per_page=`` of a list endpoint."""

    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE)


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, with what a client needs to fetch the others."""

    items: list[ItemT]
    page: int
    per_page: int
    total: int
    pages: int


class ErrorBody(BaseModel):
    """What every error answers: ``fields`` says what is wrong with the input."""

    error: str
    message: str
    fields: dict[str, str] | None = None
