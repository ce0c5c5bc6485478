"""The texts of the page scripts, translated on the server.

The admin's JavaScript catalog (``admin:jsi18n``) holds only the admin's own strings, so the
pages' configs carry these, translated with the project's catalogs for the request's
language (``makemessages`` finds them here).
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

TEXTS = [
    gettext_noop("just now"),
    gettext_noop("another process"),
    gettext_noop("you (in another tab)"),
    gettext_noop("This %(name)s was changed by %(who)s %(when)s."),
    gettext_noop(
        "This %(name)s is no longer available to you, after a change by %(who)s %(when)s: "
        "it was deleted, or you may no longer see it."
    ),
    gettext_noop("This %(name)s was changed since you opened it."),
    gettext_noop(
        "This %(name)s is no longer available to you: it was deleted, or you may no longer see it."
    ),
    gettext_noop("Changed: %(fields)s."),
    gettext_noop("Reload"),
    gettext_noop("Compare"),
    gettext_noop("Hide comparison"),
    gettext_noop("Saved now: %(value)s"),
    gettext_noop("Saved now: (not shown)"),
    gettext_noop("Discard your unsaved changes and reload?"),
    gettext_noop("Also here:"),
    gettext_noop("Also here"),
    gettext_noop("Reconnecting…"),
    gettext_noop(
        "Live updates have stopped: your session has ended. Reload the page to log in again."
    ),
    gettext_noop("Live updates have stopped: you no longer have access to these rows."),
    gettext_noop("Saving this page now would overwrite those changes."),
    gettext_noop("Saving this page now may overwrite changes made elsewhere."),
    gettext_noop("The page waits while rows you selected would move off it."),
    gettext_noop("This page may be out of date – reload to see the latest rows."),
    gettext_noop("%(done)s of %(total)s"),
    gettext_noop("Cancel"),
    gettext_noop("Cancelling…"),
    gettext_noop("Dismiss"),
    gettext_noop("“%(action)s” finished."),
    gettext_noop("“%(action)s” was cancelled. %(result)s"),
    gettext_noop("“%(action)s” failed: %(error)s"),
]
# (Texts with plural forms stay with ngettext in the scripts: a fixed map cannot hold them.)


def page_texts() -> dict[str, str]:
    """Each text, by its English original, in the active language."""
    return {text: gettext(text) for text in TEXTS}
