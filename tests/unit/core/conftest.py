"""Fixtures of the render-core tests: the example spec, generated specs, and in-process moto S3 + KMS."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

from harness.paths import REPO
from render_worker import aws, cost

ROOT = REPO
EXAMPLE = ROOT / "examples" / "catalog.example.json"
# ValidateInput's sizing model as envs/local sets it (modules/functions writes these variables).
SIZING_ENV = {
    "SIZING_CHILD_VARIANTS_PER_S": "200",
    "SIZING_CHILD_START_S": "0.5",
    "SIZING_STORAGE_PUTS_PER_S": "250",
    "SIZING_MAX_PARALLEL_CHILDREN": "2",
}
# What modules/functions writes beside them: the job queues by priority, one child's resources, the prices.
JOB_QUEUES = {
    "bulk": "arn:aws:batch:us-east-1:123456789012:job-queue/farm-queue",
    "urgent": "arn:aws:batch:us-east-1:123456789012:job-queue/farm-urgent-queue",
}
RUN_ENV = {
    **SIZING_ENV,
    "JOB_QUEUES": json.dumps(JOB_QUEUES),
    "JOB_VCPU": "2",
    "JOB_MEMORY_MIB": "4096",
    "COST_PRICES": cost.load_prices(
        json.loads((REPO / "config" / "prices.json").read_text()), "us-east-1"
    ).to_json(),
}


@pytest.fixture
def example_path() -> Path:
    return EXAMPLE


@pytest.fixture
def example_doc() -> dict:
    return json.loads(EXAMPLE.read_text())


def generated_spec(products: int, per_product: int, **options) -> dict:
    """A valid spec of products x per_product variants, cycling the example's three templates."""
    base = json.loads(EXAMPLE.read_text())
    doc = {k: v for k, v in base.items() if k != "products"}
    doc["products"] = []
    for p in range(products):
        template = base["products"][p % 3]
        product = copy.deepcopy({k: v for k, v in template.items() if k != "variants"})
        product["product_id"] = f"{template['product_id']}-{p:04d}"
        product["variants"] = [
            {
                **template["variants"][v % len(template["variants"])],
                "sku": f"P{p:04d}-V{v:05d}",
            }
            for v in range(per_product)
        ]
        doc["products"].append(product)
    if options:
        doc["options"] = options
    return doc


def schema_nodes(node, where: str = "#"):
    """(location, object) of every object in a schema, depth first."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from schema_nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schema_nodes(value, f"{where}/{i}")


@pytest.fixture
def aws_env(monkeypatch):
    """Credentials and region for moto; no endpoint, so nothing can leak to a running local cloud."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture
def cloud(aws_env):
    """In-process moto with a specs bucket, a renders bucket and a KMS key; yields (s3, kms_key_id)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        aws.reset()
        s3 = boto3.client("s3", region_name="us-east-1")
        kms = boto3.client("kms", region_name="us-east-1")
        key_id = kms.create_key(Description="storage")["KeyMetadata"]["KeyId"]
        s3.create_bucket(Bucket="specs")
        s3.create_bucket(Bucket="renders")
        yield s3, key_id
        aws.reset()


def load_handler(name: str):
    """A Lambda's handler, loaded from lambdas/<name>/handler.py as the runtime loads it."""
    spec = importlib.util.spec_from_file_location(f"lambda_{name}", ROOT / "lambdas" / name / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@pytest.fixture
def functions(cloud, monkeypatch):
    """(s3, key id, validate handler, publish handler), the functions' environment as Terraform sets it."""
    s3, key_id = cloud
    monkeypatch.setenv("RENDERS_BUCKET", "renders")
    monkeypatch.setenv("OUTPUT_KMS_KEY_ID", key_id)
    for name, value in RUN_ENV.items():
        monkeypatch.setenv(name, value)
    return s3, key_id, load_handler("validate_input"), load_handler("publish_results")
