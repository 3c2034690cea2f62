"""One alert as the back end logs and sends it (a leaf: the alert log and the DUIS renderer both use it)."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Alert:
    seq: int
    time: float  # rig clock
    family: str  # "dcc" | "device"
    code: str  # "N63", "N60", "0x8F8A", …
    device: str | None  # hub-form EUI of the device the alert is about
    request_id: str | None
    recipients: tuple[str, ...]
    fields: dict[str, Any]
    late: bool  # from an attempt that was no longer In Progress (not counted for the new attempt)
    dedup_key: str

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["recipients"] = list(self.recipients)
        return d


def device_code(code: int) -> str:
    return f"0x{code:04X}"
