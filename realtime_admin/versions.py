"""What an object's change form shows of it, as a version: for each model field the viewer's
fieldsets show, a short digest of its saved value.

Each inline the form shows adds one digest of its rows. The change form carries the version
it was loaded with. Comparing it with the object's version now tells which fields (and
inlines) someone else changed: for the "changed by someone else"
banner (views.object_status) and for the check before a save overwrites them (VersionedForm).
No field is added to the user's models.
"""

from __future__ import annotations

import copy
import datetime
import functools
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import display_for_value, flatten_fieldsets
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections, models, router, transaction
from django.http import HttpRequest
from django.utils.choices import flatten_choices
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy, ngettext

VERSION_FIELD = "_realtime_admin_version"  # the hidden input of a live change form
# After a refused save: the versions of the parts the user was told they would overwrite.
TOLD_FIELD = "_realtime_admin_told"
MAX_VERSION_LENGTH = 16 * 1024
INLINE = "_inline_"  # version keys of inlines: _inline_<formset prefix>

Version = dict[str, str]  # field name -> digest of its saved value


def shown_fields(
    model_admin: admin.options.BaseModelAdmin,
    request: HttpRequest,
    obj: models.Model,
    model: type[models.Model] | None = None,
) -> list[models.Field]:
    """The model fields that the viewer's change form of ``obj`` shows (editable or read
    only), of ``obj``'s model, or of an inline's ``model``; form-only fields and callables
    have no saved value to compare."""
    fields = []
    opts = (model or type(obj))._meta
    for name in flatten_fieldsets(model_admin.get_fieldsets(request, obj)):
        try:
            field = opts.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.concrete or field.many_to_many:
            fields.append(field)
    return fields


def _saved(obj: models.Model, field: models.Field, initial: Mapping | None = None) -> Any:
    if field.many_to_many:
        # The form's initial data holds the related objects already: no second query.
        related = initial[field.name] if initial and field.name in initial else None
        if related is None:
            related = field.value_from_object(obj)
        return sorted(str(getattr(item, "pk", item)) for item in related)
    value = field.value_from_object(obj)
    if isinstance(value, datetime.datetime | datetime.time):
        # The admin's widgets show and save whole seconds: a save through any change form
        # drops the microseconds, which is no change anyone could see or overwrite.
        value = value.replace(microsecond=0)
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        # A form's input is in the user's time zone, the database's value in UTC.
        value = value.astimezone(datetime.UTC)
    if isinstance(value, str):
        # As a form would clean a value it shows untouched: browsers post CRLF line ends,
        # text fields strip, and an empty text is "" or None as the field likes.
        value = value.replace("\r\n", "\n").strip() or None
    return value


def _digest(value: Any) -> str:
    """Keyed with the project's secret: a page's version says nothing about a value its
    form masks (a password hash), even to someone who tries every likely value."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=5, key=_key(settings.SECRET_KEY)).hexdigest()


@functools.lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"realtime_admin.versions" + secret.encode()).digest()


def masked(form_field: forms.Field | None) -> bool:
    """Whether the change form hides this field's value (a password hash's summary, a
    password input): then its value is never told, only that it changed."""
    if form_field is None:
        return False  # shown as read-only text, as display() gives it
    widget = form_field.widget
    return (
        form_field.disabled
        or getattr(widget, "read_only", False)
        or (isinstance(widget, forms.PasswordInput) and not widget.render_value)
    )


def offered(form_field: forms.Field | None, obj: models.Model, name: str) -> bool:
    """Whether the form's widget shows the saved value of ``name``: a choice list narrowed
    for this viewer (``formfield_for_foreignkey`` and friends) shows no value it does not
    offer, so neither may the banner."""
    if isinstance(form_field, forms.ModelChoiceField):  # (and ModelMultipleChoiceField)
        field, key = obj._meta.get_field(name), form_field.to_field_name or "pk"
        if field.many_to_many:
            wanted = {getattr(item, key) for item in getattr(obj, name).all()}
        else:
            value = getattr(obj, field.attname)
            wanted = set() if value is None else {value}
        found = form_field.queryset.filter(**{f"{key}__in": wanted}).count()
        return found == len(wanted)
    if isinstance(form_field, forms.ChoiceField) and form_field.choices:
        value = obj._meta.get_field(name).value_from_object(obj)
        offered_values = {str(choice) for choice, _ in flatten_choices(form_field.choices)}
        return value in (None, "") or str(value) in offered_values
    return True


@dataclass
class Inline:
    """An inline of the viewer's change form, and its rows of the object as saved now."""

    admin: admin.options.InlineModelAdmin
    rows: list[models.Model]
    fields: list[models.Field]
    prefix: str  # its formset's, which names its <prefix>-group on the page

    def digest(self) -> str:
        return _digest(
            [[str(row.pk), [_saved(row, field) for field in self.fields]] for row in self.rows]
        )

    def summary(self) -> str:
        """ "2 orders: H-1, H-2", the first few rows as their ``str()``."""
        count = len(self.rows)
        rows = ", ".join(map(str, self.rows[:10])) + (" …" if count > 10 else "")
        text = ngettext("%(count)s %(name)s: %(rows)s", "%(count)s %(name)s: %(rows)s", count)
        name = self.admin.verbose_name if count == 1 else self.admin.verbose_name_plural
        return text % {"count": count, "name": name, "rows": rows or "-"}

    def editable(self, request: HttpRequest, obj: models.Model) -> bool:
        return any(
            check(request, obj)
            for check in (
                self.admin.has_change_permission,
                self.admin.has_add_permission,
                self.admin.has_delete_permission,
            )
        )


