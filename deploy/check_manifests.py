#!/usr/bin/env python3
"""Checks the rendered Kubernetes manifests of deploy/k8s (the output of `kubectl kustomize`).

    check_manifests.py --kubernetes-version 1.31 [--secrets OVERLAY=FILE ...] [--dockerfile FILE]
                       [--pinit BIN] [--config-rs FILE] OVERLAY=RENDERED.yaml ...

1. Every document validates against the Kubernetes JSON schemas of the pinned version (kubernetes-validate,
   strict: unknown fields are errors; a kind without a schema is an error too).
2. Our own rules (see RULES below): what a rolling update without downtime, least privilege and the
   restricted Pod Security Standard need, and that names, ports, selectors, Secrets and configuration agree.

Prints every problem as `overlay: kind/name: what is wrong` and exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

import yaml

kv = None  # kubernetes_validate.utils, imported in main() so that --help works without it

RULES = """\
schema      every document valid for the pinned Kubernetes version, strict
namespace   every namespaced object in `pinit`; the Namespace enforces Pod Security `restricted`
security    every pod meets `restricted` (non-root, no privilege escalation, drop ALL, RuntimeDefault seccomp,
            allowed volume types); Pinit pods: uid 10001 (= Dockerfile USER), read-only root, no SA token
resources   every container has cpu+memory requests and a memory limit
image       Pinit containers all run one tagged image (never :latest)
probes      every Pinit Deployment: startup, readiness (/readyz) and liveness (/healthz) on its http port
rollout     RollingUpdate with maxUnavailable 0 and maxSurge 1
shutdown    a preStop sleep, and terminationGracePeriodSeconds > shutdown.drain_timeout + preStop
commands    each Deployment runs its own command (`pinit auth`, ...), each context has a `pinit migrate` Job
config      the env each command needs is set; PINIT_* names are real sections; database and broker URLs
            only from Secrets; the ConfigMap holds no credentials; gateway/notification URLs name existing
            Services and ports; auth.issuer = gateway.token_issuer
keys        the JWT private key Secret is mounted in auth only, the VAPID key in notification only; key
            volumes read-only and not world-readable; the gateway gets no Secret but the identity key
identity    all four Deployments take PINIT_INTERNAL_IDENTITY_KEY from one Secret key (the same key in each);
            nothing else uses that Secret (the migration Jobs do not need it)
tls         a file a PINIT_TLS_* setting names lies in a volume mounted in that container, and (--secrets) the
            ConfigMap/Secret behind it is made by create-secrets.sh with that file; production verifies the
            database's certificate and name (PINIT_DATABASE_SSL_MODE=verify-full) and trusts a CA file
services    every Service selects a workload, its target ports exist; every Deployment has a Service;
            the Ingress (class traefik) routes to the gateway's Service port
network     default-deny ingress; only the gateway reaches auth/task/notification HTTP; only notification
            reaches task gRPC; only Traefik reaches the gateway; metrics only from `monitoring`;
            PostgreSQL/RabbitMQ (k3s) only from the services that use them
replicas    k3s: 1 replica each; production: HPA (minReplicas >= 2) and a PodDisruptionBudget per Deployment
secrets     (--secrets) the Secrets create-secrets.sh makes are valid and have every name and key referenced
dockerfile  (--dockerfile) multi-stage, cargo build --release --locked -p pinit, USER 10001,
            ENTRYPOINT ["pinit"], EXPOSE 8080 9095, PINIT_LOG_FORMAT=json; .dockerignore excludes target;
            every workspace member and declared Cargo target is one the dependency-layer skeleton stubs
binary      (--pinit) `pinit config --for <command>` accepts each Deployment's environment without warnings
"""

NAMESPACE = "pinit"
PINIT_UID = 10001
CONTEXTS = ("auth", "task", "notification")
SERVICES = CONTEXTS + ("gateway",)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "IngressClass", "PriorityClass", "CustomResourceDefinition"}
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                   "projected", "secret"}
JWT_PRIVATE = "jwt-private.pem"
VAPID_PRIVATE = "vapid-private.pem"
# The gateway-to-service identity key (internal.identity_key): every service refuses to start without it.
IDENTITY_ENV = "PINIT_INTERNAL_IDENTITY_KEY"
# During a rotation only: the other identity key, from the same Secret (key `previous`, optional).
PREVIOUS_IDENTITY_ENV = "PINIT_INTERNAL_PREVIOUS_IDENTITY_KEY"
# Settings that name a file Pinit reads at start-up (a missing one is a configuration error, exit 2).
TLS_FILE_ENV = ("PINIT_TLS_CA_FILE", "PINIT_TLS_CLIENT_CERT", "PINIT_TLS_CLIENT_KEY")
# Environment each command needs (keys dir only where keys are read).
REQUIRED_ENV = {
    "auth": ["PINIT_AUTH_DATABASE_URL", "PINIT_AMQP_URL", "PINIT_KEYS_DIR", IDENTITY_ENV],
    "task": ["PINIT_TASK_DATABASE_URL", "PINIT_AMQP_URL", IDENTITY_ENV],
    "notification": ["PINIT_NOTIFICATION_DATABASE_URL", "PINIT_AMQP_URL", "PINIT_NOTIFICATION_TASK_GRPC_URL",
                     "PINIT_KEYS_DIR", IDENTITY_ENV],
    "gateway": ["PINIT_GATEWAY_AUTH_URL", "PINIT_GATEWAY_TASK_URL", "PINIT_GATEWAY_NOTIFICATION_URL", IDENTITY_ENV],
}
# Credentials: only ever from a Secret.
CREDENTIAL_ENV = re.compile(r"DATABASE_URL$|AMQP_URL$|IDENTITY_KEY$")
# Key files each service reads from PINIT_KEYS_DIR.
REQUIRED_KEY_FILES = {"auth": [JWT_PRIVATE, "jwt-public.pem"], "notification": [VAPID_PRIVATE]}
# Who may reach the k3s overlay's infrastructure (by app.kubernetes.io/name of the destination).
INFRA_CLIENTS = {"postgres": {"auth", "task", "notification", "migrate"},
                 "rabbitmq": {"auth", "task", "notification"}}


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def ident(doc: dict) -> str:
    return f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


# --- helpers ------------------------------------------------------------------------------------------------------

def labels_match(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a label set. An empty selector matches all."""
    selector = selector or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def parse_duration(text: str) -> float:
    """Durations as Pinit reads them: `30s`, `5m`, `1h 30m`, `250ms`, ISO 8601 `PT30S`."""
    t = str(text).strip()
    iso = re.fullmatch(r"PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?", t, re.I)
    if iso and t.upper() != "PT":
        h, m, s = (float(x) if x else 0.0 for x in iso.groups())
        return h * 3600 + m * 60 + s
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", t)
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)|\s", "", t):
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


