"""The data sources registry: where each source lives, where it comes from, its license, and how a
file path maps to label, cry reason and group (the unit never split across train/val/test).

The local mirror of a source is ``$CRYSENSE_DATA/<name>`` (default ``../shared/data/<name>``), or
``$CRYSENSE_DATA_<NAME>`` for one source. Users online can fetch each source from ``url``.
"""
from __future__ import annotations

import csv
import dataclasses
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

from ..config import CRY_REASONS, DONATEACRY_CURATED_ONLY, data_dir, shown
from . import donateacry
from .donateacry import parse_donateacry

AUDIO_SUFFIXES = {".wav", ".flac", ".3gp", ".caf", ".mp3", ".ogg", ".m4a", ".aac"}
ESC50_NAME = re.compile(r"^(?P<fold>\d)-(?P<src>[0-9A-Za-z]+)-(?P<take>[A-Z])(?:-(?P<target>\d+))?$")


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One recording of a source, labelled by the source's rules."""

    path: Path                 # absolute path of the local file
    rel_path: str              # "<source>/<path inside the source>", the manifest's file_path
    source: str
    label: str                 # crying | screaming | normal
    group: str                 # never split across train / val / test
    subcategory: str = ""
    reason: str = ""           # cry reason (donateacry), else ""
    exclude_reason: str = ""   # non-empty: left out of the manifest, recorded in the quarantine


@dataclasses.dataclass(frozen=True)
class Source:
    name: str
    url: str
    license: str
    description: str
    labeler: Callable[["Source", Path], SourceFile | None]
    join_short: bool = False   # short utterances of one group are joined into clips (see manifest)
    # sources that may hold the same recordings under other names and encodings: the manifest compares
    # decoded audio and keeps the earlier source's copy
    same_recordings_as: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        override = os.environ.get(f"CRYSENSE_DATA_{self.name.upper()}")
        return Path(override) if override else data_dir() / self.name

    def available(self) -> bool:
        return self.root.is_dir()

    def audio_paths(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())

    def files(self) -> Iterator[SourceFile]:
        for path in self.audio_paths():
            item = self.labeler(self, path)
            if item is not None:
                yield item

    def make(self, path: Path, **kw) -> SourceFile:
        rel = path.relative_to(self.root).as_posix()
        return SourceFile(path=path, rel_path=f"{self.name}/{rel}", source=self.name, **kw)


# --- label rules, one per source -------------------------------------------------------------------


def _donateacry(src: Source, path: Path) -> SourceFile | None:
    meta = parse_donateacry(path.name)
    if meta is None or meta["reason"] not in CRY_REASONS:
        return src.make(path, label="crying", group=f"donateacry:{path.stem}", subcategory="infant_cry",
                        exclude_reason="file name does not follow <uuid>-<time>-<version>-<g>-<age>-<reason>")
    curated = donateacry.curated_stems(src.root) if DONATEACRY_CURATED_ONLY else None
    return src.make(path, label="crying", group=f"donateacry:{meta['uuid'].lower()}",
                    subcategory="infant_cry", reason=CRY_REASONS[meta["reason"]],
                    exclude_reason=donateacry.exclusion(path.stem, meta["reason"], curated))


def _esc50_group(src_file: str) -> str:
    # shared by esc50_subset and the ESC-50 clips inside giulbia_baby_cry: one src_file, one group
    return f"esc50:{src_file}"


def _strip_take(stem: str) -> str:
    """'Louise_01.m4a_3' -> 'Louise_01.m4a'; 'damm_4' -> 'damm'; 'traffichorns (1)' -> 'traffichorns'."""
    stem = re.sub(r"\s*[\(\[]\d+[\)\]]$", "", stem)
    return re.sub(r"_\d+$", "", stem)


GIULBIA_FOLDERS = {
    "301 - Crying baby": ("crying", "infant_cry"),
    "901 - Silence": ("normal", "room_tone"),
    "902 - Noise": ("normal", "noise"),
    "903 - Baby laugh": ("normal", "baby_laugh"),
}


def _giulbia(src: Source, path: Path) -> SourceFile | None:
    label, sub = GIULBIA_FOLDERS[path.parent.name]
    m = ESC50_NAME.match(path.stem)
    if m:
        key = f"{m['fold']}-{m['src']}-{m['take']}"
        dup = ESC50.esc50_names().get(key) if ESC50.available() else None
        return src.make(path, label=label, subcategory=sub, group=_esc50_group(m["src"]),
                        exclude_reason=f"duplicate of {dup} (same ESC-50 clip, other encoding)" if dup else "")
    return src.make(path, label=label, subcategory=sub, group=f"giulbia:{_strip_take(path.stem)}")


