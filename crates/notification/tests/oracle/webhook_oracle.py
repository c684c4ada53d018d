"""Verifies webhook requests with the `standardwebhooks` package (PyPI), an implementation independent of Pinit's.

stdin: {"secret": "whsec_…", "requests": [{"headers": {"webhook-id": …, "webhook-timestamp": …,
        "webhook-signature": …}, "body": "…"}, …]}
stdout: {"verified": n, "failures": [{"index": i, "error": "…"}, …], "payloads": [<each verified body, parsed>]}

The library checks the signature and that the timestamp is within five minutes of now.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

request = json.load(sys.stdin)
hook = Webhook(request["secret"])
verified = 0
failures = []
payloads = []
for index, r in enumerate(request["requests"]):
    try:
        payloads.append(hook.verify(r["body"], r["headers"]))
        verified += 1
    except WebhookVerificationError as e:
        failures.append({"index": index, "error": str(e)})
json.dump({"verified": verified, "failures": failures, "payloads": payloads}, sys.stdout)