class Workload:
    """A pod template with where it came from."""

    def __init__(self, doc: dict) -> None:
        self.doc = doc
        self.kind = doc["kind"]
        self.name = doc["metadata"]["name"]
        self.namespace = doc["metadata"].get("namespace", "")
        spec = doc.get("spec") or {}
        if self.kind == "CronJob":
            spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        self.template = spec.get("template") or {}
        self.labels = (self.template.get("metadata") or {}).get("labels") or {}
        self.pod = self.template.get("spec") or {}
        self.containers = list(self.pod.get("containers") or [])
        self.init_containers = list(self.pod.get("initContainers") or [])

    @property
    def where(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def pinit(self) -> bool:
        return self.labels.get("app.kubernetes.io/name") == "pinit"

    @property
    def component(self) -> str:
        return self.labels.get("app.kubernetes.io/component", "")

    def all_containers(self) -> list[dict]:
        return self.init_containers + self.containers

    def ports(self) -> list[tuple[str, int]]:
        return [(p.get("name", ""), p["containerPort"]) for c in self.containers for p in c.get("ports") or []]

    def resolve_port(self, port) -> int | None:
        if isinstance(port, int):
            return port if any(n == port for _, n in self.ports()) else None
        for name, number in self.ports():
            if name == port:
                return number
        return None

    def volume(self, name: str) -> dict:
        for v in self.pod.get("volumes") or []:
            if v["name"] == name:
                return v
        return {}


def env_of(container: dict, configmaps: dict[str, dict]) -> dict[str, tuple[str, object]]:
    """name -> (source, value): ("value", str) | ("configMap", str) | ("secret", (name, key, optional))."""
    env: dict[str, tuple[str, object]] = {}
    for src in container.get("envFrom") or []:
        ref = src.get("configMapRef")
        if ref:
            for k, v in (configmaps.get(ref["name"]) or {}).items():
                env[(src.get("prefix") or "") + k] = ("configMap", v)
        sref = src.get("secretRef")
        if sref:
            env[f"<all of Secret {sref['name']}>"] = ("secret", (sref["name"], None, sref.get("optional", False)))
    for e in container.get("env") or []:
        if "value" in e:
            env[e["name"]] = ("value", e["value"])
        elif "valueFrom" in e:
            vf = e["valueFrom"]
            if "secretKeyRef" in vf:
                r = vf["secretKeyRef"]
                env[e["name"]] = ("secret", (r["name"], r["key"], r.get("optional", False)))
            elif "configMapKeyRef" in vf:
                r = vf["configMapKeyRef"]
                env[e["name"]] = ("configMap", (configmaps.get(r["name"]) or {}).get(r["key"]))
            else:
                env[e["name"]] = ("field", None)
        else:
            env[e["name"]] = ("value", "")
    return env


def prestop_seconds(container: dict) -> float | None:
    handler = ((container.get("lifecycle") or {}).get("preStop")) or {}
    if "sleep" in handler:
        return float(handler["sleep"]["seconds"])
    command = (handler.get("exec") or {}).get("command") or []
    text = " ".join(command)
    m = re.search(r"(?:^|[\s;&|])sleep\s+(\d+(?:\.\d+)?)", text)
    if m:
        return float(m.group(1))
    return None


def read_sections(config_rs: str) -> tuple[set[str], set[str]]:
    """The configuration sections and top-level keys the binary knows, from crates/pinit/src/config.rs."""
    text = open(config_rs, encoding="utf-8").read()

    def const(name: str) -> set[str]:
        m = re.search(rf"const {name}: &\[&str\] = &\[(.*?)\];", text, re.S)
        if not m:
            raise ValueError(f"cannot find {name} in {config_rs}")
        return set(re.findall(r'"([a-z_]+)"', m.group(1)))

    return const("SECTIONS"), const("TOP_LEVEL")


def pinit_env_name_ok(name: str, sections: set[str], top: set[str]) -> bool:
    rest = name[len("PINIT_"):].lower()
    if rest in top or rest in ("config",):
        return True
    section, _, key = rest.partition("_")
    return section in sections and bool(key)


# --- the checks ---------------------------------------------------------------------------------------------------

def check_schema(overlay: str, docs: list[dict], version: str, p: Problems) -> None:
    for doc in docs:
        doc = dict(doc)
        meta = dict(doc.get("metadata") or {})
        if meta.get("creationTimestamp") is None:
            meta.pop("creationTimestamp", None)
        doc["metadata"] = meta
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(x) for x in e.path) or "(document)"
            p.add(f"{overlay}: {ident(doc)}", f"schema (Kubernetes {version}, strict): {path}: {e.message}")
        except kv.SchemaNotFoundError as e:
            p.add(f"{overlay}: {ident(doc)}", f"schema: {e.message}")
        except kv.VersionNotSupportedError:
            p.add(overlay, f"kubernetes-validate has no schemas for Kubernetes {version}")
            return


