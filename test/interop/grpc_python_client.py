"""A proxyless gRPC client in another language and another xDS implementation (gRPC C-core, as shipped in
Debian 12's python3-grpcio 1.51): dials xds:///TARGET and calls Triton's ModelInfer with the given headers.

Usage: grpc_python_client.py TARGET CALLS HEADER=VALUE...   (GRPC_XDS_BOOTSTRAP names the bootstrap file)
Prints one JSON object: {"pods": {pod: count}, "errors": {status: count}}.

No generated code: the request is encoded by hand (field 1, model_name) and the pod is read from the
response bytes, so the script needs nothing but grpcio.
"""
import json
import sys

import grpc


def encode_request(model: str) -> bytes:
    name = model.encode()
    return b"\x0a" + bytes([len(name)]) + name


def main() -> int:
    target, calls, *pairs = sys.argv[1:]
    metadata = [tuple(pair.split("=", 1)) for pair in pairs]
    pods: dict = {}
    errors: dict = {}
    with grpc.insecure_channel(f"xds:///{target}") as channel:
        infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=lambda request: request,
            response_deserializer=lambda response: response,
        )
        for _ in range(int(calls)):
            try:
                _, call = infer.with_call(encode_request("resnet50"), metadata=metadata, timeout=10, wait_for_ready=True)
                served_by = dict(call.initial_metadata()).get("x-served-by", "?")
                pods[served_by] = pods.get(served_by, 0) + 1
            except grpc.RpcError as error:
                name = error.code().name
                errors[name] = errors.get(name, 0) + 1
    print(json.dumps({"pods": pods, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
