"""ReDoc's page and the favicon, with nothing fetched from the internet.

fastapi-offline serves Swagger UI's and ReDoc's bundles from its own package, but ReDoc's bundle
still loads the logo of its "API docs by Redocly" footer from Redocly's CDN: the side menu
renders it whatever the options. ReDoc's page here loads a copy of the bundle that shows the
service's icon there instead.
"""

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import FileResponse, HTMLResponse, Response

STATIC = Path(fastapi_offline.__file__).parent / "static"
ICON = STATIC / "favicon.png"
FAVICON_PATH = "/favicon.ico"
REDOC_PATH = "/redoc"
REDOC_BUNDLE_PATH = "/redoc-offline/redoc.standalone.js"
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
ASSET_CACHE = "public, max-age=86400"


@cache
def _redoc_bundle() -> bytes:
    bundle = (STATIC / "redoc.standalone.js").read_text(encoding="utf-8")
    return bundle.replace(REDOCLY_LOGO, FAVICON_PATH).encode()


def install_offline_docs(app: FastAPI) -> None:
    """/favicon.ico, and /redoc (for an app made with `redoc_url=None`)."""

    @app.get(FAVICON_PATH, include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(ICON, media_type="image/png", headers={"Cache-Control": ASSET_CACHE})

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "",
            title=f"{app.title} - ReDoc",
            redoc_js_url=REDOC_BUNDLE_PATH,
            redoc_favicon_url=FAVICON_PATH,
            with_google_fonts=False,
        )

    @app.get(REDOC_BUNDLE_PATH, include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(
            _redoc_bundle(), media_type="text/javascript", headers={"Cache-Control": ASSET_CACHE}
        )
