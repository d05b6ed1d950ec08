"""404 and 500 answers use the app's own layout (banner, navigation, stylesheet), served over loopback HTTP."""

from __future__ import annotations


def test_an_unknown_address_is_a_404_in_the_apps_layout(web):
    page = web.get("/no/such/page/")
    assert page.status_code == 404
    assert 'id="message"' in page.text and "Page not found" in page.text
    assert 'id="emulated-banner"' in page.text and 'id="nav-stats"' in page.text  # the layout, not werkzeug's page
    assert "/assets/style.css" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_an_error_in_a_view_is_a_500_in_the_apps_layout_without_its_details(serve_app):
    served = serve_app()

    def broken():
        raise RuntimeError("secret detail from inside the view")

    served.flask_app.add_url_rule("/broken/", "broken", broken)
    page = served.client().get("/broken/")
    assert page.status_code == 500
    assert 'id="message"' in page.text and "Something went wrong" in page.text
    assert 'id="emulated-banner"' in page.text and "/assets/style.css" in page.text
    assert "secret detail" not in page.text and "RuntimeError" not in page.text and "Traceback" not in page.text