def shown_inlines(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    obj: models.Model,
    formsets: list[tuple[admin.options.InlineModelAdmin, Any]] | None = None,
) -> dict[str, Inline]:
    """The inlines the viewer's change form shows, by their key in a version
    (``_inline_`` and the formset's prefix, which also names its ``<prefix>-group``).
    ``formsets``: the page's own (inline, formset) pairs, whose rows it reads anyway."""
    if formsets is None:
        formsets = []
        prefixes: dict[str, int] = {}
        for formset_class, inline in model_admin.get_formsets_with_inlines(request, obj):
            # Numbered as ModelAdmin._create_formsets numbers them: orders, orders-2, ...
            prefix = formset_class.get_default_prefix()
            prefixes[prefix] = prefixes.get(prefix, 0) + 1
            if prefixes[prefix] != 1 or not prefix:
                prefix = f"{prefix}-{prefixes[prefix]}"
            formset = formset_class(
                instance=obj, prefix=prefix, queryset=inline.get_queryset(request)
            )
            formsets.append((inline, formset))
    inlines = {}
    for inline, formset in formsets:
        key = INLINE + re.sub(r"\W", "_", formset.prefix)
        fields = shown_fields(inline, request, obj, model=inline.model)
        inlines[key] = Inline(inline, list(formset.get_queryset()), fields, formset.prefix)
    return inlines


def version_of(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    obj: models.Model,
    initial: Mapping | None = None,
    inlines: dict[str, Inline] | None = None,
) -> Version:
    """``obj``'s version as the viewer's change form shows it. A page passes its form's
    ``initial`` and its inlines (``shown_inlines`` of its own formsets), so that working it
    out adds no query."""
    version = {
        field.name: _digest(_saved(obj, field, initial))
        for field in shown_fields(model_admin, request, obj)
    }
    if inlines is None:
        inlines = shown_inlines(model_admin, request, obj)
    for key, inline in inlines.items():
        version[key] = inline.digest()
    return version


def encode(version: Version, read_only: Collection[str] = ()) -> str:
    """The version as a hidden input carries it; fields in ``read_only`` (shown, but not
    editable on that page) are marked ``-name``, so that a save knows the page did not post
    them."""
    return ",".join(
        f"{'-' if name in read_only else ''}{name}:{digest}" for name, digest in version.items()
    )


def decode(text: str) -> Version:
    """The version a form was loaded with, from its hidden input; ValueError if damaged."""
    return decode_marked(text)[0]


def decode_marked(text: str) -> tuple[Version, set[str]]:
    """The version a form was loaded with, and the fields it showed read-only."""
    if len(text) > MAX_VERSION_LENGTH:
        raise ValueError("version too long")
    version, read_only = {}, set()
    for part in filter(None, text.split(",")):
        name, _, digest = part.partition(":")
        if name.startswith("-"):
            name = name[1:]
            read_only.add(name)
        if not (name.isidentifier() and len(digest) == 10 and digest.isalnum()):
            raise ValueError(f"bad version part {part!r}")
        version[name] = digest
    return version, read_only


def not_editable(form: forms.BaseForm, version: Version) -> set[str]:
    """The fields of ``version`` that ``form`` shows read-only (or not at all)."""
    return {name for name in version if not is_inline(name) and not form_writes(form, name)}


def form_writes(form: forms.BaseForm, name: str) -> bool:
    """Whether saving ``form`` writes the model field ``name``."""
    return name in form.fields and not form.fields[name].disabled


