// envoy-like: N state-of-the-world ADS clients, each on its own HTTP/2 connection, subscribing the way Envoy
// does over SotW ADS (bench/envoy-like-sync.ts says which names and why): LDS and CDS wildcard, SRDS wildcard
// when a listener uses scoped RDS, RDS by name for what the listeners and non-on-demand scopes name plus the
// tables of -calls on-demand scopes (the models the proxy calls), EDS naming every cluster CDS gave. Every response is ACKed as Envoy ACKs it (version, nonce and the whole name
// list again). Responses are read at grpc-go speed and parsed only as far as the names go, so the clients are
// not what is measured.
//
// Usage: envoy-like -target 127.0.0.1:18000 -clients 1000 -calls 3 -timeout 180s
// Prints one JSON object: syncedMs (start to last client in sync), p50Ms/p99Ms of the clients' own sync times,
// unsynced, missing (a few clients' gaps), bytes, responses, cpuMs (this process, user+system).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
)

var calls = flag.Int("calls", 3, "on-demand route tables each client asks for (the models it calls)")

const (
	ads       = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
	prefix    = "type.googleapis.com/envoy."
	lds       = prefix + "config.listener.v3.Listener"
	cds       = prefix + "config.cluster.v3.Cluster"
	eds       = prefix + "config.endpoint.v3.ClusterLoadAssignment"
	rds       = prefix + "config.route.v3.RouteConfiguration"
	srds      = prefix + "config.route.v3.ScopedRouteConfiguration"
	hcmType   = prefix + "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	maxMsgLen = 512 << 20
	// Envoy's default initial_stream_window_size and initial_connection_window_size.
	envoyWindow = 256 << 20
)

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = data
	return nil
}
func (rawCodec) Name() string { return "proto" }

// fields calls fn for each field of a message; fn gets the raw bytes of length-delimited fields and the value of varints.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, bytes []byte, varint uint64)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return
			}
			fn(num, typ, v, 0)
			b = b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return
			}
			fn(num, typ, nil, v)
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return
			}
			b = b[m:]
		}
	}
}

// field returns the first length-delimited field `want` of a message.
func field(b []byte, want protowire.Number) (out []byte) {
	fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if num == want && typ == protowire.BytesType && out == nil {
			out = v
		}
	})
	return out
}

type response struct {
	version, typeURL, nonce string
	resources               [][]byte // Any values
	size                    int
}

func decodeResponse(b []byte) response {
	r := response{size: len(b)}
	fields(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
		switch num {
		case 1:
			r.version = string(v)
		case 2:
			r.resources = append(r.resources, field(v, 2))
		case 4:
			r.typeURL = string(v)
		case 5:
			r.nonce = string(v)
		}
	})
	return r
}

// node: id, cluster, metadata, user_agent_name and user_agent_build_version, as Envoy fills them (less its
// extension list). Envoy sends it in every request unless set_node_on_first_message_only, which the
// project's bootstrap does not set.
func node(id int) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, fmt.Sprintf("bench-envoy-%d.bench", id))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "bench")
	var meta []byte // Struct{fields: {"POD_NAMESPACE": "bench"}}
	var entry []byte
	entry = protowire.AppendTag(entry, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "POD_NAMESPACE")
	entry = protowire.AppendTag(entry, 2, protowire.BytesType)
	entry = protowire.AppendBytes(entry, protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "bench"))
	meta = protowire.AppendTag(meta, 1, protowire.BytesType)
	meta = protowire.AppendBytes(meta, entry)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, meta)
	b = protowire.AppendTag(b, 6, protowire.BytesType)
	b = protowire.AppendString(b, "envoy")
	var semver []byte
	for i, v := range []uint64{1, 38, 3} {
		semver = protowire.AppendTag(semver, protowire.Number(i+1), protowire.VarintType)
		semver = protowire.AppendVarint(semver, v)
	}
	build := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), semver)
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	return protowire.AppendBytes(b, build)
}

func request(nodeBytes []byte, version, typeURL, nonce string, names []string) []byte {
	var b []byte
	if version != "" {
		b = protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), version)
	}
	b = protowire.AppendBytes(protowire.AppendTag(b, 2, protowire.BytesType), nodeBytes)
	for _, name := range names {
		b = protowire.AppendString(protowire.AppendTag(b, 3, protowire.BytesType), name)
	}
	b = protowire.AppendString(protowire.AppendTag(b, 4, protowire.BytesType), typeURL)
	if nonce != "" {
		b = protowire.AppendString(protowire.AppendTag(b, 5, protowire.BytesType), nonce)
	}
	return b
}

// listenerNames: the route tables a Listener's HTTP connection managers name through RDS, and whether one uses scoped RDS.
func listenerNames(listener []byte) (routes []string, scoped bool) {
	hcm := func(any []byte) {
		if string(field(any, 1)) != hcmType {
			return
		}
		config := field(any, 2)
		if r := field(config, 3); r != nil {
			routes = append(routes, string(field(r, 2)))
		}
		if s := field(config, 31); s != nil && field(s, 5) != nil {
			scoped = true
		}
	}
	fields(listener, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
		switch num {
		case 19: // api_listener.api_listener (Any)
			hcm(field(v, 1))
		case 3: // filter_chains[].filters[].typed_config (Any)
			fields(v, func(n protowire.Number, _ protowire.Type, filter []byte, _ uint64) {
				if n == 3 {
					hcm(field(filter, 4))
				}
			})
		}
	})
	return routes, scoped
}

