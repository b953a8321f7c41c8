"""CodePipeline: executions really run (localcloud/pipeline/codepipeline.py), and the API reports them;
timestamps as epoch numbers (GetPipeline's metadata, GetPipelineState's created/updated) for the Terraform
provider and every SDK.

moto marks an execution Succeeded the moment it starts and knows no GetPipelineState, ListActionExecutions or
StopPipelineExecution; these answers come from the executor instead, in botocore's shapes.
"""

from __future__ import annotations

import json

from moto.codepipeline.responses import CodePipelineResponse

from localcloud import config
from localcloud.patches._json_protocol import wrap_call_action
from localcloud.pipeline import codepipeline


def caller_arn(response: CodePipelineResponse) -> str:
    """Who called (StartPipelineExecution's triggerDetail): the session, user or, for the admin key pair of
    the harness, the account root."""
    from localcloud.iam import principals

    identity = principals.caller(response.headers)
    arn = identity.principal.caller_arn if identity is not None else ""
    return arn or f"arn:aws:iam::{response.current_account}:root"


def start_pipeline_execution(self) -> str:
    execution_id = codepipeline.start_execution(
        self._get_param("name"),
        trigger_type="StartPipelineExecution",
        trigger_detail=caller_arn(self),
        account_id=self.current_account,
        region=self.region or config.REGION,
        variables=self._get_param("variables"),
    )
    return json.dumps({"pipelineExecutionId": execution_id})


def get_pipeline_state(self) -> str:
    return json.dumps(codepipeline.pipeline_state(self._get_param("name"), self.current_account, self.region))


def get_pipeline_execution(self) -> str:
    view = codepipeline.execution_view(
        self._get_param("pipelineName"),
        self._get_param("pipelineExecutionId"),
        self.current_account,
        self.region,
    )
    return json.dumps({"pipelineExecution": view})


def list_pipeline_executions(self) -> str:
    answer = codepipeline.execution_summaries(
        self._get_param("pipelineName"),
        max_results=self._get_param("maxResults"),
        next_token=self._get_param("nextToken"),
        succeeded_in_stage=(self._get_param("filter") or {}).get("succeededInStage", {}).get("stageName"),
        account_id=self.current_account,
        region=self.region,
    )
    return json.dumps(answer)


def list_action_executions(self) -> str:
    answer = codepipeline.action_executions(
        self._get_param("pipelineName"),
        execution_id=(self._get_param("filter") or {}).get("pipelineExecutionId"),
        max_results=self._get_param("maxResults"),
        next_token=self._get_param("nextToken"),
        account_id=self.current_account,
        region=self.region,
    )
    return json.dumps(answer)


def stop_pipeline_execution(self) -> str:
    execution_id = codepipeline.stop_execution(
        self._get_param("pipelineName"),
        self._get_param("pipelineExecutionId"),
        abandon=bool(self._get_param("abandon")),
        reason=self._get_param("reason"),
        account_id=self.current_account,
        region=self.region,
    )
    return json.dumps({"pipelineExecutionId": execution_id})


def apply() -> None:
    CodePipelineResponse.start_pipeline_execution = start_pipeline_execution
    CodePipelineResponse.get_pipeline_state = get_pipeline_state
    CodePipelineResponse.get_pipeline_execution = get_pipeline_execution
    CodePipelineResponse.list_pipeline_executions = list_pipeline_executions
    CodePipelineResponse.list_action_executions = list_action_executions
    CodePipelineResponse.stop_pipeline_execution = stop_pipeline_execution
    wrap_call_action(CodePipelineResponse, "codepipeline")
