"""The schemas of the API's JSON objects (OpenAPI 3.0 components), written as data; the
paths that use them are in openapi.py."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
FLAG_VALUES = ["", "0", "1", "false", "true", "no", "yes", "off", "on"]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def obj(props: dict[str, Schema], required: bool = True, **extra: Any) -> Schema:
    out: Schema = {"type": "object", "properties": props, **extra}
    if required:
        out["required"] = sorted(props)
    return out


STR, INT, NUM, BOOL = ({"type": t} for t in ("string", "integer", "number", "boolean"))
TIME: Schema = {"type": "string", "format": "date-time"}
N_STR, N_INT, N_NUM, N_BOOL, N_TIME = map(nullable, (STR, INT, NUM, BOOL, TIME))
STR_MAP: Schema = {"type": "object", "additionalProperties": STR}

PSI_LINE = obj(
    {"avg10": NUM, "avg60": NUM, "avg300": NUM, "total": N_INT},
    description="Percent averages; total: stall microseconds (null in history samples).",
)
PRESSURE = obj({"some": nullable(ref("PsiLine")), "full": nullable(ref("PsiLine"))})
NET = obj(
    {
        k: INT
        for k in (
            "rx_bytes",
            "rx_packets",
            "rx_errors",
            "rx_dropped",
            "tx_bytes",
            "tx_packets",
            "tx_errors",
            "tx_dropped",
        )
    }
)
STATS = obj(
    {
        "id": STR,
        "name": N_STR,
        "image": N_STR,
        "cpu_percent": N_NUM,
        "cpu_usage_seconds_total": N_NUM,
        "cpu_throttled_seconds_total": N_NUM,
        "cpu_throttled_percent": N_NUM,
        "memory_usage_bytes": N_INT,
        "memory_working_set_bytes": N_INT,
        "memory_limit_bytes": N_INT,
        "memory_percent": N_NUM,
        "memory_stat": nullable(ref("MemoryStat")),
        "pids": N_INT,
        "pids_limit": N_INT,
        "net_rx_bytes": N_INT,
        "net_tx_bytes": N_INT,
        "net_interfaces": {
            "type": "object",
            "additionalProperties": ref("NetInterface"),
            "nullable": True,
        },
        "blk_read_bytes": N_INT,
        "blk_write_bytes": N_INT,
        "psi": obj({k: nullable(ref("Pressure")) for k in ("cpu", "memory", "io")}),
        "sampled_at": N_TIME,
    },
    description=(
        "Numbers from the latest sample; null: not known (absent is not 0). History "
        "samples (?history=N, post-mortems) keep every field but net_interfaces, "
        "memory_stat and the PSI totals, which are null there."
    ),
)
MEMORY_STAT = obj(
    {
        "current": {**N_INT, "description": "the cgroup's whole usage, page cache included: "
                    "cAdvisor's container_memory_usage_bytes; docker stats' memory, "
                    "memory_usage_bytes, is current - inactive_file"},
        "anon": {**N_INT, "description": "anonymous memory: v2 anon, v1 total_rss"},
        "file": {**N_INT, "description": "page cache, shmem included: v2 file, v1 total_cache"},
        "active_file": N_INT,
        "inactive_file": N_INT,
        "shmem": {**N_INT, "description": "tmpfs and /dev/shm: v2 shmem, v1 total_shmem"},
        "kernel": {**N_INT, "description": "kernel memory: v2 kernel, before Linux 5.18 the "
                   "sum of kernel_stack, pagetables, percpu, vmalloc and slab; v1 "
                   "memory.kmem.usage_in_bytes"},
    },
    description="The cgroup's memory by kind, in bytes; null: not known on this host.",
)  # fmt: skip
CONTAINER = obj(
    {
        "id": STR,
        "name": N_STR,
        "image": N_STR,
        "image_id": N_STR,
        "state": N_STR,
        "labels": STR_MAP,
        "pid": N_INT,
        "created": N_TIME,
        "started_at": N_TIME,
        "tty": N_BOOL,
        "restart_count": N_INT,
        "exit_code": N_INT,
        "oom_killed": N_BOOL,
        "limits": obj({"memory_bytes": N_INT, "cpus": N_NUM, "pids": N_INT}),
        "stats": nullable(ref("Stats")),
    }
)
PROCESS_FIELDS: dict[str, Schema] = {
    "pid": INT,
    "ns_pid": N_INT,
    "ppid": INT,
    "ns_ppid": N_INT,
    "user": STR,
    "uid": N_INT,
    "state": STR,
    "threads": INT,
    "cpu_seconds": NUM,
    "cpu_percent": N_NUM,
    "rss_bytes": N_INT,
    "started_at": N_TIME,
    "cmd": STR,
}
PROCESS = obj(PROCESS_FIELDS)
PROCESS_NODE = obj({**PROCESS_FIELDS, "children": {"type": "array", "items": ref("ProcessNode")}})
TOP = obj(
    {
        "id": STR,
        "name": N_STR,
        "processes": {"type": "array", "items": ref("Process")},
        "tree": {"type": "array", "items": ref("ProcessNode")},
        "unreadable": {
            **INT,
            "minimum": 0,
            "description": "Processes that exist but could not be read: permission denied, "
            "as under a hidepid procfs, or another read error. They are in neither list; 0 "
            "when every process was read.",
        },
    }
)
EVENT = obj(
    {
        "status": STR,
        "id": STR,
        "from": STR,
        "Type": STR,
        "Action": STR,
        "Actor": obj({"ID": STR, "Attributes": STR_MAP}),
        "scope": STR,
        "time": INT,
        "timeNano": INT,
    },
    required=False,
    description="Docker's own event shape (docker events --format '{{json .}}').",
)
EVENT["required"] = ["Type", "Action", "Actor", "scope", "time", "timeNano"]
GAP_REASONS = (
    "Why events of [start, end] may be missing: `daemon-restart`, `disconnected` (the tap "
    "lost the daemon and its buffer no longer reached back), `agent-down` (the agent was not "
    "running), `startup`, `docker-unavailable` (no engine answers: none yet, or it went "
    "away), `no-docker` (the agent runs with --no-docker), `no-journal` (the agent keeps no "
    "journal and Docker could not complete the window), `before-journal` (the window begins "
    "before the journal and Docker's full buffer no longer reaches back), `journal-error` "
    "(the journal could not store these events, e.g. its disk was full; live streams got "
    "them)."
)
GAP = obj(
    {
        "start_nano": INT,
        "end_nano": INT,
        "start": TIME,
        "end": TIME,
        "reason": {**STR, "description": GAP_REASONS},
    },
    description="A stretch of time in which the agent cannot prove it saw every event.",
)
STREAM_ITEM: Schema = {
    "oneOf": [ref("Event"), obj({"gap": ref("Gap")}), obj({"lost": INT})],
    "description": "One NDJSON line (SSE: the data of an `event`, `gap` or `lost` event).",
}
INFO = obj(
    {
        "version": STR,
        "cgroup_mode": N_STR,
        "docker": nullable(
            obj({"version": N_STR, "api_version": N_STR, "id": N_STR, "root_dir": N_STR})
        ),
        "started_at": TIME,
        "uptime_seconds": NUM,
        "interval_seconds": NUM,
        "journal": BOOL,
        "last_sample_at": N_TIME,
        "containers_sampled": INT,
        "daemon": nullable(ref("Daemon")),
    }
)
N_STRS: Schema = nullable({"type": "array", "items": STR})
FS = obj(
    {
        "path": STR,
        "size_bytes": INT,
        "used_bytes": INT,
        "free_bytes": {**INT, "description": "what df calls Available (f_bavail)"},
        "inodes_total": N_INT,
        "inodes_free": N_INT,
    },
    description="A filesystem as df shows it; null inodes: the filesystem has no inode table.",
)
DAEMON = obj(
    {
        "up": {**BOOL, "description": "the engine answered the last ping"},
        "checked_at": TIME,
        "sampled_at": {**N_TIME, "description": "when the fields below were read (/info)"},
        "version": N_STR,
        "api_version": N_STR,
        "id": N_STR,
        "name": N_STR,
        "os": N_STR,
        "kernel_version": N_STR,
        "storage_driver": N_STR,
        "logging_driver": N_STR,
        "cgroup_driver": N_STR,
        "cgroup_version": N_STR,
        "data_root_dir": N_STR,
        "registry_mirrors": N_STRS,
        "insecure_registries": {
            **N_STRS,
            "description": "as docker info lists them: insecure index names, then CIDRs",
        },
        "live_restore": N_BOOL,
        "default_runtime": N_STR,
        "security_options": N_STRS,
        "containers": N_INT,
        "containers_running": N_INT,
        "containers_paused": N_INT,
        "containers_stopped": N_INT,
        "images": N_INT,
        "warnings": N_STRS,
        "data_root": nullable(ref("Filesystem")),
    },
    description="Docker's /info as docker info shows it; null: not said, or not read yet.",
)
ERROR = obj({"error": STR, "detail": {"nullable": True, "description": "message or object"}})
INDEX = obj(
    {
        "name": STR,
        "version": STR,
        "routes": {"type": "array", "items": obj({"path": STR, "summary": N_STR})},
    }
)
HEALTH = obj({"status": STR, "tasks": STR_MAP})

LOG_LINE = obj(
    {
        "stream": {"type": "string", "enum": ["stdout", "stderr"]},
        "time": {**N_TIME, "description": "Docker's RFC 3339 time (timestamps=1), else null"},
        "line": STR,
    }
)
LOG_ITEM: Schema = {
    "oneOf": [ref("LogLine"), ref("Error")],
    "description": "One NDJSON line: a log line, or the Engine's own error (frame type 3)",
}
POSTMORTEM = obj(
    {
        "id": STR,
        "name": N_STR,
        "image": N_STR,
        "action": {"type": "string", "enum": ["die", "oom"]},
        "died_at": TIME,
        "died_at_nano": INT,
        "exit_code": N_INT,
        "oom_killed": N_BOOL,
        "signal": N_INT,
        "started_at": N_TIME,
        "samples": {"type": "array", "items": ref("Stats")},
        "processes": {"type": "array", "items": ref("Process")},
        "processes_at": N_TIME,
        "logs": {
            "type": "array",
            "items": obj(
                {
                    "stream": {"type": "string", "enum": ["stdout", "stderr", "system"]},
                    "time": N_TIME,
                    "line": STR,
                }
            ),
        },
        "events": {"type": "array", "items": ref("Event")},
        "captured_at": TIME,
        "errors": {"type": "array", "items": STR},
    },
    description="A container's death: exit code, OOMKilled, signal, the last minute of "
    "samples, the last process list, the last log lines and its recent events.",
)

HOST = obj(
    {
        "hostname": {**N_STR, "description": "the agent's UTS namespace (the host's with "
                     "--uts=host or outside a container)"},
        "kernel": N_STR,
        "os": {**N_STR, "description": "os-release PRETTY_NAME of the host's root"},
        "boot_time": N_TIME,
        "cpus": {**N_INT, "description": "logical CPUs online"},
        "cpu_percent": {**N_NUM, "description": "since the previous host sample; 100 = one "
                        "core (docker stats)"},
        "cpu_fraction": {**N_NUM, "description": "cpu_percent over all cores (0-1)"},
        "load1": N_NUM,
        "load5": N_NUM,
        "load15": N_NUM,
        "memory_total_bytes": N_INT,
        "memory_available_bytes": {**N_INT, "description": "MemAvailable"},
        "memory_used_bytes": {**N_INT, "description": "total - available"},
        "swap_total_bytes": N_INT,
        "swap_used_bytes": N_INT,
        "swap_free_bytes": N_INT,
        "data_root": nullable(ref("Filesystem")),
        "proc_root": {**STR, "description": "the /proc the values were read from"},
        "sampled_at": TIME,
    },
    description="The host's totals, read under --proc-root; null: not readable.",
)  # fmt: skip
AGENT_COST = obj(
    {
        "cpu_seconds_total": N_NUM,
        "resident_memory_bytes": N_INT,
        "virtual_memory_bytes": N_INT,
        "open_fds": N_INT,
        "max_fds": N_INT,
        "start_time_seconds": {**N_NUM, "description": "unix seconds"},
    },
    description="The agent's own process (its process_* metrics); null: not readable.",
)
SNAPSHOT = obj(
    {
        "sampled_at": {**N_TIME, "description": "when the pass began; null before the first"},
        "interval_seconds": NUM,
        "containers": {"type": "array", "items": ref("Container")},
        "host": nullable(ref("Host")),
        "daemon": nullable(ref("Daemon")),
        "agent": nullable(ref("AgentCost")),
    },
    description="One sampling pass, whole: the containers (as /api/v1/containers lists "
    "them, stats inline), the host's totals, the daemon and the agent's own cost; null: "
    "not read yet (daemon: also without Docker).",
)
DISK_AREA_TYPES = ["images", "containers", "volumes", "build_cache"]
DISK_AREA = obj(
    {
        "type": {"type": "string", "enum": DISK_AREA_TYPES},
        "total": INT,
        "active": INT,
        "size_bytes": INT,
        "reclaimable_bytes": INT,
        "reclaimable_percent": {
            **N_INT,
            "description": "as docker prints it (none for build_cache, nor when the size is 0)",
        },
    },
    description="One row of `docker system df`, computed as the docker CLI computes it.",
)
DISK_IMAGE = obj(
    {
        "id": STR,
        "repository": {**STR, "description": "from the first tag; `<none>` when dangling"},
        "tag": STR,
        "repo_tags": {"type": "array", "items": STR},
        "created": N_TIME,
        "size_bytes": N_INT,
        "shared_size_bytes": N_INT,
        "unique_size_bytes": N_INT,
        "containers": N_INT,
    }
)
DISK_CONTAINER = obj(
    {
        "id": STR,
        "names": {"type": "array", "items": STR},
        "image": N_STR,
        "image_id": N_STR,
        "command": N_STR,
        "local_volumes": INT,
        "size_bytes": {**N_INT, "description": "its writable layer (Docker's SizeRw)"},
        "created": N_TIME,
        "state": N_STR,
        "status": N_STR,
    }
)
DISK_VOLUME = obj(
    {
        "name": STR,
        "driver": N_STR,
        "links": {**N_INT, "description": "containers that reference it (RefCount)"},
        "size_bytes": N_INT,
    }
)
BUILD_CACHE = obj(
    {
        "id": STR,
        "type": N_STR,
        "size_bytes": INT,
        "created": N_TIME,
        "last_used": N_TIME,
        "usage_count": INT,
        "in_use": BOOL,
        "shared": BOOL,
    }
)
DISK = obj(
    {
        "sampled_at": TIME,
        "sample_seconds": {**NUM, "description": "how long Docker took to answer /system/df"},
        "areas": {"type": "array", "items": ref("DiskArea")},
        "images": {"type": "array", "items": ref("DiskImage")},
        "containers": {"type": "array", "items": ref("DiskContainer")},
        "volumes": {"type": "array", "items": ref("DiskVolume")},
        "build_cache": {"type": "array", "items": ref("BuildCacheRecord")},
    },
    required=False,
    description="Docker's disk use by area (`docker system df`); the rows (`-v`) only "
    "with verbose=1.",
)
DISK["required"] = ["areas", "sample_seconds", "sampled_at"]

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "Index": INDEX,
    "Health": HEALTH,
    "Ready": obj({"status": STR}),
    "Info": INFO,
    "Daemon": DAEMON,
    "Filesystem": FS,
    "PsiLine": PSI_LINE,
    "Pressure": PRESSURE,
    "NetInterface": NET,
    "MemoryStat": MEMORY_STAT,
    "Stats": STATS,
    "Container": CONTAINER,
    "Process": PROCESS,
    "ProcessNode": PROCESS_NODE,
    "Top": TOP,
    "Event": EVENT,
    "Gap": GAP,
    "StreamItem": STREAM_ITEM,
    "LogLine": LOG_LINE,
    "LogItem": LOG_ITEM,
    "PostMortem": POSTMORTEM,
    "Host": HOST,
    "DiskArea": DISK_AREA,
    "DiskImage": DISK_IMAGE,
    "DiskContainer": DISK_CONTAINER,
    "DiskVolume": DISK_VOLUME,
    "BuildCacheRecord": BUILD_CACHE,
    "Disk": DISK,
    "AgentCost": AGENT_COST,
    "Snapshot": SNAPSHOT,
}
