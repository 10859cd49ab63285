"""A proxyless gRPC client in another language and another xDS implementation (gRPC C-core, through grpcio:
Debian 12's python3-grpcio 1.51, or the current grpcio from PyPI in scripts/grpc-clients.sh's virtualenv):
dials xds:///TARGET and calls Triton's ModelInfer or TF Serving's Predict with the given headers.

Usage: grpc_python_client.py TARGET triton|tfserving MODEL CALLS HEADER=VALUE...
       (GRPC_XDS_BOOTSTRAP names the bootstrap file)
Prints one JSON object: {"pods": {pod: count}, "errors": {code: count}, "messages": {code: last message},
"outcomes": [pod or code, per call in order], "times": [ms since the epoch when each call started],
"grpcio": version}. INFERMESH_CALL_GAP_MS (default 0) pauses
between calls; INFERMESH_MODEL_VERSION (Triton only) puts a model_version in the request body. The same command line and output as go/main.go (grpc-go).

No generated code: the request is encoded by hand (field 1: ModelInferRequest.model_name, or
PredictRequest.model_spec with its field 1, name) and the pod is read from the x-served-by response header,
so the script needs nothing but grpcio.
"""
import json
import os
import sys
import time

import grpc

METHODS = {
    "triton": "/inference.GRPCInferenceService/ModelInfer",
    "tfserving": "/tensorflow.serving.PredictionService/Predict",
}


def field1(payload: bytes) -> bytes:
    assert len(payload) < 128, "one-byte length only"
    return b"\x0a" + bytes([len(payload)]) + payload


def encode_request(kind: str, model: str, version: str) -> bytes:
    name = field1(model.encode())
    if kind != "triton":
        return field1(name)
    # ModelInferRequest.model_version is field 2.
    return name + (b"\x12" + bytes([len(version)]) + version.encode() if version else b"")


def main() -> int:
    target, kind, model, calls, *pairs = sys.argv[1:]
    metadata = [tuple(pair.split("=", 1)) for pair in pairs]
    request = encode_request(kind, model, os.environ.get("INFERMESH_MODEL_VERSION", ""))
    pods: dict = {}
    errors: dict = {}
    messages: dict = {}
    outcomes: list = []
    times: list = []
    gap = float(os.environ.get("INFERMESH_CALL_GAP_MS", "0")) / 1000
    with grpc.insecure_channel(f"xds:///{target}") as channel:
        infer = channel.unary_unary(
            METHODS[kind],
            request_serializer=lambda request: request,
            response_deserializer=lambda response: response,
        )
        for i in range(int(calls)):
            if i > 0 and gap > 0:
                time.sleep(gap)
            times.append(time.time() * 1000)
            try:
                _, call = infer.with_call(request, metadata=metadata, timeout=10, wait_for_ready=True)
                served_by = dict(call.initial_metadata()).get("x-served-by", "?")
                pods[served_by] = pods.get(served_by, 0) + 1
                outcomes.append(served_by)
            except grpc.RpcError as error:
                name = error.code().name
                errors[name] = errors.get(name, 0) + 1
                messages[name] = error.details()
                outcomes.append(name)
    print(json.dumps({"pods": pods, "errors": errors, "messages": messages, "outcomes": outcomes, "times": times, "grpcio": grpc.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
