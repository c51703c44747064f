"""A test client and CLI runner that give each request and command its own context.

Flask reuses an app context that is already pushed, so a request made while
the test holds one (the ``db`` fixture does) would share the test's session,
and a view that forgets to commit would go unnoticed. These push a fresh app
context around each request and command, as a production server does, and
keep Flask's ``with client:`` behaviour: the last request's contexts stay
available (``request``, ``session``, ``g``) until the block ends.
"""

from contextlib import ExitStack
from typing import Any

from click.testing import Result
from flask.testing import FlaskClient, FlaskCliRunner


class ProductionLikeClient(FlaskClient):
    """A test client whose every request gets an app context of its own."""

    _opening = False

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if self._opening:  # a redirect being followed: part of the same request
            return super().open(*args, **kwargs)
        self._context_stack.close()  # the previous request's preserved contexts
        context = self.application.app_context()
        context.push()
        self._opening = True
        try:
            response = super().open(*args, **kwargs)
        except BaseException:
            self._new_contexts.clear()
            context.pop()
            raise
        finally:
            self._opening = False
        # Flask's preserved contexts (``with client:``) close first, then ours.
        preserved = self._context_stack
        self._context_stack = ExitStack()
        self._context_stack.callback(context.pop)
        self._context_stack.push(preserved)
        if not self.preserve_context:
            self._context_stack.close()
        return response


class ProductionLikeCliRunner(FlaskCliRunner):
    """Runs each ``flask`` command in an app context of its own, as the CLI does."""

    def invoke(self, *args: Any, **kwargs: Any) -> Result:
        with self.app.app_context():
            return super().invoke(*args, **kwargs)
