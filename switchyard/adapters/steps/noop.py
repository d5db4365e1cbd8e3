"""The `noop` step: does nothing, for benchmarks and tests of the engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchyard.application.ports import StepContext
from switchyard.domain.values import StepDefinition


class Noop:
    """A step that succeeds at once and has nothing to undo."""

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Do nothing; record nothing."""
        return {}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Nothing to undo."""
