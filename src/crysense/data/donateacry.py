"""Donate-a-Cry's file names and its upstream curation: which uploads count as crying.

The app recorded whenever a parent pressed the button, so many uploads hold speech, babble or room noise and no
cry. Upstream's curated release (``cleaned_subset.txt``, README.cleaned.upstream.md) listened to the uploads of five
reasons and removed every non-cry, and removed three other reasons by tag, unheard. Only the uploads it kept are
labelled crying (``config.DONATEACRY_CURATED_ONLY``); notebook 02's label audit measures what the others hold.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

DONATEACRY_NAME = re.compile(
    # the middle is loose on purpose: two iOS uploads carry a second UUID there and a doubled '.caf'
    r"^(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})-(?P<time>[\d.]+)"
    r"-.*-(?P<gender>[mf])-(?P<age>\d+)-(?P<reason>[a-z]{2})$")


def parse_donateacry(name: str) -> dict | None:
    """'<uuid>-<unix-time>-<app-version>-<gender>-<age>-<reason>.<ext>' -> its fields (None if not)."""
    m = DONATEACRY_NAME.match(re.sub(r"(\.(3gp|caf))+$", "", name))
    return m.groupdict() if m else None


CURATED_LIST = "cleaned_subset.txt"   # upstream's curated release: './<reason>/<stem>.wav' per line
UNHEARD_REASONS = ("lo", "sc", "dk")   # removed upstream by tag, without listening
NOT_CURATED = "not in upstream's curated release"   # every curation reason in the quarantine starts so


@functools.lru_cache(maxsize=None)
def curated_stems(root: Path) -> frozenset[str] | None:
    """File stems of the uploads upstream's curators kept (None when the list is absent: every upload counts)."""
    f = root / CURATED_LIST
    if not f.exists():
        return None
    return frozenset(Path(line.strip()).stem for line in f.read_text().splitlines() if line.strip())


def exclusion(stem: str, reason_tag: str, curated: frozenset[str] | None) -> str:
    """Why an upload is not labelled crying ('' if it is, or if there is no curated list)."""
    if curated is None or stem in curated:
        return ""
    if reason_tag in UNHEARD_REASONS:
        return f"{NOT_CURATED}: tag '{reason_tag}' removed there unheard (no listener checked a cry)"
    return f"{NOT_CURATED}: removed there as a non-cry by listening"