def changed_fields(loaded: Version, current: Version) -> list[str]:
    """The fields shown both then and now whose saved value differs."""
    return [name for name, digest in current.items() if loaded.get(name, digest) != digest]


def changes(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    obj: models.Model,
    names: list[str],
    form_fields: Mapping[str, forms.Field] | None = None,
    inlines: dict[str, Inline] | None = None,
) -> list[dict]:
    """What the viewer is told of the changed parts ``names`` of ``obj``: their label, their
    saved value as text (unless their form masks it), whether they may edit them, and where
    the page shows them. ``form_fields``: the viewer's change form's fields; ``inlines``:
    its inlines, if the caller read them already."""
    if inlines is None and any(map(is_inline, names)):
        inlines = shown_inlines(model_admin, request, obj)
    editable = model_admin.has_change_permission(request, obj)
    readonly = set(model_admin.get_readonly_fields(request, obj))
    if form_fields is None:
        form_fields = model_admin.get_form(request, obj, change=True).base_fields
    told = []
    for name in names:
        if is_inline(name):
            inline = (inlines or {}).get(name)
            if inline is None:
                continue
            told.append(
                {
                    "name": name,
                    "label": str(capfirst(inline.admin.verbose_name_plural)),
                    "value": inline.summary(),
                    "editable": inline.editable(request, obj),
                    "selector": f'[id="{inline.prefix}-group"]',  # (any prefix)
                }
            )
        else:
            form_field = form_fields.get(name)
            hidden = masked(form_field) or not offered(form_field, obj, name)
            told.append(
                {
                    "name": name,
                    "label": field_label(obj, name, form_field),
                    "value": None if hidden else display(model_admin, obj, name),
                    "editable": editable and name not in readonly and not hidden,
                    "selector": f".field-{name}",
                }
            )
    return told


def field_label(obj: models.Model, name: str, form_field: forms.Field | None) -> str:
    return str(
        getattr(form_field, "label", None) or capfirst(obj._meta.get_field(name).verbose_name)
    )


def is_inline(name: str) -> bool:
    return name.startswith(INLINE)


def display(model_admin: admin.ModelAdmin, obj: models.Model, name: str) -> str:
    """A field's saved value as plain text, as a read-only field would show it."""
    field = obj._meta.get_field(name)
    empty = model_admin.get_empty_value_display()
    if field.many_to_many:
        return ", ".join(str(related) for related in getattr(obj, name).all()) or str(empty)
    value = getattr(obj, name)
    if field.flatchoices:
        return str(dict(field.flatchoices).get(value, empty))
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return str(display_for_value(value, empty))


def lock_and_reread(obj: models.Model) -> None:
    """Re-read ``obj`` from the database the save goes to (the admin's transaction is on it,
    and it may have read from a replica) with ``SELECT ... FOR [NO KEY] UPDATE``: a save of
    it committed since the admin read it is seen, and later ones wait for this transaction.
    NO KEY, where the database has it (PostgreSQL), is the lock an UPDATE takes anyway, so
    rows that refer to this one can still be written meanwhile. Outside a transaction, on a
    database without row locks (SQLite: its ``IMMEDIATE`` transactions serialize the saves
    instead), or when the row has just been deleted, ``obj`` is left as read."""
    using = router.db_for_write(type(obj), instance=obj)
    features = connections[using].features
    if transaction.get_autocommit(using) or not features.has_select_for_update:
        return
    locked = type(obj)._base_manager.select_for_update(no_key=features.has_select_for_no_key_update)
    try:
        obj.refresh_from_db(using=using, from_queryset=locked)
    except type(obj).DoesNotExist:
        pass


