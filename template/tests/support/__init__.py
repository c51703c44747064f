"""The machinery behind the fixtures in ``conftest.py``; the tests live beside it."""
