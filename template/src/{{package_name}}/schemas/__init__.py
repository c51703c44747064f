"""Request and response shapes (pydantic), one module per resource.

The API validates bodies and shapes answers with these, the CLI checks its
input with them, and ``openapi.py`` builds ``/openapi.json`` from them: a
resource's input rules live in its schema module and nowhere else.
"""
