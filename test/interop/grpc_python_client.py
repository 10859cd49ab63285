"""A proxyless gRPC client in another language and another xDS implementation (gRPC C-core, through grpcio:
Debian 12's python3-grpcio 1.51, or the current grpcio from PyPI in scripts/grpc-clients.sh's virtualenv):
dials xds:///TARGET and calls Triton's ModelInfer or TF Serving's Predict with the given headers.

Usage: grpc_python_client.py TARGET triton|tfserving MODEL CALLS HEADER=VALUE...
       (GRPC_XDS_BOOTSTRAP names the bootstrap file)
Prints one JSON object: {"pods": {pod: count}, "errors": {code: count}, "messages": {code: last message},
"grpcio": version}. The same command line and output as go/main.go (grpc-go).

No generated code: the request is encoded by hand (field 1: ModelInferRequest.model_name, or
PredictRequest.model_spec with its field 1, name) and the pod is read from the x-served-by response header,
so the script needs nothing but grpcio.
"""
import json
import sys

import grpc

METHODS = {
    "triton": "/inference.GRPCInferenceService/ModelInfer",
    "tfserving": "/tensorflow.serving.PredictionService/Predict",
}


def field1(payload: bytes) -> bytes:
    assert len(payload) < 128, "one-byte length only"
    return b"\x0a" + bytes([len(payload)]) + payload


def encode_request(kind: str, model: str) -> bytes:
    name = field1(model.encode())
    return name if kind == "triton" else field1(name)


def main() -> int:
    target, kind, model, calls, *pairs = sys.argv[1:]
    metadata = [tuple(pair.split("=", 1)) for pair in pairs]
    request = encode_request(kind, model)
    pods: dict = {}
    errors: dict = {}
    messages: dict = {}
    with grpc.insecure_channel(f"xds:///{target}") as channel:
        infer = channel.unary_unary(
            METHODS[kind],
            request_serializer=lambda request: request,
            response_deserializer=lambda response: response,
        )
        for _ in range(int(calls)):
            try:
                _, call = infer.with_call(request, metadata=metadata, timeout=10, wait_for_ready=True)
                served_by = dict(call.initial_metadata()).get("x-served-by", "?")
                pods[served_by] = pods.get(served_by, 0) + 1
            except grpc.RpcError as error:
                name = error.code().name
                errors[name] = errors.get(name, 0) + 1
                messages[name] = error.details()
    print(json.dumps({"pods": pods, "errors": errors, "messages": messages, "grpcio": grpc.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
