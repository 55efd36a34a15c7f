"""The deploy recipe, checked without building an image or reaching a cluster.

Dockerfile, .dockerignore, deploy/kubernetes.yaml and .streamlit/config.toml are parsed
and held to what README and requirements.txt say (one run command, one torch pin).
"""

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HEALTH = "/_stcore/health"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SERVER_FLAGS = ["--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true",
                "--browser.gatherUsageStats=false"]


# ---- parsing helpers -------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: continuation lines joined, comment lines dropped."""
    steps, pending = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        steps.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return steps


def instructions(name: str) -> list[str]:
    return [args for word, args in dockerfile() if word == name]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def pinned(requirements: Path, name: str) -> str:
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.fullmatch(rf"{re.escape(name)}\s*==\s*(\S+)", line, flags=re.IGNORECASE)
        if match:
            return match.group(1)
    raise AssertionError(f"{requirements.name} does not pin {name}")


def readme_run_command() -> list[str]:
    """The README's "run the app" command, e.g. ``streamlit run app.py``."""
    for block in re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S):
        for part in re.split(r"&&|;|\n", block):
            if re.match(r"\s*streamlit run\b", part):
                return shlex.split(part, comments=True)
    raise AssertionError("README has no `streamlit run` command in a bash block")


@pytest.fixture(scope="module")
def manifest() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text())]
    assert all(isinstance(d, dict) for d in docs), "an empty or non-mapping YAML document"
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler"], kinds
    return dict(zip(kinds, docs))