class _Esc50Meta:
    """ESC-50 metadata (meta/esc50.csv) of the subset present locally."""

    def __init__(self, source_name: str):
        self.source_name = source_name

    @property
    def source(self) -> Source:
        return SOURCES[self.source_name]

    def available(self) -> bool:
        return (self.source.root / "meta" / "esc50.csv").exists()

    @cached_property
    def rows(self) -> dict[str, dict]:
        with open(self.source.root / "meta" / "esc50.csv", newline="") as f:
            return {Path(r["filename"]).stem: r for r in csv.DictReader(f)}

    def esc50_names(self) -> dict[str, str]:
        """'<fold>-<src>-<take>' -> manifest path of that clip in the subset."""
        out, root = {}, self.source.root   # the root once: resolving it per file took most of a manifest build
        for p in self.source.audio_paths():
            m = ESC50_NAME.match(p.stem)
            if m:
                out[f"{m['fold']}-{m['src']}-{m['take']}"] = f"{self.source_name}/{p.relative_to(root).as_posix()}"
        return out


ESC50 = _Esc50Meta("esc50_subset")


def _esc50(src: Source, path: Path) -> SourceFile | None:
    row = ESC50.rows.get(path.stem)
    if row is None:
        return src.make(path, label="normal", group=f"esc50:{path.stem}",
                        exclude_reason="not listed in meta/esc50.csv")
    label = "crying" if row["category"] == "crying_baby" else "normal"
    return src.make(path, label=label, group=_esc50_group(row["src_file"]), subcategory=row["category"])


SCREAM_FOLDERS = {
    "positive": ("screaming", "scream"),
    "test_positive": ("screaming", "scream"),
    "negative": ("normal", "non_scream_vocal"),
    "atmospheric_data": ("normal", "street_ambience"),
}


FREESOUND_NAME = re.compile(r"^(?P<id>\d+)__(?P<uploader>[^_].*?)__")   # Freesound '<id>__<uploader>__<title>'


def _freesound_group(stem: str) -> str | None:
    """The uploader of a Freesound download: one person's uploads (often one voice) stay in one split, and
    the same upload reposted by two collections lands in the same group."""
    m = FREESOUND_NAME.match(stem)
    return f"freesound_user:{m['uploader'].lower()}" if m else None


def _scream(src: Source, path: Path) -> SourceFile | None:
    label, sub = SCREAM_FOLDERS[path.parent.name]
    group = _freesound_group(path.stem) or f"scream:{_strip_take(path.stem)}"
    return src.make(path, label=label, subcategory=sub, group=group)


def _modern_noise(src: Source, path: Path) -> SourceFile | None:
    return src.make(path, label="screaming", subcategory="scream",
                    group=_freesound_group(path.stem) or f"modern_noise:{path.stem}")


def _gtzan(src: Source, path: Path) -> SourceFile | None:
    sub = {"speech_wav": "speech", "music_wav": "music"}[path.parent.name]
    return src.make(path, label="normal", subcategory=sub, group=f"gtzan:{sub}/{path.stem}")


def _fsdd(src: Source, path: Path) -> SourceFile | None:
    digit, speaker, take = path.stem.split("_")
    return src.make(path, label="normal", subcategory="speech_8khz", group=f"fsdd:{speaker}")


class _SpeechoceanAges:
    """Speaker ages from speechocean762's ``train/spk2age`` and ``test/spk2age`` (speaker id -> years)."""

    @cached_property
    def ages(self) -> dict[str, int]:
        out = {}
        for part in ("train", "test"):
            f = SOURCES["speechocean762"].root / part / "spk2age"
            if f.exists():
                for line in f.read_text().split("\n"):
                    if line.strip():
                        spk, age = line.split()
                        out[spk] = int(age)
        return out


SPEECHOCEAN_AGES = _SpeechoceanAges()
CHILD_MAX_AGE = 12   # speechocean762 calls speakers of 12 or under children


def _speechocean(src: Source, path: Path) -> SourceFile | None:
    speaker = path.parent.name.removeprefix("SPEAKER")
    age = SPEECHOCEAN_AGES.ages.get(speaker)
    if age is None:
        return src.make(path, label="normal", group=f"speechocean:{speaker}", subcategory="speech",
                        exclude_reason="speaker not listed in spk2age")
    sub = "child_speech" if age <= CHILD_MAX_AGE else "adult_speech"
    return src.make(path, label="normal", group=f"speechocean:{speaker}", subcategory=sub)