class VersionedForm(forms.ModelForm):
    """Mixed into a change form's class when the POST carries the version the form was
    loaded with. A save merges what the user changed with what others saved since then:

    - a field someone else changed and the user did not (their input still holds the value
      they loaded, or the page did not post it) keeps its new saved value, and the user is
      told so; so does a field the loaded page did not let them edit;
    - a field (or an inline) both changed is refused once, with the user's input kept and
      the page told which; saving again overwrites what they were told of, and only that.

    The check compares the object as saved now with what the user loaded, inside the admin's
    transaction, after locking the object's row until that transaction ends: on a database
    with row locks no other save of it commits between the check and this save."""

    realtime_admin_model_admin: admin.ModelAdmin
    realtime_admin_request: HttpRequest
    # The object's version now, and its inlines (None on an add form).
    realtime_admin_version: Version | None = None
    realtime_admin_inlines: dict[str, Inline] | None = None
    # What the page carries next if this save fails: the version the user's input was made
    # on (None: the version now), and the parts they were told they would overwrite.
    realtime_admin_carried: str | None = None
    realtime_admin_told: str | None = None
    realtime_admin_kept: tuple[str, ...] = ()  # fields keeping someone else's change
    realtime_admin_merged: tuple[str, ...] = ()  # those, and fields the page did not show
    realtime_admin_error: ValidationError | None = None
    conflict_message = gettext_lazy(
        "Someone else changed this %(name)s since you opened it: %(fields)s. Your changes are "
        "not saved yet. Save again to overwrite theirs, or reload the page to see them."
    )
    lost_message = gettext_lazy(
        "Someone else changed this %(name)s since you opened it, and %(fields)s can no longer "
        "be edited: your change to it is not saved. Save again to save the rest, or reload "
        "the page to see theirs."
    )
    kept_message = gettext_lazy(
        "Someone else changed %(fields)s since you opened this %(name)s, and you did not: "
        "their change is kept."
    )

    def __init__(self, *args, **kwargs) -> None:
        instance = kwargs.get("instance")
        if instance is not None and not instance._state.adding:
            lock_and_reread(instance)  # before the form reads its initial values from it
        super().__init__(*args, **kwargs)
        # Read before cleaning copies the user's input onto the instance.
        if not self.instance._state.adding:
            self.realtime_admin_inlines = shown_inlines(
                self.realtime_admin_model_admin, self.realtime_admin_request, self.instance
            )
            self.realtime_admin_version = version_of(
                self.realtime_admin_model_admin,
                self.realtime_admin_request,
                self.instance,
                self.initial,
                self.realtime_admin_inlines,
            )

    def full_clean(self) -> None:
        # A kept field is cleaned as a disabled one is, from the value saved now: the form's
        # own clean_<field>() and clean() see the merged values, and it is no change of this
        # user's (nor in changed_data, so the admin's history message leaves it out).
        # A field the user's page did not let them edit stays disabled: if the save fails,
        # the page it returns to shows its saved value, not an empty input (its page posted
        # nothing for it), and marks it read-only again (templatetags: _version).
        self.realtime_admin_merged = tuple(self.realtime_admin_merge() if self.is_bound else ())
        for name in self.realtime_admin_merged:
            self.fields[name].disabled = True
        try:
            super().full_clean()
        finally:
            for name in self.realtime_admin_kept:
                self.fields[name].disabled = False

    def clean(self) -> dict:
        # Added first: if the form's own clean() raises, the page it returns to has still
        # been told what it would overwrite.
        if self.realtime_admin_error is not None:
            self.add_error(None, self.realtime_admin_error)
        for name in self.realtime_admin_merged:
            # Exactly as saved (a disabled field's initial value lost its microseconds).
            field = self.instance._meta.get_field(name)
            if field.many_to_many:
                self.cleaned_data[name] = getattr(self.instance, name).all()
            else:
                self.cleaned_data[name] = getattr(self.instance, field.name)
        return super().clean()

    @property
    def changed_data(self) -> list[str]:
        # (Computed after cleaning, when the kept fields are no longer disabled.)
        return [name for name in super().changed_data if name not in self.realtime_admin_merged]

    def realtime_admin_merge(self) -> list[str]:
        """Sorts the parts someone else changed since the page was loaded into those this
        save keeps as saved now (returned) and those it would overwrite (an error unless
        the user was told of them)."""
        post = self.realtime_admin_request.POST
        posted = post.get(VERSION_FIELD)
        self.realtime_admin_carried, self.realtime_admin_told = posted, None
        self.realtime_admin_kept, self.realtime_admin_error = (), None
        current = self.realtime_admin_version
        if posted is None or current is None:
            return []
        try:
            loaded, shown_read_only = decode_marked(posted)
        except ValueError:
            # Carried on as it is: every save of this page is refused until it is reloaded.
            self.realtime_admin_error = ValidationError(
                gettext("This page's version marker is damaged: reload the page to edit."),
                code="realtime_admin_bad_version",
            )
            return []
        try:
            told = decode(post.get(TOLD_FIELD, ""))
        except ValueError:
            told = {}  # told nothing: asked again
        kept, unseen, overwritten, lost = [], [], [], []
        for name, digest in current.items():
            if not self.realtime_admin_writes(name):
                # Editable on the user's page, not now (get_readonly_fields depends on the
                # object, which someone else changed): their change to it would be dropped.
                if (
                    name in loaded
                    and name not in shown_read_only
                    and not is_inline(name)
                    and self.realtime_admin_lost_input_version(name) not in (None, loaded[name])
                ):
                    lost.append(name)
                continue
            if name not in loaded or name in shown_read_only:
                if not is_inline(name):
                    # Not on the page the user loaded, or not editable there: not posted.
                    unseen.append(name)
                continue
            if loaded[name] == digest:
                continue  # nobody else changed it
            if not is_inline(name):
                mine = self.realtime_admin_input_version(name)
                if mine in (None, loaded[name]):  # not posted, or left as loaded
                    kept.append(name)
                    continue
                if mine == digest:  # the same change as theirs
                    continue
            overwritten.append(name)
        self.realtime_admin_kept = tuple(kept)
        self.realtime_admin_told = encode({name: current[name] for name in overwritten + lost})
        errors = [
            self.realtime_admin_refusal(message, code, names, told, current)
            for message, code, names in (
                (self.conflict_message, "realtime_admin_conflict", overwritten),
                (self.lost_message, "realtime_admin_lost", lost),
            )
        ]
        if errors := [error for error in errors if error is not None]:
            self.realtime_admin_error = ValidationError(errors)
        return kept + unseen

    def realtime_admin_refusal(
        self, message: str, code: str, names: list[str], told: Version, current: Version
    ) -> ValidationError | None:
        """The error refusing this save once for ``names``: None if the user was told of
        each of them as they are now."""
        untold = [name for name in names if told.get(name) != current[name]]
        if not untold:
            return None
        parts = changes(
            self.realtime_admin_model_admin,
            self.realtime_admin_request,
            self.instance,
            untold,
            self.fields,
            self.realtime_admin_inlines,
        )
        fields = ", ".join(part["label"] for part in parts)
        return ValidationError(
            message,
            code=code,
            params={"name": self.instance._meta.verbose_name, "fields": fields},
        )

    def realtime_admin_writes(self, name: str) -> bool:
        """Whether this save writes the field (or the inline) ``name``."""
        if is_inline(name):
            inline = self.realtime_admin_inlines.get(name)
            return inline is not None and inline.editable(
                self.realtime_admin_request, self.instance
            )
        return form_writes(self, name)

    def realtime_admin_input_version(self, name: str) -> str | None:
        """The digest of the user's input for field ``name`` as the form would save it; None
        if the page did not post it; "" if it is not valid (then it is taken for a change)."""
        bound = self[name]
        return self.realtime_admin_digest_of(name, bound.field, bound.data, bound.initial)

    def realtime_admin_lost_input_version(self, name: str) -> str | None:
        """As ``realtime_admin_input_version``, for a field this form no longer has (it is
        read-only now): the user's input cleaned by the field the page had for it."""
        model_field = self.instance._meta.get_field(name)
        form_field = self.realtime_admin_model_admin.formfield_for_dbfield(
            model_field, request=self.realtime_admin_request
        )
        if form_field is None:
            return None
        data = form_field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
        initial = model_field.value_from_object(self.instance)
        return self.realtime_admin_digest_of(name, form_field, data, initial)

    def realtime_admin_digest_of(
        self, name: str, form_field: forms.Field, data: Any, initial: Any
    ) -> str | None:
        field = self.instance._meta.get_field(name)
        if form_field.widget.value_omitted_from_data(self.data, self.files, self.add_prefix(name)):
            return None
        try:
            if isinstance(form_field, forms.FileField):
                value = form_field.clean(data, initial)
            else:
                value = form_field.clean(data)
        except ValidationError:
            return ""
        if field.many_to_many:
            return _digest(sorted(str(getattr(item, "pk", item)) for item in value or ()))
        scratch = copy.copy(self.instance)  # (a copy of its field cache, too)
        field.save_form_data(scratch, value)
        return _digest(_saved(scratch, field))

    def realtime_admin_kept_message(self) -> str | None:
        """What to tell the user once this form's object is saved."""
        if not self.realtime_admin_kept:
            return None
        labels = [
            field_label(self.instance, name, self.fields.get(name))
            for name in self.realtime_admin_kept
        ]
        return self.kept_message % {
            "fields": ", ".join(labels),
            "name": self.instance._meta.verbose_name,
        }


def versioned(
    form_class: type[forms.ModelForm], model_admin: admin.ModelAdmin, request: HttpRequest
) -> type[forms.ModelForm]:
    """``form_class`` checking the version its page was loaded with."""
    return type(
        form_class.__name__,
        (VersionedForm, form_class),
        {"realtime_admin_model_admin": model_admin, "realtime_admin_request": request},
    )
