"""One typed reader of environment variables.

Every setting the product reads from the environment goes through `Env`, so that the
README's configuration table, the production refusal and the tests all see one list.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from dataclasses import dataclass, field


class MissingSetting(RuntimeError):
    """A variable that production requires is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(f"The environment variable {name} must be set in production.")
        self.name = name


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass
class Env:
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    production: bool = False

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return None if value is None else value.strip()

    # The methods below `str` spell the type `builtins.str`: in the class body `str` is this method.
    def str(self, name: str, default: str | None = None, *, dev_default: str | None = None) -> str:
        """A string; `dev_default` is used only outside production, where the variable is required."""
        value = self._raw(name)
        if value:
            return value
        if default is not None:
            return default
        if dev_default is not None and not self.production:
            return dev_default
        raise MissingSetting(name)

    def optional(self, name: builtins.str) -> builtins.str | None:
        return self._raw(name) or None

    def bool(self, name: builtins.str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {value!r}.")

    def int(self, name: builtins.str, default: int) -> int:
        value = self._raw(name)
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, not {value!r}.") from None

    def list(self, name: builtins.str, default: list[builtins.str] | None = None) -> list[builtins.str]:
        value = self._raw(name)
        if not value:
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]
