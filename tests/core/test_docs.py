"""The API docs work with no internet (SPEC §4): Swagger UI's and ReDoc's scripts and styles
come from the service itself, and so do ReDoc's footer logo, the favicon and the OAuth2 redirect
page of the Authorize button."""

import re

import pytest

ASSET = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']""")
SPEC_URL = re.compile(r"""url: ["']([^"']+)["']""")  # Swagger UI's, in its start-up script
ANOTHER_HOST = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_a_docs_page_references_no_other_host(client, page):
    response = await client.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not ANOTHER_HOST.findall(response.text)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_every_asset_a_docs_page_names_loads_from_the_service(client, page):
    text = (await client.get(page)).text
    assets = ASSET.findall(text) + SPEC_URL.findall(text)

    assert len(assets) >= 3  # a script, a style or icon, and the OpenAPI document
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert response.content, asset


async def test_swagger_ui_loads_its_bundle_and_the_oauth2_redirect_page(client):
    text = (await client.get("/docs")).text

    assert re.search(r"""<script src=["'][^"']*swagger-ui-bundle\.js["']""", text)
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in text


async def test_redoc_loads_no_image_from_another_host(client):
    """ReDoc's bundle shows the logo of its "API docs by Redocly" footer whatever its options;
    the copy the service serves shows the service's own icon there."""
    page = (await client.get("/redoc")).text
    (bundle_url,) = re.findall(r"""<script src=["']([^"']+)["']""", page)

    bundle = await client.get(bundle_url)

    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert not re.findall(r"""src:\s*["'](?:https?:)?//""", bundle.text)
    assert 'src:"/favicon.ico"' in bundle.text


async def test_the_service_has_a_favicon(client):
    response = await client.get("/favicon.ico")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
