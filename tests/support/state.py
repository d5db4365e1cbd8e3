"""What the application holds, read back for assertions: an aggregate's state, the last
sequence recorded, a raised error's code."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.application.app import Switchyard
from switchyard.domain.errors import SwitchyardError


def public_state(aggregate: Any) -> dict[str, Any]:
    """An aggregate's attributes, without the library's list of unsaved events."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def last_sequence(app: Switchyard) -> int:
    """The highest notification id recorded so far (0 when nothing is)."""
    return app.recorder.max_notification_id() or 0


def code_of(exc_info: pytest.ExceptionInfo[SwitchyardError]) -> str:
    """The machine code of a raised switchyard error."""
    return exc_info.value.code
