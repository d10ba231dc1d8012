from collections import Counter

import pytest

from crysense.data.donateacry import NOT_CURATED, curated_stems, exclusion
from crysense.data.sources import SOURCES, _strip_take, iter_files, parse_donateacry, resolve

needs_data = pytest.mark.skipif(not all(s.available() for s in SOURCES.values()),
                                reason="shared data sources not found (see README, 'Data')")


def test_parse_donateacry_names():
    m = parse_donateacry("0c8f14a9-6999-485b-97a2-913c1cbf099c-1431028888092-1.7-m-26-hu.3gp")
    assert m["uuid"] == "0c8f14a9-6999-485b-97a2-913c1cbf099c" and m["reason"] == "hu"
    assert m["gender"] == "m" and m["age"] == "26"
    odd = parse_donateacry("CF7F6316-019B-4B3C-9EE1-A62EB5F1D0EE-1426957748.47029-1-"
                           "0911C8F7-99D0-4A44-BC34-894BA5D83032-f-26-ti.caf.caf")
    assert odd["uuid"] == "CF7F6316-019B-4B3C-9EE1-A62EB5F1D0EE" and odd["reason"] == "ti"
    assert parse_donateacry("not-a-donateacry-name.3gp") is None


def test_strip_take():
    assert _strip_take("Louise_01.m4a_3") == "Louise_01.m4a"
    assert _strip_take("damm_4") == "damm"
    assert _strip_take("traffichorns (1)") == "traffichorns"
    assert _strip_take("clnsp1059(1)") == "clnsp1059"
    assert _strip_take("screamwoman[1]") == "screamwoman"
    assert _strip_take("femaleScream-002") == "femaleScream-002"


@needs_data
def test_every_shared_file_is_labelled_as_sources_md_says():
    files = list(iter_files())
    by = Counter((f.source, f.label) for f in files)
    assert by[("donateacry", "crying")] == 712 + 416
    assert by[("esc50_subset", "crying")] + by[("esc50_subset", "normal")] == 414
    assert by[("fsdd", "normal")] == 1500
    assert by[("gtzan_music_speech", "normal")] == 64
    assert by[("giulbia_baby_cry", "crying")] == 108
    assert by[("scream_rohanmathur17", "screaming")] == 84   # positive + test_positive
    assert all(f.label in ("crying", "screaming", "normal") for f in files)
    assert all(resolve(f.rel_path) == f.path for f in files)
    reasons = Counter(f.reason for f in files if f.source == "donateacry")
    assert "" not in reasons and reasons["hungry"] > 0.6 * sum(reasons.values())


@needs_data
def test_groups_follow_the_units_that_must_not_be_split():
    files = list(iter_files())
    speakers = {f.group for f in files if f.source == "fsdd"}
    assert speakers == {f"fsdd:{s}" for s in ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")}
    uuid = {f.group for f in files if f.source == "donateacry"}
    assert len(uuid) < 1128 / 2   # many babies gave several recordings
    giulbia_esc = [f for f in files if f.source == "giulbia_baby_cry" and f.group.startswith("esc50:")]
    esc_groups = {f.group for f in files if f.source == "esc50_subset"}
    # every giulbia clip that esc50_subset also holds is left out, and shares its group
    dups = [f for f in giulbia_esc if f.exclude_reason]
    assert len(dups) == 26 and all(f.group in esc_groups for f in dups)
    homes = {f.group for f in files if f.source == "giulbia_baby_cry" and not f.group.startswith("esc50:")}
    assert {"giulbia:Louise_01.m4a", "giulbia:margot.m4a", "giulbia:silence.wav"} <= homes


@needs_data
def test_new_sources_follow_sources_md():
    files = list(iter_files(["speechocean762", "emogator", "scream_modern_noise", "scream_rohanmathur17"]))
    by_source = {name: [f for f in files if f.source == name] for name in ("speechocean762", "emogator", "scream_modern_noise")}
    speech = by_source["speechocean762"]
    assert len(speech) == 250 and len({f.group for f in speech}) == 250
    assert Counter(f.subcategory for f in speech) == {"child_speech": 104, "adult_speech": 146}
    bursts = by_source["emogator"]
    assert len(bursts) == 2142 and len({f.group for f in bursts}) == 357 and SOURCES["emogator"].join_short
    screams = by_source["scream_modern_noise"]
    assert len(screams) == 22 and {f.label for f in screams} == {"screaming"} and len({f.group for f in screams}) == 21
    # one Freesound uploader in both scream collections is one group
    reitanna = {f.source for f in files if f.group == "freesound_user:reitanna"}
    assert reitanna == {"scream_modern_noise", "scream_rohanmathur17"}


def test_donateacry_curation_rule():
    curated = frozenset({"a-hu", "b-dk"})
    assert exclusion("a-hu", "hu", curated) == "" and exclusion("b-dk", "dk", curated) == ""
    assert exclusion("c-hu", "hu", None) == ""   # no curated list: every upload counts
    assert exclusion("c-hu", "hu", curated).endswith("removed there as a non-cry by listening")
    assert "tag 'lo' removed there unheard" in exclusion("d-lo", "lo", curated)
    assert all(exclusion("x", tag, curated).startswith(NOT_CURATED) for tag in ("hu", "sc"))


@needs_data
def test_only_uploads_upstream_kept_are_crying():
    files = list(iter_files(["donateacry"]))
    kept = {f.path.stem for f in files if not f.exclude_reason}
    assert kept == set(curated_stems(SOURCES["donateacry"].root)) and len(kept) == 457
    left = Counter(f.exclude_reason.split(": ")[1][:12] for f in files if f.exclude_reason)
    assert left == {"removed ther": 439, "tag 'dk' rem": 194, "tag 'lo' rem": 23, "tag 'sc' rem": 15}
