"""IAM in the local cloud: who calls (principals), what a request asks (requests), whether policies allow it
(policy), the answer AWS gives when they do not (errors), and the record of every decision (record).

Design (one layer for every workload, see localcloud/runtime.py):
  request -> principals.resolve(access key) -> requests.calls(environ, body) -> [Call]
          -> resources.policy_for(call) -> policy.evaluate(principal, call, resource policy) -> Decision
          -> record.add(...) ; a denial is answered by errors.answer(...) in the service's own format.
Admin credentials (the per-boot key pair the harness and Terraform use) bypass evaluation.
"""
