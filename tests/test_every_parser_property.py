"""Every parser in the package has a property test: this lists the parsing functions of
every module (by name: ``parse_*``, ``decode_*``, ``split_*``, ``*_from_*``, classes
named ``*Decoder``/``*Demuxer``/``*Parser``, and ``parse`` methods) and fails when one is
neither in PROPERTY_TESTS (which names the hypothesis module that covers it, and that
module must use it) nor in NOT_PARSERS (with the reason). Parsers whose names do not
say so (Accept negotiation, query flags, settings) are listed in PROPERTY_TESTS too."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import watchdog_agent

TESTS = Path(__file__).parent
PARSER_NAME = re.compile(r"^(parse|decode|split)(_|$)|_from_")
PARSER_CLASS = re.compile(r"(Decoder|Demuxer|Parser)$")

_CGROUP = "collectors/test_parsers_property.py"  # also test_parsers_invariants_property.py
PROPERTY_TESTS: dict[str, str] = {
    **{f"collectors.parse_cgroup.{n}": _CGROUP for n in (
        "parse_blkio_ops", "parse_cpu_max", "parse_flat_keyed", "parse_int", "parse_int_list",
        "parse_io_stat", "parse_key", "parse_limit", "parse_pid_list", "parse_pressure",
        "parse_v1_limit", "parse_v1_quota")},
    **{f"collectors.parse_proc.{n}": _CGROUP for n in (
        "parse_cmdline", "parse_net_dev", "parse_pid_cgroup", "parse_pid_stat",
        "parse_pid_status", "parse_proc_stat")},
    "collectors.cgroupfs.Layout.location_from_lines":
        "collectors/test_parsers_invariants_property.py",
    "collectors.hostparse.parse_loadavg": "collectors/test_hostparse_property.py",
    "collectors.hostparse.parse_os_release": "collectors/test_hostparse_property.py",
    "collectors.hostparse.one_line": "collectors/test_hostparse_property.py",
    "collectors.hostparse.cpu_percent": "collectors/test_hostparse_property.py",
    "commands.logs.LogsQuery.parse": "events/test_timeparse_property.py",
    "config.parse_listen": "test_config_property.py",
    "config.load_settings": "test_config_property.py",
    "config.read_config_file": "test_config_property.py",
    **{f"docker.decode.{n}": "docker/test_decode_property.py" for n in (
        "container_from_inspect", "container_from_summary", "daemon_info_from_json",
        "disk_usage_from_json", "event_from_json", "parse_rfc3339")},
    "docker.engine.decode_json": "docker/test_decode_property.py",
    "docker.engine.version_key": "docker/test_decode_property.py",
    "docker.lite.parse_response": "wire/test_wire_property.py",
    "docker.logframes.Demuxer": "docker/test_logframes_fuzz.py",
    "docker.logframes.LogDecoder": "docker/test_logframes_fuzz.py",
    "docker.logframes.split_timestamp": "wire/test_wire_property.py",
    "events.filters.parse_filters": "events/test_filters_property.py",
    "events.filters.familiar_name": "events/test_filters_property.py",
    "events.render.compile_template": "wire/test_wire_property.py",
    "events.timeparse.parse_time": "events/test_timeparse_property.py",
    "events.timeparse.parse_window": "events/test_timeparse_property.py",
    "events.timeparse.to_docker_since": "events/test_timeparse_property.py",
    "exporter.exposition.negotiate": "server/test_params_property.py",
    "inventory.psfilter.parse_ps_filters": "inventory/test_psfilter_property.py",
    "inventory.sources.parse_filters": "inventory/test_psfilter_property.py",
    "server.page.prefers_html": "server/test_params_property.py",
    "server.params.count": "server/test_params_property.py",
    "server.params.flag": "server/test_params_property.py",
    "server.params.wants_sse": "server/test_params_property.py",
    "server.routes_logs.parse_query": "server/test_params_property.py",
    "tui.rowfilter.parse_filter": "inventory/test_psfilter_property.py",
    "tui.screens.events.split_filters": "inventory/test_psfilter_property.py",
    **{f"wire.fromjson.{n}": "wire/test_wire_property.py" for n in (
        "parse_time", "process_from_json", "ref_from_json", "stats_from_json",
        "unreadable_from_json")},
}  # fmt: skip
NOT_PARSERS: dict[str, str] = {
    "tui.cli.Parser": "an argparse.ArgumentParser subclass that only changes error output",
}


def discovered() -> set[str]:
    """Every parsing function, class and ``parse`` method defined in the package."""
    found: set[str] = set()
    for info in pkgutil.walk_packages(watchdog_agent.__path__, "watchdog_agent."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        short = info.name.removeprefix("watchdog_agent.")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            if inspect.isfunction(obj) and PARSER_NAME.search(name):
                found.add(f"{short}.{name}")
            elif inspect.isclass(obj):
                if PARSER_CLASS.search(name):
                    found.add(f"{short}.{name}")
                for attr, member in vars(obj).items():
                    func = getattr(member, "__func__", member)
                    if inspect.isfunction(func) and PARSER_NAME.search(attr):
                        found.add(f"{short}.{name}.{attr}")
    return found


def test_every_parser_in_the_package_has_a_property_test() -> None:
    missing = sorted(discovered() - set(PROPERTY_TESTS) - set(NOT_PARSERS))
    assert not missing, f"parsers without a property test (add one, list it here): {missing}"


def _names_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name)
    return names


def test_each_listed_parser_exists_and_its_property_test_uses_it() -> None:
    for dotted, test_file in sorted(PROPERTY_TESTS.items()):
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):  # the longest importable module prefix
            try:
                obj = importlib.import_module("watchdog_agent." + ".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr)  # AttributeError: listed but gone
            break
        path = TESTS / test_file
        assert path.name.endswith(("_property.py", "_fuzz.py")), path
        text = path.read_text(encoding="utf-8")
        assert "@given(" in text, f"{test_file} has no hypothesis test"
        assert parts[-1] in _names_used(path), f"{test_file} does not use {dotted}"
