"""The plain manifests in charts/k8s/ are exactly what scripts/gen-k8s.sh renders
from the chart now, and each is a complete, locked-down bot."""

import filecmp
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tools  # noqa: E402

K8S_DIR = os.path.join(tools.SOURCE_ROOT, "charts", "k8s")
PRESETS = ["claude", "codex", "gemini", "kiro"]


class K8sManifestsTest(unittest.TestCase):
    def test_committed_manifests_match_the_chart(self):
        helm = tools.tools_helm()
        with tempfile.TemporaryDirectory() as out:
            p = subprocess.run([os.path.join(tools.SOURCE_ROOT, "scripts", "gen-k8s.sh"), out],
                               capture_output=True, text=True, timeout=120, env={**os.environ, "HELM": helm})
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(sorted(os.listdir(out)), [f"{p}.yaml" for p in PRESETS])
            self.assertEqual(sorted(f for f in os.listdir(K8S_DIR)), [f"{p}.yaml" for p in PRESETS],
                             "charts/k8s holds other files")
            for name in os.listdir(out):
                with self.subTest(file=name):
                    self.assertTrue(filecmp.cmp(os.path.join(out, name), os.path.join(K8S_DIR, name), shallow=False),
                                    f"charts/k8s/{name} is stale: run scripts/gen-k8s.sh")

    def test_each_manifest_is_one_locked_down_bot(self):
        helm = tools.Helm()
        for preset in PRESETS:
            with self.subTest(preset=preset):
                with open(os.path.join(K8S_DIR, f"{preset}.yaml")) as f:
                    docs = helm.documents(f.read())
                kinds = sorted(d["kind"] for d in docs)
                # No Secret: the header tells how to create agent-broker-tokens.
                self.assertEqual(kinds, ["ConfigMap", "Deployment", "NetworkPolicy", "PersistentVolumeClaim",
                                         "PodDisruptionBudget"])
                dep = next(d for d in docs if d["kind"] == "Deployment")
                pod = dep["spec"]["template"]["spec"]
                self.assertEqual(pod["securityContext"]["runAsUser"], 1000)
                self.assertIs(pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"], True)
                env = {e["name"]: e for e in pod["containers"][0]["env"]}
                self.assertEqual(env["DISCORD_BOT_TOKEN"]["valueFrom"]["secretKeyRef"]["name"], "agent-broker-tokens")
                cm = next(d for d in docs if d["kind"] == "ConfigMap")
                self.assertIn(f'preset = "{preset}"', cm["data"]["config.toml"])
                # Valid against the Kubernetes API schemas.
                self.assertEqual(tools.tools_validate_k8s(docs, helm.scratch), [])

    def test_the_schema_check_rejects_invalid_objects(self):
        # The control: what the schemas reject is reported, so a pass above means something.
        helm = tools.Helm()
        with open(os.path.join(K8S_DIR, "kiro.yaml")) as f:
            docs = helm.documents(f.read())
        dep = next(d for d in docs if d["kind"] == "Deployment")
        dep["spec"]["replicas"] = "1"
        del dep["spec"]["selector"]
        pol = next(d for d in docs if d["kind"] == "NetworkPolicy")
        pol["spec"]["ingress"][0]["ports"][0]["protocol"] = 6
        docs.append({"apiVersion": "v1", "kind": "NoSuchKind", "metadata": {"name": "x"}})
        problems = tools.tools_validate_k8s(docs, helm.scratch)
        self.assertEqual(len(problems), 3, problems)
        self.assertTrue(any(p.startswith("Deployment/agent-broker-kiro: ") for p in problems), problems)
        text = "\n".join(problems)
        self.assertIn("replicas must be integer", text)
        self.assertIn("selector", text)
        self.assertIn("protocol must be string", text)
        self.assertIn("unknown kind v1/NoSuchKind", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
