"""Step Functions API calls the Terraform provider makes and moto lacks.

ValidateStateMachineDefinition (provider >= 5.67, at plan/create) parses the definition with moto's own ASL
parser; ListStateMachineVersions (provider >= 5.11, on read) lists the published versions.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.stepfunctions.responses import StepFunctionResponse


def _diagnostics(definition: str) -> list[dict[str, str]]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        AmazonStateLanguageParser.parse(definition)
    except Exception as err:  # the parser raises many types; all mean "invalid"
        return [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(err)[:1000]}]
    return []


def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    diagnostics = _diagnostics(self._get_param("definition") or "")
    return ActionResult(
        {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False}
    )


def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = [
        {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
        for _, v in sorted(getattr(machine, "versions", {}).items(), reverse=True)
    ]
    return ActionResult({"stateMachineVersions": versions})


def apply() -> None:
    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition
    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions
