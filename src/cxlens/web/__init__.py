"""The web dashboard and JSON API: ``create_app(workspace)`` returns a FastAPI app.

>>> from cxlens.web import create_app
>>> app = create_app(":memory:")
>>> app.title
'cxlens'
"""

from cxlens.web.app import create_app

__all__ = ["create_app"]
