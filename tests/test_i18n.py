"""The page scripts' texts come translated in their page's config (realtime_admin/i18n.py)."""

import re
from pathlib import Path

import pytest
from django.utils import translation

from realtime_admin.i18n import TEXTS, page_texts

SCRIPTS = Path(__file__).resolve().parent.parent / "realtime_admin" / "static" / "realtime_admin"


def test_every_text_a_script_asks_for_is_in_the_catalog():
    used = set()
    for script in SCRIPTS.glob("*.js"):
        # gettext("...") calls, not ngettext: plural texts stay with the admin's catalog.
        used |= set(re.findall(r'(?<![n\w])gettext\("([^"]*)"\)', script.read_text()))
        # The close-code notices live_socket.js looks up by code.
        used |= set(re.findall(r'^\s*\d{4}: "([^"]*)",', script.read_text(), re.M))
    assert used, "no texts found: has the scripts' way of asking changed?"
    assert used - set(TEXTS) == set()


def test_the_texts_follow_the_active_language():
    with translation.override("fr"):
        texts = page_texts()
    assert set(texts) == set(TEXTS)
    # realtime_admin ships a French catalog (realtime_admin/locale/fr).
    assert texts["Reload"] == "Recharger"
    assert texts["Also here:"] == "Aussi ici :"


@pytest.mark.django_db
def test_a_change_form_in_french_carries_its_texts_in_french(admin_client):
    from tests import factories

    order = factories.order()
    with translation.override("fr"):
        html = admin_client.get(f"/admin/shop/order/{order.pk}/change/").content.decode()
    assert '"Reload": "Recharger"' in html
