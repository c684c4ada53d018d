"""Self-test of deploy/check.sh: breaks the deployment files in known ways, one at a time, in a scratch copy,
and makes sure check.sh fails and names the problem. Not run by CI (about two minutes).

    python3 deploy/check_selftest.py
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCRATCH = tempfile.mkdtemp(prefix="pinit-check-selftest-")


def setup():
    d = os.path.join(SCRATCH, "repo")
    shutil.rmtree(d, ignore_errors=True)
    # crates/: config.rs for the setting names, the sources for the metrics the dashboard may query.
    shutil.copytree(ROOT+'/crates', d+'/crates', ignore=shutil.ignore_patterns('target', '*.json', '*.sql'))
    shutil.copytree(ROOT+'/deploy', d+'/deploy')
    shutil.copy(ROOT+'/.dockerignore', d)
    return d
M = [
 ('maxUnavailable', 'deploy/k8s/base/auth.yaml', 'maxUnavailable: 0', 'maxUnavailable: 1', 'maxUnavailable is 1'),
 ('no readiness', 'deploy/k8s/base/task.yaml', 'readinessProbe:', 'xreadinessProbe:', 'xreadinessProbe'),
 ('grace', 'deploy/k8s/base/gateway.yaml', 'terminationGracePeriodSeconds: 35', 'terminationGracePeriodSeconds: 25', 'terminationGracePeriodSeconds 25 must exceed'),
 ('jwt in gateway', 'deploy/k8s/base/gateway.yaml', '      volumes:\n', '      volumes:\n        - name: keys\n          secret:\n            secretName: pinit-jwt-keys\n            defaultMode: 0440\n', 'only auth may'),
 ('selector typo', 'deploy/k8s/base/task.yaml', '  selector:\n    app.kubernetes.io/name: pinit\n    app.kubernetes.io/component: task', '  selector:\n    app.kubernetes.io/name: pinit\n    app.kubernetes.io/component: taks', 'matches no workload'),
 ('np from task', 'deploy/k8s/base/networkpolicy.yaml', "              app.kubernetes.io/component: gateway\n      ports:\n        - port: http", "              app.kubernetes.io/component: task\n      ports:\n        - port: http", 'cannot reach Deployment/auth port http'),
 ('drain 40s', 'deploy/k8s/base/pinit.env', 'PINIT_SHUTDOWN_DRAIN_TIMEOUT=20s', 'PINIT_SHUTDOWN_DRAIN_TIMEOUT=40s', 'drain_timeout 40s'),
 ('schema', 'deploy/k8s/base/notification.yaml', 'maxSurge: 1', 'maxSurg: 1', 'schema'),
 ('creds in cm', 'deploy/k8s/base/pinit.env', 'PINIT_LOG_LEVEL=info', 'PINIT_LOG_LEVEL=info\nPINIT_AMQP_URL=amqp://u:p@mq/x', 'looks like a credential'),
 ('docker user', 'deploy/Dockerfile', 'USER 10001:10001', '', 'no USER'),
 ('root', 'deploy/k8s/base/task.yaml', 'runAsUser: 10001', 'runAsUser: 0', 'uid 0'),
 ('pg from gateway', 'deploy/k8s/overlays/k3s/postgres.yaml', 'values: ["auth", "task", "notification", "migrate"]', 'values: ["auth", "task", "notification", "migrate", "gateway"]', 'Deployment/gateway can reach StatefulSet/postgres'),
 ('hpa min 1', 'deploy/k8s/overlays/production/hpa.yaml', 'minReplicas: 2', 'minReplicas: 1', 'minReplicas must be at least 2'),
 ('issuer', 'deploy/k8s/overlays/production/kustomization.yaml', '- PINIT_GATEWAY_TOKEN_ISSUER=https://pinit.example.com', '- PINIT_GATEWAY_TOKEN_ISSUER=https://other.example.com', 'differ'),
 ('env typo', 'deploy/k8s/overlays/production/kustomization.yaml', 'PINIT_GATEWAY_HSTS=true', 'PINIT_GATEWY_HSTS=true', 'not a Pinit setting'),
 ('secret key', 'deploy/k8s/base/auth.yaml', 'key: url', 'key: uri', 'has no key uri'),
 ('latest', 'deploy/k8s/overlays/production/kustomization.yaml', 'newTag: 0.1.0', 'newTag: latest', 'pinned tag'),
 ('grpc url', 'deploy/k8s/base/pinit.env', 'PINIT_NOTIFICATION_TASK_GRPC_URL=http://task:9090', 'PINIT_NOTIFICATION_TASK_GRPC_URL=http://task:9091', 'no Service task with port 9091'),
 ('kustomize broken', 'deploy/k8s/overlays/k3s/kustomization.yaml', '  - rabbitmq.yaml', '  - rabbitmq.yml', 'kubectl kustomize failed'),
 ('no prestop', 'deploy/k8s/base/auth.yaml', 'command: ["sleep", "5"]', 'command: ["true"]', 'no preStop sleep'),
 ('no identity key', 'deploy/k8s/base/gateway.yaml', 'name: PINIT_INTERNAL_IDENTITY_KEY', 'name: PINIT_INTERNAL_IDENTITY_KEYS', 'PINIT_INTERNAL_IDENTITY_KEY is not set'),
 ('identity differs', 'deploy/k8s/base/task.yaml', 'name: pinit-internal-identity', 'name: pinit-amqp', 'comes from different Secret keys'),
 ('identity in migrate', 'deploy/k8s/base/migrate.yaml', '                  name: pinit-auth-database\n                  key: url\n', '                  name: pinit-auth-database\n                  key: url\n            - name: PINIT_INTERNAL_IDENTITY_KEY\n              valueFrom:\n                secretKeyRef:\n                  name: pinit-internal-identity\n                  key: key\n', 'only the four services need it'),
 ('ca not mounted', 'deploy/k8s/overlays/production/kustomization.yaml', 'PINIT_TLS_CA_FILE=/etc/pinit/tls/ca.pem', 'PINIT_TLS_CA_FILE=/etc/pinit/certs/ca.pem', 'no volume is mounted there'),
 ('ca file name', 'deploy/k8s/overlays/production/kustomization.yaml', 'PINIT_TLS_CA_FILE=/etc/pinit/tls/ca.pem', 'PINIT_TLS_CA_FILE=/etc/pinit/tls/root.pem', 'ConfigMap pinit-tls-ca has no root.pem'),
 ('sslmode', 'deploy/k8s/overlays/production/kustomization.yaml', 'PINIT_DATABASE_SSL_MODE=verify-full', 'PINIT_DATABASE_SSL_MODE=require', 'production connects with verify-full'),
 ('no CA file', 'deploy/check.sh', 'ca="$work/ca.pem"', 'ca=""', 'set TLS_CA_FILE or pass --ca FILE'),
]
def check(d):
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target"))
    env.pop("PINIT", None)
    r = subprocess.run(['bash', 'deploy/check.sh'], cwd=d, capture_output=True, text=True, env=env)
    return r, r.stdout + r.stderr


# The unchanged copy passes: a failure below is then the mutation's.
r, out = check(setup())
if r.returncode != 0:
    sys.exit(f"check.sh fails on an unchanged copy:\n{out}")
ok = True
for name, f, a, b, expect in M:
    d = setup()
    p = os.path.join(d, f); s = open(p).read()
    assert a in s, (name, a)
    open(p, 'w').write(s.replace(a, b, 1))
    r, out = check(d)
    hit = r.returncode != 0 and expect in out
    ok &= hit
    first = [l for l in out.splitlines() if 'FAIL' in l][:2]
    print(('OK  ' if hit else 'MISS'), name, '|', ' || '.join(first)[:300])
shutil.rmtree(SCRATCH, ignore_errors=True)
print(f"{len(M)} mutations: " + ("all caught" if ok else "SOME MISSED"))
sys.exit(0 if ok else 1)
