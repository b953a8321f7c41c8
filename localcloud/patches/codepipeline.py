"""CodePipeline for the Terraform provider: timestamps as epoch numbers (GetPipeline's metadata)."""

from __future__ import annotations

from moto.codepipeline.responses import CodePipelineResponse

from localcloud.patches._json_protocol import wrap_call_action


def apply() -> None:
    wrap_call_action(CodePipelineResponse, "codepipeline")