type typeState struct {
	version, nonce string
	names          []string // what the client subscribes to (nil: wildcard)
	held           map[string]bool
	received       bool
}

type client struct {
	id       int
	node     []byte
	stream   grpc.ClientStream
	types    map[string]*typeState
	ldsRDS   []string
	scopeRDS []string
	synced   time.Duration
	bytes    int
	answers  int
}

func (c *client) send(typeURL string) error {
	s := c.types[typeURL]
	msg := request(c.node, s.version, typeURL, s.nonce, s.names)
	return c.stream.SendMsg(&msg)
}

// subscribe sends a request for typeURL if its names changed (or it is new).
func (c *client) subscribe(typeURL string, names []string) error {
	sort.Strings(names)
	s, ok := c.types[typeURL]
	if ok && strings.Join(s.names, "\n") == strings.Join(names, "\n") {
		return nil
	}
	if !ok {
		s = &typeState{held: map[string]bool{}}
		c.types[typeURL] = s
	}
	s.names = names
	return c.send(typeURL)
}

// subscribeRoutes: RDS for what the listeners and scopes name; like Envoy, no RDS request while that is nothing.
func (c *client) subscribeRoutes() error {
	names := unique(append(append([]string{}, c.ldsRDS...), c.scopeRDS...))
	if _, ok := c.types[rds]; !ok && len(names) == 0 {
		return nil
	}
	return c.subscribe(rds, names)
}

