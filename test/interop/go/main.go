// A proxyless gRPC client with a third, independent xDS implementation (grpc-go's): dials xds:///TARGET
// and calls Triton's ModelInfer or TF Serving's Predict with the given headers. The same command line and
// output as ../grpc_python_client.py, so the interop tests drive both alike.
//
// Usage (GRPC_XDS_BOOTSTRAP names the bootstrap file):
//
//	grpc-go-client TARGET triton|tfserving MODEL CALLS HEADER=VALUE...
//	grpc-go-client --version
//
// Prints one JSON object: {"pods": {pod: count}, "errors": {code: count}, "messages": {code: last message},
// "outcomes": [pod or code, per call in order], "times": [ms since the epoch when each call started],
// "grpc-go": version}. INFERMESH_CALL_GAP_MS (default 0) pauses between calls; INFERMESH_MODEL_VERSION
// (Triton only) puts a model_version in the request body.
//
// No generated code: the request is a hand-encoded protobuf (model name only) sent through a pass-through
// codec, and the pod is read from the x-served-by response header.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and the xDS balancers
)

// rawCodec sends and receives bytes as they are. Named "proto" so the content type stays application/grpc+proto.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// request encodes ModelInferRequest{model_name, model_version} or PredictRequest{model_spec{name}}: the name
// is field 1 both times, ModelInferRequest.model_version field 2 (left out when empty).
func request(kind, model, version string) ([]byte, string, error) {
	name := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), model)
	switch kind {
	case "triton":
		if version != "" {
			name = protowire.AppendString(protowire.AppendTag(name, 2, protowire.BytesType), version)
		}
		return name, "/inference.GRPCInferenceService/ModelInfer", nil
	case "tfserving":
		spec := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), name)
		return spec, "/tensorflow.serving.PredictionService/Predict", nil
	}
	return nil, "", fmt.Errorf("unknown kind %q (triton or tfserving)", kind)
}

func run(args []string) error {
	if len(args) < 4 {
		return fmt.Errorf("usage: grpc-go-client TARGET triton|tfserving MODEL CALLS HEADER=VALUE...")
	}
	target, kind, model := args[0], args[1], args[2]
	calls, err := strconv.Atoi(args[3])
	if err != nil {
		return fmt.Errorf("CALLS: %w", err)
	}
	var pairs []string
	for _, pair := range args[4:] {
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("header %q is not KEY=VALUE", pair)
		}
		pairs = append(pairs, key, value)
	}
	body, method, err := request(kind, model, os.Getenv("INFERMESH_MODEL_VERSION"))
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient("xds:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()

	pods := map[string]int{}
	errors := map[string]int{}
	messages := map[string]string{}
	outcomes := []string{}
	times := []float64{}
	gap, _ := strconv.Atoi(os.Getenv("INFERMESH_CALL_GAP_MS"))
	for i := range calls {
		if i > 0 && gap > 0 {
			time.Sleep(time.Duration(gap) * time.Millisecond)
		}
		times = append(times, float64(time.Now().UnixMicro())/1000)
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), pairs...), 10*time.Second)
		var header metadata.MD
		var reply []byte
		err := conn.Invoke(ctx, method, &body, &reply, grpc.ForceCodec(rawCodec{}), grpc.Header(&header), grpc.WaitForReady(true))
		cancel()
		if err != nil {
			s := status.Convert(err)
			code := strings.ToUpper(codeName(s.Code().String()))
			errors[code]++
			messages[code] = s.Message()
			outcomes = append(outcomes, code)
			continue
		}
		servedBy := "?"
		if values := header.Get("x-served-by"); len(values) > 0 {
			servedBy = values[0]
		}
		pods[servedBy]++
		outcomes = append(outcomes, servedBy)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"pods": pods, "errors": errors, "messages": messages, "outcomes": outcomes, "times": times, "grpc-go": grpcVersion()})
}

// codeName turns grpc-go's "NotFound" into Python's "NOT_FOUND", so both clients report codes alike.
func codeName(camel string) string {
	var out strings.Builder
	for i, r := range camel {
		if i > 0 && r >= 'A' && r <= 'Z' {
			out.WriteByte('_')
		}
		out.WriteRune(r)
	}
	return out.String()
}

// grpcVersion is the google.golang.org/grpc module this binary was built with, for --version.
func grpcVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "google.golang.org/grpc" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println("grpc-go", grpcVersion())
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "grpc-go-client:", err)
		os.Exit(2)
	}
}
