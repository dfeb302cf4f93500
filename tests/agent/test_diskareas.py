"""Disk use by area from /system/df documents: decoding and the docker CLI's (20.10)
rules for counts, active counts, sizes and reclaimable sizes. Pure functions."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.diskdocs import usage

from watchdog_agent.agent.diskareas import areas, percent
from watchdog_agent.docker.decode import disk_usage_from_json
from watchdog_agent.errors import ParseError


def test_decode_keeps_docker_values_and_reads_minus_one_as_unknown() -> None:
    du = usage()
    assert du.layers_size == 10_000 and du.sampled_at == 1_800_000_000.0
    assert du.images[1].repo_tags == ("<none>:<none>",) and du.images[2].repo_tags == ()
    assert du.images[2].shared_size is None and du.images[0].size == 6_000
    assert du.containers[0].names == ("up",)
    assert du.containers[0].local_volumes == 1 and du.containers[4].size_rw is None
    assert du.volumes[2].size is None and du.volumes[2].links is None
    assert du.build_cache[0].last_used is None and du.build_cache[1].usage_count == 4
    assert du.build_cache[1].created == 1_796_032_800.5


def test_areas_follow_the_docker_cli() -> None:
    images, containers, volumes, cache = areas(usage())
    # images: LayersSize; used = (6000-2000) of the image with containers; the third
    # image has containers but an unknown shared size: skipped, as the CLI skips it
    assert (images.total, images.active, images.size) == (3, 2, 10_000)
    assert (images.reclaimable, images.reclaimable_percent) == (6_000, 60)
    # containers: running, paused, restarting are active; the rest is reclaimable
    assert (containers.total, containers.active, containers.size) == (5, 3, 1_050)
    assert (containers.reclaimable, containers.reclaimable_percent) == (900, 85)
    # volumes: unknown sizes left out, links > 0 active
    assert (volumes.total, volumes.active, volumes.size) == (3, 1, 5_000)
    assert (volumes.reclaimable, volumes.reclaimable_percent) == (1_000, 20)
    # build cache: shared records are not counted; in use and not shared is not reclaimable
    assert (cache.total, cache.active, cache.size) == (3, 2, 1_000)
    assert (cache.reclaimable, cache.reclaimable_percent) == (300, None)
    assert [a.type for a in areas(usage())] == ["images", "containers", "volumes", "build_cache"]


def test_empty_engine_and_null_lists() -> None:
    doc = {"LayersSize": 0, "Images": [], "Containers": [], "Volumes": None, "BuildCache": None}
    for area in areas(usage(doc)):
        assert (area.total, area.active, area.size, area.reclaimable) == (0, 0, 0, 0)
        assert area.reclaimable_percent is None  # docker prints no percentage for 0


def test_percent_is_go_integer_division() -> None:
    assert percent(2, 3) == 66 and percent(0, 5) == 0 and percent(5, 0) is None
    assert percent(-1, 300) == 0 and percent(-1, 3) == -33  # truncated toward zero


@pytest.mark.parametrize(
    "doc",
    [[], {"Images": {}}, {"Images": [{"Id": 3}]}, {"Volumes": [{"UsageData": {}}]},
     {"Containers": [{"Id": "x", "SizeRw": "big"}]}, {"BuildCache": [{"ID": "y", "InUse": 1}]}],
)  # fmt: skip
def test_malformed_documents_are_parse_errors(doc: Any) -> None:
    with pytest.raises(ParseError):
        disk_usage_from_json(doc, 0.0, 0.0)
