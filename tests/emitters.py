"""Real emitters' output (tests/data/emitters, see its README for where each sample comes
from): every sample of a family, or the one whose name starts so; and the ADL statement
templates, read from ../shared/data beside the checkout (never copied into it)."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

EMITTERS = Path(__file__).parent / "data" / "emitters"
ADL = Path(__file__).parents[2] / "shared" / "data" / "interop" / "adl-xapi-1.0.3"


def samples(family: str) -> dict[str, Any]:
    """Name -> body of every sample of an emitter family (e.g. `openedx_xapi`)."""
    found = json.loads((EMITTERS / f"{family}.json").read_text())["samples"]
    return {sample["name"]: sample["body"] for sample in found}


def named(family: str, start: str) -> Any:
    """A fresh copy of the one sample whose name starts so."""
    matches = [body for name, body in samples(family).items() if name.startswith(start)]
    assert len(matches) == 1, start
    return copy.deepcopy(matches[0])


def adl_statements() -> dict[str, Any]:
    """Name -> body of the ADL conformance suite's statement templates; the test is skipped,
    saying why, in a clone without ../shared beside it."""
    found = sorted((ADL / "statements").glob("*.json"))
    if not found:
        pytest.skip(f"the ADL templates are not at {ADL} (../shared/data beside the checkout)")
    return {path.stem: json.loads(path.read_text()) for path in found}
