"""What an object graph still holds of a set of container ids (no tests here): every
str and bytes reachable from a root is searched for the 64-hex ids."""

from __future__ import annotations

import asyncio
import gc
import re
import types
from collections import deque
from typing import Any

HEX64 = re.compile(rb"[0-9a-f]{64}")


def reachable_ids(root: object, wanted: set[str], exclude: list[object]) -> dict[str, list[str]]:
    """wanted ids found in str/bytes reachable from ``root`` (not through ``exclude``)
    -> the types on the way to each (the last few)."""
    found: dict[str, list[str]] = {}
    seen = {id(x) for x in exclude}
    queue: deque[tuple[object, list[str]]] = deque([(root, [type(root).__name__])])
    skip = (types.ModuleType, type, asyncio.AbstractEventLoop, types.CodeType)
    while queue:
        obj, path = queue.popleft()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes | bytearray):
            data = obj.encode() if isinstance(obj, str) else bytes(obj)
            for match in HEX64.findall(data):
                cid = match.decode()
                if cid in wanted and cid not in found:
                    found[cid] = path
            continue
        if isinstance(obj, types.FunctionType):  # its state, not its module's globals
            referents: list[Any] = [*(obj.__closure__ or ()), *(obj.__defaults__ or ())]
        else:
            referents = gc.get_referents(obj)
        for ref in referents:
            if id(ref) not in seen:
                queue.append((ref, [*path[-6:], type(ref).__name__]))
    return found