def check_overlay(overlay: str, docs: list[dict], args, sections, top, dockerfile_user, secrets_docs,
                  p: Problems) -> None:
    def fail(where: str, message: str) -> None:
        p.add(f"{overlay}: {where}", message)

    # Identity and namespace.
    seen = set()
    for doc in docs:
        key = (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
        if key in seen:
            fail(ident(doc), "defined twice")
        seen.add(key)
        if doc["kind"] not in CLUSTER_SCOPED and doc["metadata"].get("namespace") != NAMESPACE:
            fail(ident(doc), f"namespace is {doc['metadata'].get('namespace')!r}, not {NAMESPACE!r}")
    namespaces = [d for d in docs if d["kind"] == "Namespace"]
    if not any(d["metadata"]["name"] == NAMESPACE for d in namespaces):
        fail("Namespace", f"no Namespace {NAMESPACE}")
    for ns in namespaces:
        if (ns["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce") != "restricted":
            fail(ident(ns), "does not enforce the `restricted` Pod Security Standard")

    configmaps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}
    services = [d for d in docs if d["kind"] == "Service"]
    workloads = [Workload(d) for d in docs if d["kind"] in WORKLOAD_KINDS]
    deployments = [w for w in workloads if w.kind == "Deployment" and w.pinit]
    jobs = [w for w in workloads if w.kind == "Job" and w.pinit]
    generated = {d["metadata"]["name"]: d for d in secrets_docs or []}

    def secret_keys(name: str) -> set[str] | None:
        d = generated.get(name)
        if d is None:
            return None
        return set((d.get("data") or {}).keys()) | set((d.get("stringData") or {}).keys())

    # ConfigMaps hold no credentials.
    for name, data in configmaps.items():
        for k, v in data.items():
            if re.search(r"PASSWORD|SECRET|TOKEN$|PRIVATE|IDENTITY_KEY", k, re.I) or re.search(
                    r"://[^/\s@:]+:[^/\s@]+@", str(v)):
                fail(f"ConfigMap/{name}", f"{k} looks like a credential; put it in a Secret")

    # Security, resources, images: every pod.
    pinit_images = set()
    for w in workloads:
        pod, psc = w.pod, w.pod.get("securityContext") or {}
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(flag):
                fail(w.where, f"{flag} is not allowed")
        for v in pod.get("volumes") or []:
            kinds = set(v) - {"name"}
            if not kinds <= ALLOWED_VOLUMES:
                fail(w.where, f"volume {v['name']}: type {sorted(kinds)} is not allowed by `restricted`")
        for c in w.all_containers():
            where = f"{w.where} container {c['name']}"
            sc = c.get("securityContext") or {}
            if sc.get("privileged"):
                fail(where, "privileged")
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(where, "securityContext.allowPrivilegeEscalation must be false")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                fail(where, "securityContext.capabilities.drop must contain ALL")
            if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
                fail(where, f"adds capabilities {caps.get('add')}")
            if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
                fail(where, "runAsNonRoot must be true (pod or container)")
            uid = sc.get("runAsUser", psc.get("runAsUser"))
            if uid == 0:
                fail(where, "runs as uid 0")
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                fail(where, "seccompProfile must be RuntimeDefault (pod or container)")
            if any(port.get("hostPort") for port in c.get("ports") or []):
                fail(where, "hostPort is not allowed")
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            if "cpu" not in req or "memory" not in req:
                fail(where, "needs cpu and memory requests")
            if "memory" not in lim:
                fail(where, "needs a memory limit")
            image = c.get("image", "")
            tag = image.rsplit("/", 1)[-1]
            if "@" not in image and (":" not in tag or tag.endswith(":latest")):
                fail(where, f"image {image!r} needs a pinned tag (not latest)")
            if w.pinit:
                pinit_images.add(image)
                if sc.get("readOnlyRootFilesystem") is not True:
                    fail(where, "readOnlyRootFilesystem must be true")
                if uid != PINIT_UID:
                    fail(where, f"runAsUser is {uid}, the image's user is {PINIT_UID}")
                if dockerfile_user is not None and uid != dockerfile_user:
                    fail(where, f"runAsUser {uid} differs from the Dockerfile's USER {dockerfile_user}")
        if w.pinit and pod.get("automountServiceAccountToken") is not False:
            fail(w.where, "automountServiceAccountToken must be false (Pinit does not use the API)")
    if len(pinit_images) > 1:
        fail("images", f"Pinit containers run different images: {sorted(pinit_images)}")

    # Deployments: command, probes, rollout, shutdown, env, keys.
    by_component = {w.component: w for w in deployments}
    for name in SERVICES:
        if name not in by_component:
            fail("Deployment", f"no Deployment for {name}")
    env_by_component: dict[str, dict] = {}
    for w in deployments:
        if len(w.containers) != 1:
            fail(w.where, "expected one container")
            continue
        c = w.containers[0]
        comp = w.component
        args_ = list(c.get("command") or []) + list(c.get("args") or [])
        if not args_ or args_[0] != comp:
            fail(w.where, f"runs {args_}, expected `pinit {comp}`")
        env = env_of(c, configmaps)
        env_by_component[comp] = env
        http_port = int(str((env.get("PINIT_HTTP_PORT") or ("", 8080))[1] or 8080))

        # Probes.
        for probe, paths in (("startupProbe", ("/healthz", "/readyz")), ("readinessProbe", ("/readyz",)),
                             ("livenessProbe", ("/healthz",))):
            pr = c.get(probe)
            if not pr:
                fail(w.where, f"no {probe}")
                continue
            get = pr.get("httpGet")
            if not get:
                fail(w.where, f"{probe} must be an HTTP GET")
                continue
            if get.get("path") not in paths:
                fail(w.where, f"{probe} checks {get.get('path')}, expected {' or '.join(paths)}")
            if w.resolve_port(get.get("port")) != http_port:
                fail(w.where, f"{probe} port {get.get('port')} is not the http port {http_port}")

        # Rollout.
        strategy = (w.doc["spec"].get("strategy")) or {}
        ru = strategy.get("rollingUpdate") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            fail(w.where, "strategy must be RollingUpdate")
        if str(ru.get("maxUnavailable", "25%")) not in ("0", "0%"):
            fail(w.where, f"maxUnavailable is {ru.get('maxUnavailable', '25% (default)')}, must be 0")
        surge = str(ru.get("maxSurge", "25%"))
        if surge in ("0", "0%"):
            fail(w.where, "maxSurge must be at least 1 when maxUnavailable is 0")
        elif surge != "1":
            fail(w.where, f"maxSurge is {surge}, expected 1")

        # Shutdown.
        stop = prestop_seconds(c)
        drain_text = str((env.get("PINIT_SHUTDOWN_DRAIN_TIMEOUT") or ("", "20s"))[1] or "20s")
        try:
            drain = parse_duration(drain_text)
        except ValueError as e:
            fail(w.where, f"PINIT_SHUTDOWN_DRAIN_TIMEOUT: {e}")
            drain = 20.0
        grace = w.pod.get("terminationGracePeriodSeconds", 30)
        if stop is None:
            fail(w.where, "no preStop sleep (endpoints must be removed before the process stops accepting)")
            stop = 0.0
        if not grace > drain + stop:
            fail(w.where, f"terminationGracePeriodSeconds {grace} must exceed drain_timeout {drain:g}s + "
                          f"preStop {stop:g}s")

        # Configuration.
        for name in REQUIRED_ENV.get(comp, []):
            if name not in env:
                fail(w.where, f"{name} is not set (required for `pinit {comp}`)")
        for name, (source, value) in env.items():
            if name.startswith("PINIT_") and not pinit_env_name_ok(name, sections, top):
                fail(w.where, f"{name} is not a Pinit setting (pinit would ignore it with a warning)")
            if CREDENTIAL_ENV.search(name) and source != "secret":
                fail(w.where, f"{name} carries credentials: take it from a Secret, not {source}")
        if comp == "gateway":
            for name, (source, value) in env.items():
                if source == "secret" and name not in (IDENTITY_ENV, PREVIOUS_IDENTITY_ENV):
                    fail(w.where, f"the gateway gets no Secret but the identity key, but {name} comes from one")
        keys_dir = (env.get("PINIT_KEYS_DIR") or ("", None))[1]

        # Volumes and keys.
        for m in c.get("volumeMounts") or []:
            v = w.volume(m["name"])
            if "secret" in v:
                sv = v["secret"]
                if not m.get("readOnly"):
                    fail(w.where, f"Secret volume {m['name']} must be mounted readOnly")
                mode = sv.get("defaultMode", 0o644)
                if mode & 0o007:
                    fail(w.where, f"Secret volume {m['name']}: defaultMode {mode:o} is world-readable")
                if comp == "gateway":
                    fail(w.where, f"the gateway mounts Secret {sv['secretName']}; it needs none (JWKS)")
                if m["mountPath"] == keys_dir and generated:
                    have = secret_keys(sv["secretName"]) or set()
                    for f in REQUIRED_KEY_FILES.get(comp, []):
                        if f not in have:
                            fail(w.where, f"Secret {sv['secretName']} at {keys_dir} lacks {f}")
        if comp in REQUIRED_KEY_FILES and keys_dir and not any(
                m["mountPath"] == keys_dir for m in c.get("volumeMounts") or []):
            fail(w.where, f"nothing is mounted at PINIT_KEYS_DIR {keys_dir}")

    # The JWT private key in auth only, the VAPID private key in notification only.
    jwt_secrets = {"pinit-jwt-keys"} | {n for n in generated if JWT_PRIVATE in (secret_keys(n) or set())}
    vapid_secrets = {"pinit-vapid-keys"} | {n for n in generated if VAPID_PRIVATE in (secret_keys(n) or set())}
    for n in generated:
        ks = secret_keys(n) or set()
        if JWT_PRIVATE in ks and VAPID_PRIVATE in ks:
            fail(f"Secret/{n}", "holds both private keys; keep the JWT and VAPID keys in separate Secrets")

    def secrets_used(w: Workload) -> set[str]:
        used = {v["secret"]["secretName"] for v in w.pod.get("volumes") or [] if "secret" in v}
        used |= {s for s in (src.get("secretRef", {}).get("name") for c in w.all_containers()
                             for src in c.get("envFrom") or []) if s}
        used |= {e["valueFrom"]["secretKeyRef"]["name"] for c in w.all_containers() for e in c.get("env") or []
                 if "secretKeyRef" in (e.get("valueFrom") or {})}
        return used

    for w in workloads:
        used = secrets_used(w)
        if used & jwt_secrets and not (w.pinit and w.component == "auth" and w.kind == "Deployment"):
            fail(w.where, f"uses the JWT signing key Secret {sorted(used & jwt_secrets)}; only auth may")
        if used & vapid_secrets and not (w.pinit and w.component == "notification" and w.kind == "Deployment"):
            fail(w.where, f"uses the VAPID key Secret {sorted(used & vapid_secrets)}; only notification may")
    if "auth" in by_component and not any(
            "secret" in v and v["secret"]["secretName"] in jwt_secrets for v in by_component["auth"].pod.get(
                "volumes") or []):
        fail(by_component["auth"].where, "does not mount the JWT key Secret")

    # The identity key: one Secret key that the gateway and the three services share, and nothing else reads.
    identity_refs = {comp: env[IDENTITY_ENV][1][:2] for comp, env in env_by_component.items()
                     if (env.get(IDENTITY_ENV) or ("",))[0] == "secret"}
    if len(set(identity_refs.values())) > 1:
        fail("Deployment", f"{IDENTITY_ENV} comes from different Secret keys "
                           f"({', '.join(f'{c}: {n}/{k}' for c, (n, k) in sorted(identity_refs.items()))}); the "
                           "gateway and the services must share one key")
    identity_secrets = {name for name, _ in identity_refs.values()}
    for w in workloads:
        if w.pinit and w.kind == "Deployment":
            continue
        if secrets_used(w) & identity_secrets:
            fail(w.where, f"uses the identity key Secret {sorted(secrets_used(w) & identity_secrets)}; only the "
                          "four services need it")

    # Files named by PINIT_TLS_* lie in a mounted volume that has them (pinit exits 2 on a file it cannot read).
    def provided_keys(kind: str, name: str) -> set[str] | None:
        if kind == "ConfigMap" and name in configmaps:
            return set(configmaps[name])
        return secret_keys(name)

    for w in workloads:
        if not w.pinit:
            continue
        for c in w.containers:
            env = env_of(c, configmaps)
            for var in TLS_FILE_ENV:
                if var not in env:
                    continue
                path = str(env[var][1] or "")
                mounts = [m for m in c.get("volumeMounts") or []
                          if path.startswith(m["mountPath"].rstrip("/") + "/")]
                if not mounts:
                    fail(w.where, f"{var}={path}: no volume is mounted there (pinit would exit: cannot read it)")
                    continue
                mount = max(mounts, key=lambda m: len(m["mountPath"]))
                rel = path[len(mount["mountPath"].rstrip("/")) + 1:]
                volume = w.volume(mount["name"])
                kind = "ConfigMap" if "configMap" in volume else "Secret" if "secret" in volume else None
                if kind is None or mount.get("subPath"):
                    continue
                src = volume["configMap"] if kind == "ConfigMap" else volume["secret"]
                ref = src.get("name") or src.get("secretName")
                key = rel
                if src.get("items"):
                    key = next((i["key"] for i in src["items"] if i["path"] == rel), None)
                    if key is None:
                        fail(w.where, f"{var}={path}: volume {mount['name']} projects no {rel}")
                        continue
                if secrets_docs is not None:
                    have = provided_keys(kind, ref)
                    if have is None:
                        fail(w.where, f"{var}={path}: {kind} {ref} is not created by create-secrets.sh (pinit "
                                      "would exit: cannot read it)")
                    elif key not in have:
                        fail(w.where, f"{var}={path}: {kind} {ref} has no {key}")

    # Production verifies the database's certificate and name, against the system store and a CA file.
    if overlay == "production":
        for w in workloads:
            if not (w.pinit and w.containers) or w.component == "gateway":
                continue
            env = env_of(w.containers[0], configmaps)
            mode = str((env.get("PINIT_DATABASE_SSL_MODE") or ("", ""))[1] or "")
            if mode != "verify-full":
                fail(w.where, f"PINIT_DATABASE_SSL_MODE is {mode or 'unset'}; production connects with "
                              "verify-full (a trusted CA and the host's name)")
            if "PINIT_TLS_CA_FILE" not in env:
                fail(w.where, "PINIT_TLS_CA_FILE is not set; production trusts the CA of pinit-tls-ca")

    # Every referenced Secret and key exists in what create-secrets.sh makes.
    if secrets_docs is not None:
        for w in workloads:
            for c in w.all_containers():
                for name, (source, value) in env_of(c, configmaps).items():
                    if source != "secret":
                        continue
                    sname, key, optional = value
                    have = secret_keys(sname)
                    if have is None and not optional:
                        fail(w.where, f"{name}: Secret {sname} is not created by create-secrets.sh")
                    elif have is not None and key is not None and key not in have and not optional:
                        fail(w.where, f"{name}: Secret {sname} has no key {key}")
            for v in w.pod.get("volumes") or []:
                if "secret" in v and not v["secret"].get("optional") and secret_keys(v["secret"]["secretName"]) is None:
                    fail(w.where, f"volume {v['name']}: Secret {v['secret']['secretName']} is not created by "
                                  "create-secrets.sh")
                if ("configMap" in v and not v["configMap"].get("optional")
                        and provided_keys("ConfigMap", v["configMap"]["name"]) is None):
                    fail(w.where, f"volume {v['name']}: ConfigMap {v['configMap']['name']} is neither in the "
                                  "manifests nor created by create-secrets.sh")

    # Cross-service configuration.
    def service_port(host: str, port: int) -> dict | None:
        for s in services:
            if s["metadata"]["name"] == host:
                for sp in s["spec"].get("ports") or []:
                    if sp["port"] == port:
                        return sp
        return None

    def check_url(comp: str, var: str, target: str, target_port_name: str) -> None:
        env = env_by_component.get(comp) or {}
        if var not in env:
            return
        url = str(env[var][1])
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        sp = service_port(parts.hostname or "", port)
        if sp is None:
            fail(f"Deployment/{comp}", f"{var}={url}: no Service {parts.hostname} with port {port}")
            return
        tw = by_component.get(target)
        if tw and tw.resolve_port(sp.get("targetPort", sp["port"])) != tw.resolve_port(target_port_name):
            fail(f"Deployment/{comp}", f"{var}={url} does not reach {target}'s {target_port_name} port")

    check_url("gateway", "PINIT_GATEWAY_AUTH_URL", "auth", "http")
    check_url("gateway", "PINIT_GATEWAY_TASK_URL", "task", "http")
    check_url("gateway", "PINIT_GATEWAY_NOTIFICATION_URL", "notification", "http")
    check_url("notification", "PINIT_NOTIFICATION_TASK_GRPC_URL", "task", "grpc")
    if "task" in by_component:
        grpc = by_component["task"].resolve_port("grpc")
        want = int(str(((env_by_component.get("task") or {}).get("PINIT_TASK_GRPC_PORT") or ("", 9090))[1]))
        if grpc != want:
            fail("Deployment/task", f"container port grpc ({grpc}) is not PINIT_TASK_GRPC_PORT ({want})")
    issuer = ((env_by_component.get("auth") or {}).get("PINIT_AUTH_ISSUER") or ("", None))[1]
    expected = ((env_by_component.get("gateway") or {}).get("PINIT_GATEWAY_TOKEN_ISSUER") or ("", None))[1]
    if issuer != expected:
        fail("ConfigMap", f"auth.issuer {issuer!r} and gateway.token_issuer {expected!r} differ; tokens would "
                          "be refused")

    # Migration Jobs.
    for ctx in CONTEXTS:
        matching = [j for j in jobs if j.containers and
                    (list(j.containers[0].get("command") or []) + list(j.containers[0].get("args") or []))
                    == ["migrate", "--service", ctx]]
        if not matching:
            fail("Job", f"no Job runs `pinit migrate --service {ctx}`")
        for j in matching:
            env = env_of(j.containers[0], configmaps)
            var = f"PINIT_{ctx.upper()}_DATABASE_URL"
            if var not in env:
                fail(j.where, f"{var} is not set")
            elif env[var][0] != "secret":
                fail(j.where, f"{var} must come from a Secret")
            if j.pod.get("restartPolicy") not in ("OnFailure", "Never"):
                fail(j.where, "restartPolicy must be OnFailure or Never")

    # Services.
    for s in services:
        sel = s["spec"].get("selector")
        where = ident(s)
        if not sel:
            fail(where, "has no selector")
            continue
        targets = [w for w in workloads if w.kind != "Job" and w.namespace == s["metadata"].get("namespace")
                   and labels_match({"matchLabels": sel}, w.labels)]
        if not targets:
            fail(where, f"selector {sel} matches no workload")
            continue
        for sp in s["spec"].get("ports") or []:
            tp = sp.get("targetPort", sp["port"])
            for t in targets:
                if t.resolve_port(tp) is None:
                    fail(where, f"port {sp.get('name', sp['port'])}: targetPort {tp} is not a port of {t.where}")
    for w in deployments:
        if not any(s["spec"].get("selector") and labels_match({"matchLabels": s["spec"]["selector"]}, w.labels)
                   for s in services):
            fail(w.where, "no Service selects it")
    for w in workloads:
        if w.kind in ("Deployment", "StatefulSet"):
            if not labels_match(w.doc["spec"].get("selector"), w.labels):
                fail(w.where, "spec.selector does not match the pod template's labels")

    # Ingress.
    ingresses = [d for d in docs if d["kind"] == "Ingress"]
    if not ingresses:
        fail("Ingress", "no Ingress")
    for ing in ingresses:
        where = ident(ing)
        if ing["spec"].get("ingressClassName") != "traefik":
            fail(where, "ingressClassName must be traefik")
        for rule in ing["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                svc = path["backend"].get("service") or {}
                port = svc.get("port") or {}
                matches = [s for s in services if s["metadata"]["name"] == svc.get("name")]
                if not matches:
                    fail(where, f"backend Service {svc.get('name')} does not exist")
                    continue
                sports = matches[0]["spec"].get("ports") or []
                if not any(sp.get("name") == port.get("name") if "name" in port else sp["port"] == port.get("number")
                           for sp in sports):
                    fail(where, f"backend port {port} is not a port of Service {svc.get('name')}")
                gateway = by_component.get("gateway")
                if gateway and not labels_match({"matchLabels": matches[0]["spec"].get("selector") or {}},
                                                gateway.labels):
                    fail(where, f"routes to {svc.get('name')}, which is not the gateway")

    # Network policy.
    check_network(overlay, docs, workloads, fail)

    # Replicas, PDBs, HPAs.
    hpas = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for w in deployments:
        replicas = w.doc["spec"].get("replicas")
        hpa = [h for h in hpas if h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
               and h["spec"]["scaleTargetRef"].get("name") == w.name]
        pdb = [d for d in pdbs if labels_match(d["spec"].get("selector"), w.labels)]
        if overlay == "k3s" and replicas != 1:
            fail(w.where, f"replicas is {replicas}; the single-node k3s overlay runs 1")
        if overlay == "production":
            if not hpa:
                fail(w.where, "no HorizontalPodAutoscaler")
            if not pdb:
                fail(w.where, "no PodDisruptionBudget")
        for h in hpa:
            if h["spec"].get("minReplicas", 1) < 2:
                fail(ident(h), "minReplicas must be at least 2")
            if replicas is not None:
                fail(w.where, "has both a replicas field and an HPA; every apply would reset the HPA's count")
            if not any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
                       for m in h["spec"].get("metrics") or []):
                fail(ident(h), "does not scale on CPU")
        for d in pdb:
            floor = (replicas if replicas is not None else min((h["spec"].get("minReplicas", 1) for h in hpa),
                                                               default=1))
            if str(d["spec"].get("maxUnavailable", "")) in ("0", "0%") or d["spec"].get("minAvailable", 0) in (
                    floor, "100%"):
                fail(ident(d), f"would block every eviction of {w.where} ({floor} replicas)")
    if overlay == "k3s":
        for infra in INFRA_CLIENTS:
            if not any(w.kind == "StatefulSet" and w.labels.get("app.kubernetes.io/name") == infra
                       for w in workloads):
                fail("StatefulSet", f"the self-contained k3s overlay has no {infra}")
    if overlay == "production":
        for w in workloads:
            if w.labels.get("app.kubernetes.io/name") in INFRA_CLIENTS:
                fail(w.where, "production uses external PostgreSQL/RabbitMQ")


def check_network(overlay: str, docs: list[dict], workloads: list[Workload], fail) -> None:
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    if not any(not (d["spec"].get("podSelector") or {}) and "Ingress" in (d["spec"].get("policyTypes") or [])
               and not d["spec"].get("ingress") for d in policies):
        fail("NetworkPolicy", "no default-deny ingress policy (podSelector {} with no ingress rules)")

    def ns_labels(ns: str) -> dict:
        return {"kubernetes.io/metadata.name": ns}

    def allowed(src_ns: str, src_labels: dict, dst: Workload, port_number: int) -> bool:
        applicable = []
        for pol in policies:
            spec = pol["spec"]
            types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if spec.get("egress") else []))
            if pol["metadata"].get("namespace") == dst.namespace and "Ingress" in types and labels_match(
                    spec.get("podSelector"), dst.labels):
                applicable.append(pol)
        if not applicable:
            return True
        for pol in applicable:
            for rule in pol["spec"].get("ingress") or []:
                peers = rule.get("from") or []
                peer_ok = not peers or any(
                    ("podSelector" in peer or "namespaceSelector" in peer)
                    and ("namespaceSelector" in peer and labels_match(peer["namespaceSelector"], ns_labels(src_ns))
                         or "namespaceSelector" not in peer and src_ns == pol["metadata"].get("namespace"))
                    and ("podSelector" not in peer or labels_match(peer["podSelector"], src_labels))
                    for peer in peers)
                ports = rule.get("ports") or []
                port_ok = not ports or any(
                    pr.get("protocol", "TCP") == "TCP"
                    and (pr.get("port") is None or dst.resolve_port(pr["port"]) == port_number
                         or (isinstance(pr["port"], int) and pr["port"] <= port_number <= pr.get("endPort", pr["port"])))
                    for pr in ports)
                if peer_ok and port_ok:
                    return True
        return False

    # Sources: every workload here, plus typical outsiders.
    sources = [(f"{w.where}", NAMESPACE, w.labels) for w in workloads]
    traefik = ("Traefik (kube-system)", "kube-system", {"app.kubernetes.io/name": "traefik"})
    prometheus = ("Prometheus (monitoring)", "monitoring", {"app.kubernetes.io/name": "prometheus"})
    outsiders = [traefik, prometheus,
                 ("a kube-system pod", "kube-system", {"k8s-app": "kube-dns"}),
                 ("a pod in default", "default", {"run": "debug"}),
                 ("a stray pod in pinit", NAMESPACE, {"run": "debug"})]
    sources += outsiders

    def expect(dst: Workload, port_name: str, allowed_sources: set[str]) -> None:
        number = dst.resolve_port(port_name)
        if number is None:
            return
        for label, ns, labels in sources:
            if label == dst.where:
                continue
            ok = allowed(ns, labels, dst, number)
            want = label in allowed_sources
            if ok and not want:
                fail(f"NetworkPolicy", f"{label} can reach {dst.where} port {port_name}; it must not")
            if want and not ok:
                fail(f"NetworkPolicy", f"{label} cannot reach {dst.where} port {port_name}; it must")

    by_component = {w.component: w for w in workloads if w.pinit and w.kind == "Deployment"}
    names = {w.component: w.where for w in workloads if w.pinit}
    for comp, w in by_component.items():
        if comp == "gateway":
            expect(w, "http", {traefik[0]})
        else:
            expect(w, "http", {names.get("gateway", "")})
        if comp == "task":
            expect(w, "grpc", {names.get("notification", "")})
        expect(w, "metrics", {prometheus[0]})
    for w in workloads:
        infra = w.labels.get("app.kubernetes.io/name")
        if infra in INFRA_CLIENTS and w.kind == "StatefulSet":
            clients = {src.where for src in workloads if src.pinit and src.component in INFRA_CLIENTS[infra]}
            for name, _number in w.ports():
                expect(w, name, clients)


