"""A proxyless gRPC C-core client (grpcio) under steady traffic, for replica-failover.test.ts: dials
xds:///infermesh (GRPC_XDS_BOOTSTRAP names the bootstrap) and calls Triton's ModelInfer for MODEL with
x-model: MODEL, one call at a time, GAP_MS apart, until its stdin closes (only calls before the first answer wait for the
channel to be ready). Prints one JSON line per call:
{"at": epoch ms, "outcome": the pod that answered (x-served-by) or the status code name}.

Usage: replica_failover_client.py MODEL GAP_MS
No generated code: the request (field 1, model_name) is encoded by hand, so it needs nothing but grpcio.
"""
import json
import sys
import threading
import time

import grpc


def main() -> int:
    model, gap_ms = sys.argv[1], float(sys.argv[2])
    request = b"\x0a" + bytes([len(model)]) + model.encode()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    with grpc.insecure_channel("xds:///infermesh") as channel:
        infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=lambda r: r,
            response_deserializer=lambda r: r,
        )
        # Calls wait for the first configuration only: afterwards a channel in trouble must show as failures.
        served = False
        while not stop.is_set():
            try:
                _, call = infer.with_call(request, metadata=[("x-model", model)], timeout=5, wait_for_ready=not served)
                outcome = dict(call.initial_metadata()).get("x-served-by", "?")
                served = True
            except grpc.RpcError as error:
                outcome = error.code().name
            print(json.dumps({"at": int(time.time() * 1000), "outcome": outcome}), flush=True)
            time.sleep(gap_ms / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