func unique(names []string) []string {
	seen := map[string]bool{}
	out := names[:0:0]
	for _, name := range names {
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

func (c *client) onResponse(r response) error {
	c.bytes += r.size
	c.answers++
	s := c.types[r.typeURL]
	if s == nil {
		return nil
	}
	s.version, s.nonce, s.received = r.version, r.nonce, true
	if r.typeURL == lds || r.typeURL == cds {
		s.held = map[string]bool{}
	}
	var then func() error
	switch r.typeURL {
	case lds:
		c.ldsRDS = nil
		scoped := false
		for _, listener := range r.resources {
			s.held[string(field(listener, 1))] = true
			routes, uses := listenerNames(listener)
			c.ldsRDS = append(c.ldsRDS, routes...)
			scoped = scoped || uses
		}
		then = func() error {
			if scoped {
				if _, ok := c.types[srds]; !ok {
					if err := c.subscribe(srds, nil); err != nil {
						return err
					}
				}
			}
			return c.subscribeRoutes()
		}
	case srds:
		c.scopeRDS = nil
		var onDemandTables []string
		for _, scope := range r.resources {
			var name, table string
			onDemand := false
			fields(scope, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) {
				switch num {
				case 1:
					name = string(v)
				case 2:
					table = string(v)
				case 4:
					onDemand = x != 0
				}
			})
			s.held[name] = true
			if !onDemand {
				c.scopeRDS = append(c.scopeRDS, table)
			} else {
				onDemandTables = append(onDemandTables, table)
			}
		}
		// The tables of the models this proxy calls, which on-demand scoped RDS asks for on the first requests.
		sort.Strings(onDemandTables)
		for k := 0; k < *calls && len(onDemandTables) > 0; k++ {
			c.scopeRDS = append(c.scopeRDS, onDemandTables[(c.id*(*calls)+k*7919)%len(onDemandTables)])
		}
		then = c.subscribeRoutes
	case cds:
		var services []string
		for _, cluster := range r.resources {
			name := string(field(cluster, 1))
			s.held[name] = true
			service := name
			if edsConfig := field(cluster, 3); edsConfig != nil {
				if sn := field(edsConfig, 2); len(sn) > 0 {
					service = string(sn)
				}
			}
			services = append(services, service)
		}
		then = func() error { return c.subscribe(eds, unique(services)) }
	default: // EDS, RDS: state of the world may leave out what did not change
		for _, resource := range r.resources {
			s.held[string(field(resource, 1))] = true
		}
	}
	if err := c.send(r.typeURL); err != nil { // the ACK, as Envoy sends it: version, nonce, every name again
		return err
	}
	if then != nil {
		return then()
	}
	return nil
}

func (c *client) missing() string {
	var out []string
	for _, t := range []string{lds, cds, eds, rds, srds} {
		s, ok := c.types[t]
		short := t[strings.LastIndex(t, ".")+1:]
		if !ok {
			if t == lds || t == cds || t == eds {
				out = append(out, short+" not asked")
			}
			continue
		}
		if !s.received {
			out = append(out, short+" nothing yet")
			continue
		}
		absent := 0
		for _, name := range s.names {
			if !s.held[name] {
				absent++
			}
		}
		if absent > 0 {
			out = append(out, fmt.Sprintf("%s %d of %d", short, absent, len(s.names)))
		}
	}
	return strings.Join(out, ", ")
}

func (c *client) inSync() bool {
	for _, t := range []string{lds, cds, eds} {
		if _, ok := c.types[t]; !ok {
			return false
		}
	}
	return c.missing() == ""
}

func (c *client) run(ctx context.Context, conn *grpc.ClientConn, started time.Time, done func()) error {
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, ads, grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(maxMsgLen), grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	c.stream = stream
	// Envoy starts with CDS, then LDS, both wildcard.
	if err := c.subscribe(cds, nil); err != nil {
		return err
	}
	if err := c.subscribe(lds, nil); err != nil {
		return err
	}
	for {
		var msg []byte
		if err := stream.RecvMsg(&msg); err != nil {
			return err
		}
		if err := c.onResponse(decodeResponse(msg)); err != nil {
			return err
		}
		if c.synced == 0 && c.inSync() {
			c.synced = time.Since(started)
			done()
		}
	}
}

type result struct {
	Clients    int      `json:"clients"`
	SyncedMs   float64  `json:"syncedMs"`
	P50Ms      float64  `json:"p50Ms"`
	P99Ms      float64  `json:"p99Ms"`
	Unsynced   int      `json:"unsynced"`
	Missing    []string `json:"missing"`
	Bytes      int      `json:"bytesPerClient"`
	Responses  float64  `json:"responsesPerClient"`
	CPUMs      float64  `json:"cpuMs"`
	Errors     int64    `json:"errors"`
	FirstError string   `json:"firstError,omitempty"`
	EdsNames   int      `json:"edsNames"`
	RdsNames   []string `json:"rdsNames"`
	Subscribed []string `json:"subscribed"`
	Listeners  []string `json:"listeners"`
}

func main() {
	target := flag.String("target", "127.0.0.1:18000", "ADS server")
	count := flag.Int("clients", 1000, "clients, one connection each")
	timeout := flag.Duration("timeout", 180*time.Second, "give up waiting after")
	flag.Parse()

	ctx, cancel := context.WithCancel(context.Background())
	var errors atomic.Int64
	var firstError atomic.Value
	var wg sync.WaitGroup
	wg.Add(*count)
	clients := make([]*client, *count)
	conns := make([]*grpc.ClientConn, *count)
	started := time.Now()
	for i := range clients {
		// HTTP/2 windows as Envoy sets them by default (256 MiB per stream and per connection).
		conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithInitialWindowSize(envoyWindow), grpc.WithInitialConnWindowSize(envoyWindow))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		conns[i] = conn
		c := &client{id: i, node: node(i), types: map[string]*typeState{}}
		clients[i] = c
		var once sync.Once
		go func() {
			if err := c.run(ctx, conn, started, func() { once.Do(wg.Done) }); err != nil && ctx.Err() == nil {
				errors.Add(1)
				firstError.CompareAndSwap(nil, err.Error())
				once.Do(wg.Done)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(*timeout):
	}
	elapsed := time.Since(started)
	cancel()
	// Read what the clients hold only after they stop.
	time.Sleep(50 * time.Millisecond)

	var rusage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &rusage)
	out := result{Clients: *count, Errors: errors.Load()}
	if e, ok := firstError.Load().(string); ok {
		out.FirstError = e
	}
	var times []float64
	total, responses := 0, 0
	for _, c := range clients {
		total += c.bytes
		responses += c.answers
		if c.synced > 0 {
			times = append(times, float64(c.synced.Microseconds())/1000)
		} else {
			out.Unsynced++
			if len(out.Missing) < 3 {
				out.Missing = append(out.Missing, fmt.Sprintf("%d: %s", c.id, c.missing()))
			}
		}
	}
	sort.Float64s(times)
	pick := func(p float64) float64 {
		if len(times) == 0 {
			return -1
		}
		i := int(p*float64(len(times))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return times[i]
	}
	out.SyncedMs = float64(elapsed.Microseconds()) / 1000
	if out.Unsynced == 0 && len(times) > 0 {
		out.SyncedMs = times[len(times)-1]
	}
	out.P50Ms, out.P99Ms = pick(0.5), pick(0.99)
	out.Bytes = total / *count
	out.Responses = float64(responses) / float64(*count)
	out.CPUMs = float64(rusage.Utime.Nano()+rusage.Stime.Nano()) / 1e6
	if c := clients[0]; c != nil {
		if s := c.types[eds]; s != nil {
			out.EdsNames = len(s.names)
		}
		if s := c.types[rds]; s != nil {
			out.RdsNames = s.names
		}
		if s := c.types[lds]; s != nil {
			for name := range s.held {
				out.Listeners = append(out.Listeners, name)
			}
		}
		for t := range c.types {
			out.Subscribed = append(out.Subscribed, t[strings.LastIndex(t, ".")+1:])
		}
		sort.Strings(out.Subscribed)
	}
	for _, conn := range conns {
		conn.Close()
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
