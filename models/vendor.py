#!/usr/bin/env python3
"""Re-vendors the botocore models haneul serves: newest API version of each service,
documentation stripped, keys sorted. Run from the repo root after `pip install botocore`."""
import gzip
import json
import os

import botocore

SERVICES = ["sts", "ec2", "route53", "route53domains", "acm", "elbv2", "ecs", "ecr", "logs"]
DROP = {"documentation", "documentationUrl", "examples", "deprecatedMessage"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in DROP}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


data = os.path.join(os.path.dirname(botocore.__file__), "data")
for service in SERVICES:
    version = sorted(os.listdir(os.path.join(data, service)))[-1]
    base = os.path.join(data, service, version, "service-2.json")
    opener = gzip.open if os.path.exists(base + ".gz") else open
    with opener(base + ".gz" if opener is gzip.open else base, "rt") as f:
        model = strip(json.load(f))
    with open(os.path.join("models", f"{service}.json"), "w") as f:
        json.dump(model, f, separators=(",", ":"), sort_keys=True)
    print(service, version)