def check_dockerfile(path: str, p: Problems) -> int | None:
    text = open(path, encoding="utf-8").read()
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    args = {}
    stages: list[list[str]] = []
    for line in lines:
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args[k.strip()] = v.strip()
        if instr == "FROM":
            stages.append([])
        if stages:
            expanded = re.sub(r"[$][{]?(\w+)[}]?", lambda m: args.get(m.group(1), m.group(0)), rest)
            stages[-1].append(f"{instr} {expanded}")
    where = path
    if len(stages) < 2:
        p.add(where, "must be a multi-stage build")
        return None
    builds = [l for s in stages for l in s if l.startswith("RUN") and "cargo build" in l]
    if not any(re.search(r"cargo build .*--release", l) and "--locked" in l and "-p pinit" in l for l in builds):
        p.add(where, "no `cargo build --release --locked -p pinit`")
    if not any(l.startswith("FROM rust:") and "bookworm" in l for s in stages for l in s[:1]):
        p.add(where, "the builder should be rust:*-bookworm (same glibc as the runtime)")
    final = stages[-1]
    base = final[0].split()[1]
    if not (base.startswith("debian:bookworm-slim") or base.startswith("gcr.io/distroless/cc")):
        p.add(where, f"runtime image {base}: expected debian:bookworm-slim or distroless/cc")
    users = [l.split()[1] for l in final if l.startswith("USER ")]
    uid = None
    if not users:
        p.add(where, "the runtime stage has no USER (would run as root)")
    else:
        try:
            uid = int(users[-1].split(":")[0])
        except ValueError:
            p.add(where, f"USER {users[-1]}: use a numeric uid so runAsNonRoot can verify it")
        if uid is not None and uid != PINIT_UID:
            p.add(where, f"USER {uid}, expected {PINIT_UID}")
    if not any(re.fullmatch(r'ENTRYPOINT \[\s*"(/usr/local/bin/)?pinit"\s*\]', l) for l in final):
        p.add(where, 'ENTRYPOINT must be ["pinit"] (one image, every command as arguments)')
    exposed = {x.split("/")[0] for l in final if l.startswith("EXPOSE ") for x in l.split()[1:]}
    for port in ("8080", "9095"):
        if port not in exposed:
            p.add(where, f"does not EXPOSE {port}")
    if not any(l.startswith("ENV ") and "PINIT_LOG_FORMAT=json" in l for l in final):
        p.add(where, "PINIT_LOG_FORMAT=json is not the image's default")
    if not any("ca-certificates" in l for l in final) and "distroless" not in base:
        p.add(where, "the runtime has no ca-certificates")
    check_skeleton(path, p)
    ignore = os.path.join(os.path.dirname(os.path.abspath(path)), "..", ".dockerignore")
    if not os.path.exists(ignore):
        p.add(".dockerignore", "missing at the repository root")
    else:
        entries = {l.strip().strip("/") for l in open(ignore, encoding="utf-8") if l.strip() and not l.startswith("#")}
        for must in ("target", "pinit-data"):
            if must not in entries:
                p.add(".dockerignore", f"does not exclude {must}/")
        if not any("node_modules" in e for e in entries):
            p.add(".dockerignore", "does not exclude web/tests/node_modules")
    return uid