EMOGATOR_NAME = re.compile(r"^(?P<contributor>\d{6})-(?P<category>\d{2})-(?P<take>\d)$")
EMOGATOR_CATEGORIES = {"02": "amusement", "05": "confusion", "09": "disappointment", "10": "disgust",
                       "18": "neutral", "22": "relief"}


def _emogator(src: Source, path: Path) -> SourceFile | None:
    m = EMOGATOR_NAME.match(path.stem)
    if m is None or m["category"] not in EMOGATOR_CATEGORIES:
        return src.make(path, label="normal", group=f"emogator:{path.stem}", subcategory="vocal_burst",
                        exclude_reason="file name is not NNNNNN-EE-I of a kept category")
    # one contributor's bursts are joined into clips (as FSDD's digits), so the sub-category names the kind
    return src.make(path, label="normal", group=f"emogator:{m['contributor']}", subcategory="vocal_burst")


SOURCES: dict[str, Source] = {s.name: s for s in [
    Source("donateacry", "https://github.com/gveres/donateacry-corpus",
           "ODbL 1.0 (database), DbCL 1.0 (contents)",
           "Donate-a-Cry app uploads (Android 3gp/AMR, iOS caf), 8 kHz phone audio, ~7 s each",
           _donateacry),
    Source("giulbia_baby_cry", "https://github.com/giulbia/baby_cry_detection", "CC BY-NC 3.0",
           "baby cry / laugh / room tone / noise, 5 s clips from ESC-50, Freesound and home recordings",
           _giulbia),
    Source("scream_rohanmathur17", "https://github.com/RohanMathur17/Scream_Detection",
           "per Freesound clip (CC0 / CC BY / CC BY-NC)",
           "screams, non-scream vocal sounds, street ambience (Freesound clips)", _scream,
           same_recordings_as=("scream_rohanmathur17",)),
    Source("esc50_subset", "https://github.com/karolpiczak/ESC-50", "CC BY-NC 3.0",
           "ESC-50 environmental sounds, 414 of 2000 clips, 5 s", _esc50),
    Source("gtzan_music_speech", "http://marsyas.info/downloads/datasets.html", "research use",
           "GTZAN music/speech: first 15 s of 32 speech and 32 music tracks", _gtzan),
    Source("fsdd", "https://github.com/Jakobovski/free-spoken-digit-dataset", "CC BY-SA 4.0",
           "Free Spoken Digit Dataset: 8 kHz spoken digits, 6 speakers, ~0.5 s each", _fsdd,
           join_short=True),
    Source("speechocean762", "https://github.com/jimbozhang/speechocean762",
           "free for commercial and non-commercial use (upstream README)",
           "English read aloud by 250 Mandarin speakers (104 children of 12 or under), one ~3 s take each, "
           "16 kHz room recordings", _speechocean),
    Source("emogator", "https://github.com/fredbuhl/EmoGator", "Apache-2.0",
           "adult non-speech vocal bursts (laughs, sighs, groans, ...) of 357 contributors, 6 categories, "
           "0.4-2 s each, recorded on their own computers", _emogator, join_short=True),
    Source("scream_modern_noise", "https://github.com/rowan-m/modern-noise",
           "per Freesound clip (the upstream README lists each clip's page)",
           "22 screams (women, men, a boy) from 21 Freesound uploaders, 0.9-7 s", _modern_noise,
           same_recordings_as=("scream_rohanmathur17",)),
]}


def resolve(file_path: str) -> Path:
    """Manifest ``file_path`` ('<source>/<path>') -> local path of that file."""
    name, _, rest = file_path.partition("/")
    return SOURCES[name].root / rest


def iter_files(names=None) -> Iterator[SourceFile]:
    for name in names or SOURCES:
        src = SOURCES[name]
        if not src.available():
            raise FileNotFoundError(f"data source {name!r} not found at {src.root} "
                                    f"(download it from {src.url} or set CRYSENSE_DATA / CRYSENSE_DATA_{name.upper()})")
        yield from src.files()


def sources_table():
    """Every source with its local mirror (as reports show paths: relative to the repository), public origin and
    licence."""
    import pandas as pd
    return pd.DataFrame([{"source": s.name, "local path": shown(s.root), "available": s.available(),
                          "url": s.url, "license": s.license, "description": s.description}
                         for s in SOURCES.values()])