@pytest.fixture(scope="module")
def container(manifest) -> dict:
    containers = manifest["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def container_port(container: dict) -> dict:
    ports = container["ports"]
    assert len(ports) == 1
    return ports[0]


def refers_to(port: int | str, target: dict) -> bool:
    """A Kubernetes port reference: the number itself or the port's name."""
    return port == target["containerPort"] or port == target.get("name")


# ---- the Kubernetes manifest -----------------------------------------------------------------

def test_manifest_has_exactly_a_deployment_a_service_and_an_autoscaler(manifest):
    assert manifest["Deployment"]["apiVersion"] == "apps/v1"
    assert manifest["Service"]["apiVersion"] == "v1"
    assert manifest["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"
    names = {doc["metadata"]["name"] for doc in manifest.values()}
    assert names == {"autoviz"}


def test_deployment_selects_its_own_pods(manifest):
    spec = manifest["Deployment"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    # the autoscaler owns the replica count; a fixed one would reset it on every apply
    assert "replicas" not in spec


def test_service_is_sticky_and_reaches_the_container_port(manifest, container):
    service = manifest["Service"]["spec"]
    assert service["sessionAffinity"] == "ClientIP"
    pod_labels = manifest["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= pod_labels.items()
    (port,) = service["ports"]
    assert refers_to(port["targetPort"], container_port(container))


def test_probes_hit_the_health_endpoint_on_the_container_port(container):
    port = container_port(container)
    assert port["containerPort"] == 8501
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if probe == "startupProbe" and probe not in container:
            continue
        get = container[probe]["httpGet"]
        assert get["path"] == HEALTH, probe
        assert refers_to(get["port"], port), probe


def test_autoscaler_scales_the_deployment_on_cpu(manifest, container):
    hpa = manifest["HorizontalPodAutoscaler"]["spec"]
    target = hpa["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    assert target["apiVersion"] == "apps/v1"
    assert target["name"] == manifest["Deployment"]["metadata"]["name"]
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    resources = [m["resource"] for m in hpa["metrics"] if m["type"] == "Resource"]
    assert [r["name"] for r in resources] == ["cpu"]
    assert resources[0]["target"]["type"] == "Utilization"
    assert 0 < resources[0]["target"]["averageUtilization"] <= 100
    # a CPU utilisation target is relative to the request: without one the HPA cannot work
    assert "cpu" in container["resources"]["requests"]


def test_pod_is_bounded_single_threaded_and_locked_down(manifest, container):
    pod = manifest["Deployment"]["spec"]["template"]["spec"]
    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert {"cpu", "memory"} <= resources["limits"].keys()
    env = {e["name"]: e for e in container["env"]}
    assert env["OMP_NUM_THREADS"]["value"] == "1"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == instructions("USER")[-1].split(":")[0]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # the read-only root needs a writable /tmp
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


# ---- the Dockerfile --------------------------------------------------------------------------

def test_dockerfile_cmd_is_the_readme_command_plus_the_server_flags():
    (cmd,) = instructions("CMD")
    assert exec_form(cmd) == readme_run_command() + SERVER_FLAGS
    assert readme_run_command() == ["streamlit", "run", "app.py"]


def test_dockerfile_base_port_user_and_healthcheck(container):
    (base,) = instructions("FROM")
    assert base.split()[0] == "python:3.11-slim"
    assert instructions("EXPOSE") == ["8501"]
    assert f"--server.port={container_port(container)['containerPort']}" in SERVER_FLAGS
    user = instructions("USER")[-1]
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), "a numeric non-root USER (runAsNonRoot)"
    (health,) = instructions("HEALTHCHECK")
    assert f"127.0.0.1:8501{HEALTH}" in health


def test_dockerfile_installs_the_pinned_torch_from_the_cpu_index_first():
    runs = instructions("RUN")
    torch_at = [i for i, run in enumerate(runs) if re.search(r"\btorch==", run)]
    assert len(torch_at) == 1, "one RUN installs torch"
    torch_run = runs[torch_at[0]]
    words = shlex.split(torch_run)
    assert words[words.index("--index-url") + 1] == CPU_INDEX
    (spec,) = [w for w in words if w.startswith("torch==")]
    assert spec == f"torch=={pinned(ROOT / 'requirements.txt', 'torch')}"
    reqs_at = [i for i, run in enumerate(runs) if "-r requirements.txt" in run]
    assert reqs_at and torch_at[0] < reqs_at[0], "torch must be in place before requirements"
    # the requirements step must not reach for another index (PyPI's torch brings CUDA)
    assert "index-url" not in runs[reqs_at[0]]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Roughly Docker's rule: a pattern matches the path or one of its parent folders."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        bare = pattern.removeprefix("**/")
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes) or (
                pattern.startswith("**/") and any(fnmatch.fnmatchcase(p, bare) for p in parts)):
            excluded = not keep
    return excluded


def test_dockerignore_keeps_what_the_image_copies_and_drops_the_rest():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    copied = [src for copy in instructions("COPY") for src in shlex.split(copy)[:-1]
              if not src.startswith("--")]
    assert {"requirements.txt", "app.py", "page.py", "autoviz/", "ui/",
            ".streamlit/"} <= set(copied)
    for src in copied:
        assert (ROOT / src).exists(), src
        assert not dockerignored(src.rstrip("/"), patterns), src
    assert not dockerignored("ui/step.py", patterns)
    assert not dockerignored(".streamlit/config.toml", patterns)
    for junk in (".git/HEAD", "tests/test_app.py", "artifacts/landing.png",
                 "autoviz/__pycache__/x.pyc", ".pytest_cache/v", ".ruff_cache/x",
                 ".streamlit/secrets.toml"):
        assert dockerignored(junk, patterns), junk


# ---- .streamlit/config.toml ------------------------------------------------------------------

def streamlit_settings() -> dict[str, object]:
    with open(ROOT / ".streamlit" / "config.toml", "rb") as f:
        tables = tomllib.load(f)
    flat = {}
    for section, values in tables.items():
        assert isinstance(values, dict), f"[{section}] must be a table"
        flat.update({f"{section}.{key}": value for key, value in values.items()})
    return flat


def test_streamlit_settings_are_production_safe():
    settings = streamlit_settings()
    assert settings["server.runOnSave"] is False
    assert settings["client.showErrorDetails"] == "none"
    assert settings["client.toolbarMode"] == "minimal"
    assert settings["browser.gatherUsageStats"] is False
    assert settings["server.enableXsrfProtection"] is True
    assert settings["server.maxUploadSize"] <= 10
    # left at Streamlit's safe default (true); nothing here may loosen cross-origin checks
    assert "server.enableCORS" not in settings
    assert "server.corsAllowedOrigins" not in settings


def test_every_setting_is_a_real_streamlit_option():
    import streamlit.config

    options = streamlit.config.get_config_options()
    settings = streamlit_settings()
    unknown = sorted(set(settings) - set(options))
    assert not unknown, f"not Streamlit options: {unknown}"
    for key, value in settings.items():
        default = options[key].default_val
        if default is not None:
            assert isinstance(value, type(default)), (key, value, default)


def test_the_library_imports_without_streamlit():
    """autoviz/ is a plain library (notebooks, scripts): no module of it pulls in streamlit."""
    modules = sorted(p.stem for p in (ROOT / "autoviz").glob("*.py") if p.stem != "__init__")
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module('autoviz.' + m)\n"
            "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
            "print(len(sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