def check_skeleton(dockerfile: str, p: Problems) -> None:
    """The Dockerfile's dependency layer builds a skeleton of the workspace: the manifests of crates/* and bench,
    with constant stubs for src/lib.rs, src/main.rs, build.rs and every .rs file under src/bin, benches, tests
    and examples. Cargo refuses a manifest whose declared targets are missing, so every member and target must
    be where the skeleton puts one."""
    root = os.path.join(os.path.dirname(os.path.abspath(dockerfile)), "..")
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        return
    try:
        workspace = tomllib.load(open(os.path.join(root, "Cargo.toml"), "rb"))
    except FileNotFoundError:
        return
    stubbed = ("src/bin/", "benches/", "tests/", "examples/")
    for member in (workspace.get("workspace") or {}).get("members") or []:
        if member not in ("crates/*", "bench"):
            p.add(dockerfile, f"workspace member {member!r} is not in the skeleton (crates/*, bench)")
    manifests = [os.path.join(root, "bench", "Cargo.toml")]
    crates = os.path.join(root, "crates")
    if os.path.isdir(crates):
        manifests += [os.path.join(crates, d, "Cargo.toml") for d in sorted(os.listdir(crates))]
    for manifest in manifests:
        if not os.path.exists(manifest):
            continue
        data = tomllib.load(open(manifest, "rb"))
        rel = os.path.relpath(manifest, root)
        build = (data.get("package") or {}).get("build")
        if isinstance(build, str) and build != "build.rs":
            p.add(dockerfile, f"{rel}: build script {build} is not stubbed by the skeleton")
        lib = (data.get("lib") or {}).get("path")
        if lib and lib != "src/lib.rs":
            p.add(dockerfile, f"{rel}: [lib] path {lib} is not stubbed by the skeleton")
        for table in ("bin", "bench", "test", "example"):
            for target in data.get(table) or []:
                path_ = target.get("path")
                if path_ and path_ != "src/main.rs" and not path_.startswith(stubbed):
                    p.add(dockerfile, f"{rel}: [[{table}]] {target.get('name')} at {path_} is not stubbed by "
                                      "the skeleton")


