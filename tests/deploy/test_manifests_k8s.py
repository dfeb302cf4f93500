"""deploy/kubernetes/: the DaemonSet and Service pass kubernetes-validate (strict), the
ServiceMonitor passes the Prometheus operator's own CRD schema (vendored under
tests/fixtures/deploy/), the three fit together, and the DaemonSet's pod runs for real:
its container translated into `docker run` with the built image, on the test engine."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import kubernetes_validate  # type: ignore[import-untyped,unused-ignore]
import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.manifests import (
    CRD,
    agent_container,
    get_json,
    one_kind,
    seen_by_agent,
    serving_url,
    substitute,
    wait_ready,
    yaml_docs,
)

VERSIONS = ["1.25.0", kubernetes_validate.latest_version()]  # oldest bundled, newest


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["DaemonSet", "Service"])
def test_resources_pass_kubernetes_validate_strict(kind: str, version: str) -> None:
    kubernetes_validate.validate(one_kind(kind), version, strict=True)


def test_kubernetes_validate_rejects_a_misspelt_field() -> None:
    ds = copy.deepcopy(one_kind("DaemonSet"))
    ds["spec"]["template"]["spec"]["hostPid"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(ds, VERSIONS[-1], strict=True)


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD schema with unknown fields refused, as the API server's strict field
    validation does (it prunes them otherwise): additionalProperties false wherever an
    object lists its properties and does not keep unknown fields."""
    out = copy.deepcopy(schema)
    stack = [out]
    while stack:
        node = stack.pop()
        props = node.get("properties")
        if (
            isinstance(props, dict)
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            if isinstance(value, dict):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, dict))
    return out


def _servicemonitor_validator() -> tuple[jsonschema.Draft7Validator, str, str]:
    crd = yaml_docs(CRD)[0]
    assert crd["kind"] == "CustomResourceDefinition"
    version = next(v for v in crd["spec"]["versions"] if v["served"] and v["storage"])
    schema = _strict(version["schema"]["openAPIV3Schema"])
    api_version = f"{crd['spec']['group']}/{version['name']}"
    return jsonschema.Draft7Validator(schema), api_version, crd["spec"]["names"]["kind"]


def test_servicemonitor_passes_the_operators_crd_schema() -> None:
    validator, api_version, kind = _servicemonitor_validator()
    monitor = one_kind("ServiceMonitor")
    assert (monitor["apiVersion"], monitor["kind"]) == (api_version, kind)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(monitor)]
    assert errors == []


def test_crd_schema_check_rejects_misspelt_and_mistyped_fields() -> None:
    validator, _, _ = _servicemonitor_validator()
    endpoint = one_kind("ServiceMonitor")["spec"]["endpoints"][0]
    misspelt = copy.deepcopy(one_kind("ServiceMonitor"))
    misspelt["spec"]["endpoints"][0]["relabellings"] = endpoint["relabelings"]
    assert not validator.is_valid(misspelt)
    mistyped = copy.deepcopy(one_kind("ServiceMonitor"))
    mistyped["spec"]["endpoints"][0]["relabelings"][0]["sourceLabels"] = "node"
    assert not validator.is_valid(mistyped)


def test_daemonset_service_and_servicemonitor_fit_together() -> None:
    ds, svc, monitor = one_kind("DaemonSet"), one_kind("Service"), one_kind("ServiceMonitor")
    pod = ds["spec"]["template"]
    namespace = ds["metadata"]["namespace"]
    assert svc["metadata"]["namespace"] == monitor["metadata"]["namespace"] == namespace
    labels = pod["metadata"]["labels"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert svc["spec"]["selector"].items() <= labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [namespace]
    [port] = svc["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"]) == ("metrics", 9338, "metrics")
    container = agent_container(ds)
    assert container["ports"] == [{"name": "metrics", "containerPort": 9338, "protocol": "TCP"}]
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"],
            "targetLabel": "instance"} in endpoint["relabelings"]  # fmt: skip
    # RBAC-free, in the node's PID namespace, hardened
    spec = pod["spec"]
    assert spec["hostPID"] is True and spec["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in spec and "hostNetwork" not in spec
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["privileged"] is False
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]}
    assert mounts == {"/host/proc": True, "/host/sys/fs/cgroup": True,
                      "/var/run/docker.sock": True, "/var/lib/watchdog-agent": False}  # fmt: skip


# --- the pod, run for real ------------------------------------------------------------


def _memory(quantity: str) -> str:
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    number, unit = quantity[:-2], quantity[-2:]
    assert unit in units and number.isdigit(), quantity
    return number + units[unit]


def _cpus(quantity: str) -> str:
    return str(int(quantity[:-1]) / 1000) if quantity.endswith("m") else quantity


