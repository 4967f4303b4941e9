"""Step Functions' own API, served by stepq (JSON 1.0 over HTTP).

``boto3.client("stepfunctions", endpoint_url=URL)`` and ``aws stepfunctions
--endpoint-url URL`` talk to it unchanged. One request handler
(``handler.ApiHandler``) serves the local server (``hosting/api_server.py``,
``stepq dev`` and ``stepq worker --role api``) and the Lambda behind API
Gateway (``hosting/lambda_api.py``).

- ``protocol.py``  the wire: requests, responses, the error shape botocore reads
- ``model.py``     botocore's service model for ``stepfunctions``: input checks
- ``registry.py``  ``@operation("Name")``: one function per operation
- ``context.py``   what an operation sees: the store, the runtime, ARNs
- ``arns.py``      ARNs and names, made and checked as Step Functions does
- one module per family of operations (machines, executions, history, ...)
"""