def check_binary(overlay: str, docs: list[dict], pinit: str, secrets_docs, p: Problems) -> None:
    """Runs `pinit config --for <command>` with each Pinit container's environment. The files of mounted
    ConfigMaps and Secrets that create-secrets.sh makes are written to a scratch directory, and the settings
    naming a path in such a mount point there instead (the mount paths do not exist on this machine)."""
    with tempfile.TemporaryDirectory(prefix="pinit-check-files-") as scratch:
        run_binary(overlay, docs, pinit, secrets_docs, scratch, p)


def dummy_secret(name: str) -> str:
    """A stand-in for a Secret's value that create-secrets.sh did not render (the base has no Secrets)."""
    if name == IDENTITY_ENV:
        return base64.b64encode(os.urandom(32)).decode()
    if "AMQP" in name:
        return "amqp://pinit:password@rabbitmq:5672/pinit"
    return "postgres://pinit:password@postgres:5432/pinit"


def mounted_files(w: Workload, mount: dict, generated: dict, configmaps: dict, root: str) -> str | None:
    """Writes the files of the ConfigMap/Secret behind `mount` under `root`; returns the directory, or None."""
    v = w.volume(mount["name"])
    if "configMap" in v:
        name = v["configMap"]["name"]
        doc = generated.get(name) or ({"kind": "ConfigMap", "data": configmaps[name]} if name in configmaps else None)
    elif "secret" in v:
        doc = generated.get(v["secret"]["secretName"])
    else:
        return None
    if doc is None:
        return None
    os.makedirs(root, exist_ok=True)
    for key, value in (doc.get("data") or {}).items():
        content = base64.b64decode(value) if doc["kind"] == "Secret" else str(value).encode()
        with open(os.path.join(root, key), "wb") as f:
            f.write(content)
    for key, value in (doc.get("binaryData") or {}).items():
        with open(os.path.join(root, key), "wb") as f:
            f.write(base64.b64decode(value))
    return root