def pod_as_docker_run(ds: dict[str, Any], image: str, host_paths: dict[str, str]) -> list[str]:
    """`docker run` options, image and arguments for the DaemonSet's one container,
    translated field by field (a field this does not know fails the test rather than
    being dropped). Substituted: the pod network by the host's (the engine has no bridge;
    the agent's --listen becomes 127.0.0.1:0 to stay on loopback), and hostPath sources
    per ``host_paths``; mount paths, read-only flags and arguments stay the manifest's."""
    pod = ds["spec"]["template"]["spec"]
    container = agent_container(ds)
    known_pod = {"hostPID", "automountServiceAccountToken", "enableServiceLinks", "volumes",
                 "terminationGracePeriodSeconds", "tolerations", "containers"}  # fmt: skip
    assert set(pod) <= known_pod, set(pod) - known_pod
    known = {"name", "image", "imagePullPolicy", "args", "ports", "readinessProbe",
             "livenessProbe", "resources", "securityContext", "volumeMounts", "env"}  # fmt: skip
    assert set(container) <= known, set(container) - known  # no command: the image's entrypoint
    run = ["--network", "host"]
    if pod.get("hostPID"):
        run += ["--pid", "host"]
    sc = dict(container["securityContext"])
    assert sc.pop("seccompProfile", {"type": "RuntimeDefault"}) == {"type": "RuntimeDefault"}
    if "runAsUser" in sc:
        run += ["--user", f"{sc.pop('runAsUser')}:{sc.pop('runAsGroup', 0)}"]
    sc.pop("runAsNonRoot", None)  # a check kubelet makes, nothing to run
    if sc.pop("readOnlyRootFilesystem", False):
        run.append("--read-only")
    if sc.pop("allowPrivilegeEscalation", True) is False:
        run += ["--security-opt", "no-new-privileges"]
    if sc.pop("privileged", False):
        run.append("--privileged")
    caps = sc.pop("capabilities", {})
    run += [a for c in caps.get("drop", []) for a in ("--cap-drop", c)]
    run += [a for c in caps.get("add", []) for a in ("--cap-add", c)]
    assert sc == {}, f"securityContext fields not translated: {sc}"
    limits = container["resources"]["limits"]
    run += ["--memory", _memory(limits["memory"]), "--cpus", _cpus(limits["cpu"])]
    for env in container.get("env", []):
        assert set(env) == {"name", "value"}, env
        run += ["-e", f"{env['name']}={env['value']}"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        assert set(mount) <= {"name", "mountPath", "readOnly"}, mount
        source = volumes[mount["name"]]["hostPath"]["path"]
        source = host_paths.get(source, source)
        ro = ":ro" if mount.get("readOnly") else ""
        run += ["-v", f"{source}:{mount['mountPath']}{ro}"]
    args = substitute(container["args"], {"--listen": "127.0.0.1:0"})
    return [*run, image, *args]


@pytest.mark.engine
def test_daemonset_pod_runs_with_the_built_image(
    agent_image: str, docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    ds = one_kind("DaemonSet")
    assert docker_host.startswith("unix://")
    journal = tmp_path / "journal"
    journal.mkdir()
    run = pod_as_docker_run(ds, agent_image, {
        "/var/run/docker.sock": docker_host.removeprefix("unix://"),
        "/var/lib/watchdog-agent": str(journal),
    })  # fmt: skip
    project = unique_name("proj")
    target = docker_cli.start("--label", f"com.docker.compose.project={project}",
                              IMAGE, "sh", "-c", "sleep 600 & sleep 601 & wait")  # fmt: skip
    agent = docker_cli.start(*run, name=unique_name("daemonset"))
    try:
        url = serving_url(docker_cli, agent)
        hc = docker_cli.inspect(agent)["HostConfig"]
        assert hc["PidMode"] == "host" and hc["ReadonlyRootfs"] is True
        assert hc["CapDrop"] == ["ALL"] and "no-new-privileges" in hc["SecurityOpt"]
        container = agent_container(ds)
        wait_ready(url, container["readinessProbe"]["httpGet"]["path"])
        assert get_json(url + container["livenessProbe"]["httpGet"]["path"])[0] == 200
        # it sees the engine's containers, and their processes (host and container PIDs)
        top, info = seen_by_agent(url, target, processes=3)
        assert len(top["processes"]) == 3, top
        init = [p for p in top["processes"] if p["ns_pid"] == 1]
        assert [p["pid"] for p in init] == [docker_cli.inspect(target)["State"]["Pid"]], top
        assert sorted(p["cmd"] for p in top["processes"])[1:] == ["sleep 600", "sleep 601"]
        assert f'label_com_docker_compose_project="{project}"' in info, info
        # no capabilities at all, effective or permitted, in the running agent
        agent_pid = docker_cli.inspect(agent)["State"]["Pid"]
        status_lines = Path(f"/proc/{agent_pid}/status").read_text().splitlines()
        caps = dict(x.split(":\t", 1) for x in status_lines if x.startswith("Cap"))
        assert caps["CapEff"] == caps["CapPrm"] == "0000000000000000", caps
        assert (journal / "events.db").exists()
    finally:
        docker_cli.rm(agent)
