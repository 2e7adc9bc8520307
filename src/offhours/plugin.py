"""What sources and notifiers have in common, and what their config models are made of.

A plugin is one class, found by the word users write (``type = "…"``, see
:mod:`offhours.registry`). It carries:

- ``type``: that word;
- ``config_model``: the pydantic model (a :class:`PluginConfig`) that validates its table. This
  is the only validation its settings get: the constructor, called with ``name`` plus the
  model's other fields (each :data:`SecretReference` resolved into a
  :class:`~offhours.secrets.Secret`), may trust them;
- :meth:`Plugin.iam_statements`: the AWS permissions it needs, for the deployed role.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from offhours.secrets import SecretRef, wildcard_in

__all__ = [
    "SECRET",
    "Plugin",
    "PluginConfig",
    "SecretReference",
    "SourceConfig",
    "secret_fields",
]


class _SecretMarker:
    """Metadata that marks a string field as a secret reference."""


SECRET = _SecretMarker()


def _check_ref(value: str, info: ValidationInfo) -> str:
    allow = bool((info.context or {}).get("allow_plaintext"))
    try:
        ref = SecretRef.parse(value, where="", allow_plaintext=allow)
    except ValueError as exc:
        raise PydanticCustomError("secret_reference", str(exc)) from None
    if wildcard_in(ref):
        # IAM reads * and ? as wildcards: deploy would grant reading every match.
        raise PydanticCustomError(
            "secret_reference",
            f"{ref} holds a wildcard (* or ?), which would let the function read every "
            "matching parameter or secret; name exactly one",
        )
    return value


#: a config field holding a secret reference (never the value): resolved before the plugin is
#: built, which then receives a :class:`~offhours.secrets.Secret`
SecretReference = Annotated[
    str,
    AfterValidator(_check_ref),
    SECRET,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^(env|file|kms|ssm|secretsmanager):.+",
            "description": (
                "A secret reference: env:NAME, file:PATH, kms:CIPHERTEXT, ssm:/NAME or "
                "secretsmanager:NAME[#KEY] (never the value itself)."
            ),
        }
    ),
]


def secret_fields(model: type[BaseModel]) -> list[str]:
    """Names of the fields of ``model`` that hold secret references."""
    return [n for n, f in model.model_fields.items() if any(m is SECRET for m in f.metadata)]


class PluginConfig(BaseModel):
    """Fields every source and notifier table has; the rest go to the plugin's constructor.

    A plugin's model derives from this one and narrows ``type`` to its word
    (``type: Literal["ravello"]``), so the JSON Schema can tell the tables apart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    name: str | None = Field(None, description="Unique name; defaults to the type")

    #: fields that configure offhours itself rather than the plugin's constructor
    _common: ClassVar[frozenset[str]] = frozenset({"type", "name"})

    def display_name(self) -> str:
        return self.name or self.type

    def plugin_kwargs(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in type(self).model_fields if k not in self._common}

    def runtime_table(self, table: Mapping[str, Any]) -> dict[str, Any]:
        """``table`` as a deployed function is given it: as written, unless the plugin read a
        file at load time whose content must then travel inline."""
        return dict(table)


class SourceConfig(PluginConfig):
    """The base of a source's config model (nothing more than :class:`PluginConfig` yet)."""


# Spelled here because the class attribute ``type`` shadows the builtin inside Plugin's body.
_Model: TypeAlias = type[PluginConfig]


class Plugin(ABC):  # a base without abstract methods: Source and Notifier add theirs
    """A source or notifier, chosen by the word users write as ``type = "…"``."""

    type: ClassVar[str] = ""
    #: validates the plugin's table; set by every registered plugin
    config_model: ClassVar[_Model]

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def iam_statements(
        cls, options: Mapping[str, Any], region: str, account: str
    ) -> list[dict[str, Any]]:
        """IAM policy statements this plugin needs on AWS (for the Lambda role): none by
        default. ``options`` are its table's settings (secrets still as references)."""
        return []

    @classmethod
    def worst_case_seconds(cls, options: Mapping[str, Any]) -> float:
        """The longest its work can take with these settings (its table's values): a source's
        ``collect()``, a notifier's send of one message; 0 if unknown. ``offhours check``
        compares the sum with the Lambda timeout."""
        return 0.0
