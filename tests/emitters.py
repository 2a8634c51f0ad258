"""Real emitters' output (tests/data/emitters, see its README for where each sample comes
from): every sample of a family, or the one whose name starts so."""

import copy
import json
from pathlib import Path
from typing import Any

EMITTERS = Path(__file__).parent / "data" / "emitters"


def samples(family: str) -> dict[str, Any]:
    """Name -> body of every sample of an emitter family (e.g. `openedx_xapi`)."""
    found = json.loads((EMITTERS / f"{family}.json").read_text())["samples"]
    return {sample["name"]: sample["body"] for sample in found}


def named(family: str, start: str) -> Any:
    """A fresh copy of the one sample whose name starts so."""
    matches = [body for name, body in samples(family).items() if name.startswith(start)]
    assert len(matches) == 1, start
    return copy.deepcopy(matches[0])
