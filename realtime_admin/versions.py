"""What an object's change form shows of it, as a version: for each model field the viewer's
fieldsets show, a short digest of its saved value.

The change form carries the version it was loaded with. Comparing it with the object's
version now tells which fields someone else changed: for the "changed by someone else"
banner (views.object_status) and for the check before a save overwrites them (VersionedForm).
No field is added to the user's models.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import display_for_value, flatten_fieldsets
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy

VERSION_FIELD = "_realtime_admin_version"  # the hidden input of a live change form
MAX_VERSION_LENGTH = 16 * 1024

Version = dict[str, str]  # field name -> digest of its saved value


def shown_fields(
    model_admin: admin.ModelAdmin, request: HttpRequest, obj: models.Model
) -> list[models.Field]:
    """The model fields of ``obj`` that the viewer's change form shows (editable or read
    only); form-only fields and callables have no saved value to compare."""
    fields = []
    for name in flatten_fieldsets(model_admin.get_fieldsets(request, obj)):
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.concrete or field.many_to_many:
            fields.append(field)
    return fields


def _saved(obj: models.Model, field: models.Field) -> Any:
    if field.many_to_many:
        return sorted(str(related.pk) for related in field.value_from_object(obj))
    value = field.value_from_object(obj)
    if isinstance(value, datetime.datetime | datetime.time):
        # The admin's widgets show and save whole seconds: a save through any change form
        # drops the microseconds, which is no change anyone could see or overwrite.
        value = value.replace(microsecond=0)
    return value


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=5).hexdigest()


def version_of(model_admin: admin.ModelAdmin, request: HttpRequest, obj: models.Model) -> Version:
    return {
        field.name: _digest(_saved(obj, field)) for field in shown_fields(model_admin, request, obj)
    }


def encode(version: Version) -> str:
    return ",".join(f"{name}:{digest}" for name, digest in version.items())


def decode(text: str) -> Version:
    """The version a form was loaded with, from its hidden input; ValueError if damaged."""
    if len(text) > MAX_VERSION_LENGTH:
        raise ValueError("version too long")
    version = {}
    for part in filter(None, text.split(",")):
        name, _, digest = part.partition(":")
        if not (name.isidentifier() and len(digest) == 10 and digest.isalnum()):
            raise ValueError(f"bad version part {part!r}")
        version[name] = digest
    return version


def changed_fields(loaded: Version, current: Version) -> list[str]:
    """The fields shown both then and now whose saved value differs."""
    return [name for name, digest in current.items() if loaded.get(name, digest) != digest]


def label_of(obj: models.Model, name: str) -> str:
    return capfirst(obj._meta.get_field(name).verbose_name)


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


class VersionedForm(forms.ModelForm):
    """Mixed into a change form's class when the POST carries the version the form was
    loaded with: saving over fields someone else changed since then is refused once, with
    the user's input kept; saving again (now with the new version) overwrites them.

    The check compares what was read at the start of this request with what the user loaded,
    inside the admin's transaction; it is a warning between humans, not a lock."""

    realtime_admin_model_admin: admin.ModelAdmin
    realtime_admin_request: HttpRequest
    conflict_message = gettext_lazy(
        "Someone else changed this %(name)s since you opened it: %(fields)s. Your changes are "
        "not saved yet. Save again to overwrite theirs, or reload the page to see them."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Read before cleaning copies the user's input onto the instance.
        self.realtime_admin_version = (
            None
            if self.instance._state.adding
            else version_of(
                self.realtime_admin_model_admin, self.realtime_admin_request, self.instance
            )
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        posted = self.realtime_admin_request.POST.get(VERSION_FIELD)
        if posted is None or self.realtime_admin_version is None:
            return cleaned
        try:
            loaded = decode(posted)
        except ValueError:
            raise ValidationError(
                gettext("This page's version marker is damaged: reload the page to edit."),
                code="realtime_admin_bad_version",
            ) from None
        overwritten = [
            name
            for name in changed_fields(loaded, self.realtime_admin_version)
            if name in self.fields
        ]
        if overwritten:
            labels = [
                str(self.fields[name].label or label_of(self.instance, name))
                for name in overwritten
            ]
            raise ValidationError(
                self.conflict_message,
                code="realtime_admin_conflict",
                params={"name": self.instance._meta.verbose_name, "fields": ", ".join(labels)},
            )
        return cleaned


def versioned(
    form_class: type[forms.ModelForm], model_admin: admin.ModelAdmin, request: HttpRequest
) -> type[forms.ModelForm]:
    """``form_class`` checking the version its page was loaded with."""
    return type(
        form_class.__name__,
        (VersionedForm, form_class),
        {"realtime_admin_model_admin": model_admin, "realtime_admin_request": request},
    )