def run_binary(overlay: str, docs: list[dict], pinit: str, secrets_docs, scratch: str, p: Problems) -> None:
    configmaps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}
    generated = {d["metadata"]["name"]: d for d in secrets_docs or []}
    for w in (Workload(d) for d in docs if d["kind"] in ("Deployment", "Job")):
        if not w.pinit or not w.containers:
            continue
        c = w.containers[0]
        argv = list(c.get("args") or [])
        mode = argv[0] if argv and argv[0] in SERVICES else "serve"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for name, (source, value) in env_of(c, configmaps).items():
            if source in ("value", "configMap"):
                env[name] = str(value)
            elif source == "secret":
                sname, key, optional = value
                data = (generated.get(sname) or {}).get("data") or {}
                if key in data:
                    env[name] = base64.b64decode(data[key]).decode()
                elif not optional:
                    env[name] = dummy_secret(name)
        for m in c.get("volumeMounts") or []:
            root = mounted_files(w, m, generated, configmaps, os.path.join(scratch, w.kind, w.name, m["name"]))
            mount_path = m["mountPath"].rstrip("/")
            for name, value in list(env.items()):
                if root and name.startswith("PINIT_") and (value == mount_path or value.startswith(mount_path + "/")):
                    env[name] = root + value[len(mount_path):]
        run = subprocess.run([pinit, "config", "--for", mode], env=env, capture_output=True, text=True,
                             timeout=60)
        where = f"{overlay}: {w.where}"
        if run.returncode != 0:
            p.add(where, f"`pinit config --for {mode}` refuses this environment: {run.stderr.strip()}")
        elif "ignoring environment variable" in run.stderr or '"level":"WARN"' in run.stderr:
            p.add(where, f"`pinit config --for {mode}` warns: {run.stderr.strip()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=RULES)
    ap.add_argument("--kubernetes-version", required=True)
    ap.add_argument("--secrets", action="append", default=[], metavar="OVERLAY=FILE")
    ap.add_argument("--dockerfile")
    ap.add_argument("--pinit", help="a pinit binary: check each Deployment's environment with `pinit config`")
    ap.add_argument("--config-rs", default=os.path.join(os.path.dirname(__file__), "..", "crates", "pinit", "src",
                                                        "config.rs"))
    ap.add_argument("rendered", nargs="+", metavar="OVERLAY=FILE")
    a = ap.parse_args()
    global kv
    try:
        import kubernetes_validate.utils as kv
    except ImportError:
        sys.exit("check_manifests: the Python package kubernetes-validate is missing (deploy/check.sh installs it "
                 "into target/deploy-check-venv)")

    p = Problems()
    sections, top = read_sections(a.config_rs)
    uid = check_dockerfile(a.dockerfile, p) if a.dockerfile else None
    secrets = {}
    for item in a.secrets:
        name, _, path = item.partition("=")
        secrets[name] = load(path)
        check_schema(f"{name} secrets", secrets[name], a.kubernetes_version, p)
    for item in a.rendered:
        name, _, path = item.partition("=")
        docs = load(path)
        if not docs:
            p.add(name, "renders no documents")
            continue
        check_schema(name, docs, a.kubernetes_version, p)
        check_overlay(name, docs, a, sections, top, uid, secrets.get(name), p)
        if a.pinit:
            check_binary(name, docs, a.pinit, secrets.get(name), p)
        kinds: dict[str, int] = {}
        for d in docs:
            kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
        print(f"  {name}: {len(docs)} documents ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})")
    for item in p.items:
        print(f"FAIL {item}")
    if p.items:
        print(f"{len(p.items)} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
