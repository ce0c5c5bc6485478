"""The texts of the change form and presence scripts, translated on the server.

The admin's JavaScript catalog (``admin:jsi18n``) holds only the admin's own strings, so the
pages' configs carry these, translated with the project's catalogs for the request's
language (``makemessages`` finds them here).
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

TEXTS = [
    gettext_noop("just now"),
    gettext_noop("another process"),
    gettext_noop("you, in another tab"),
    gettext_noop("This %(name)s was changed by %(who)s %(when)s."),
    gettext_noop("This %(name)s was deleted by %(who)s %(when)s."),
    gettext_noop("This %(name)s was changed since you opened it."),
    gettext_noop("This %(name)s was deleted since you opened it."),
    gettext_noop("Changed: %(fields)s."),
    gettext_noop("Reload"),
    gettext_noop("Compare"),
    gettext_noop("Hide comparison"),
    gettext_noop("Saved now: %(value)s"),
    gettext_noop("Saved now: (not shown)"),
    gettext_noop("Discard your unsaved changes and reload?"),
    gettext_noop("Also here:"),
    gettext_noop("Also here"),
]


def page_texts() -> dict[str, str]:
    """Each text, by its English original, in the active language."""
    return {text: gettext(text) for text in TEXTS}
