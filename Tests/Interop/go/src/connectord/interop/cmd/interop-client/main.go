// interop-client: the reference Go ttrpc client (containerd/ttrpc 1.1.1)
// calling a connectors.v1.ConnectorRegistry server on a Unix socket.
//
// It runs one scenario and prints one JSON line with the outcome: the fields
// of a successful answer, or {"code":N,"message":"..."} for an error status.
// It exits 0 whenever the scenario ran (whatever its outcome), 2 on bad
// flags, 1 when it could not run at all (e.g. cannot connect).
//
//	interop-client -socket /path/to.sock -scenario get
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	connectorsv1 "connectord/interop/connectors/v1"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/status"
)

const service = "connectors.v1.ConnectorRegistry"

// namePrefix is what the server puts before the id in a connector's name.
var namePrefix = flag.String("name-prefix", "swift-", "the server's connector name prefix (concurrent scenario)")

// result is the single JSON line printed.
type result map[string]interface{}

// rawMessage is a proto.Message whose encoding is arbitrary bytes, to send a
// payload that is not a valid encoding of the method's input.
type rawMessage struct{ data []byte }

func (m *rawMessage) Reset()                   { m.data = nil }
func (m *rawMessage) String() string           { return fmt.Sprintf("raw(%x)", m.data) }
func (*rawMessage) ProtoMessage()              {}
func (m *rawMessage) Marshal() ([]byte, error) { return m.data, nil }

// errorResult describes an error the way the Swift side checks it: the status
// code and message if the error is a status, else code 2 (UNKNOWN, as
// status.FromError does) with "local" set and the error text.
func errorResult(err error) result {
	if errors.Is(err, context.DeadlineExceeded) {
		// The Go client gives up on its own when the context expires, without
		// waiting for the server's DEADLINE_EXCEEDED.
		return result{"code": 4, "message": err.Error(), "local": true}
	}
	if st, ok := status.FromError(err); ok {
		return result{"code": int32(st.Code()), "message": st.Message()}
	}
	return result{"code": 2, "message": err.Error(), "local": true}
}

func connectorResult(resp *connectorsv1.GetResponse) result {
	if resp.Connector == nil {
		return result{"ok": false, "message": "response has no connector"}
	}
	return result{
		"ok":          true,
		"id":          resp.Connector.Id,
		"name":        resp.Connector.Name,
		"description": resp.Connector.Description,
	}
}

// changeEvents describes ListChanges events: revision, kind (number and
// name), connector id and name.
func changeEvents(events []*connectorsv1.WatchEvent) []result {
	described := []result{}
	for _, event := range events {
		name := ""
		if event.Connector != nil {
			name = event.Connector.Name
		}
		described = append(described, result{
			"revision":     event.Revision,
			"kind":         int32(event.Kind),
			"kind_name":    event.Kind.String(),
			"connector_id": event.ConnectorId,
			"name":         name,
		})
	}
	return described
}

func run(client *ttrpc.Client, scenario string) (result, error) {
	registry := connectorsv1.NewConnectorRegistryClient(client)
	background := context.Background()
	switch scenario {
	case "get":
		ctx := ttrpc.WithMetadata(background, ttrpc.MD{"x-test": []string{"hello"}})
		resp, err := registry.Get(ctx, &connectorsv1.GetRequest{ConnectorId: 42})
		if err != nil {
			return errorResult(err), nil
		}
		return connectorResult(resp), nil

	case "unknown-service":
		var resp connectorsv1.GetResponse
		err := client.Call(background, "connectors.v1.NoSuchService", "Get", &connectorsv1.GetRequest{ConnectorId: 1}, &resp)
		if err == nil {
			return result{"ok": true}, nil
		}
		return errorResult(err), nil

	case "unknown-method":
		var resp connectorsv1.GetResponse
		err := client.Call(background, service, "NoSuchMethod", &connectorsv1.GetRequest{ConnectorId: 1}, &resp)
		if err == nil {
			return result{"ok": true}, nil
		}
		return errorResult(err), nil

	case "not-found":
		resp, err := registry.Get(background, &connectorsv1.GetRequest{ConnectorId: 0})
		if err != nil {
			return errorResult(err), nil
		}
		return connectorResult(resp), nil

	case "deadline":
		// The server makes id 7 slow; the context deadline becomes timeout_nano.
		ctx, cancel := context.WithTimeout(background, 2*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := registry.Get(ctx, &connectorsv1.GetRequest{ConnectorId: 7})
		elapsed := time.Since(start).Milliseconds()
		r := result{}
		if err != nil {
			r = errorResult(err)
		} else {
			r = connectorResult(resp)
		}
		r["elapsed_ms"] = elapsed
		return r, nil

	case "server-deadline":
		// The client was made with serverDeadlineInterceptor: it sends
		// timeout_nano = 200 ms but its own context allows 5 s, so the answer
		// must come from the server's deadline.
		ctx, cancel := context.WithTimeout(background, 5*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := registry.Get(ctx, &connectorsv1.GetRequest{ConnectorId: 7})
		elapsed := time.Since(start).Milliseconds()
		r := result{}
		if err != nil {
			r = errorResult(err)
		} else {
			r = connectorResult(resp)
		}
		r["elapsed_ms"] = elapsed
		return r, nil

	case "expired-deadline":
		// The client was made with expiredDeadlineInterceptor: timeout_nano is
		// negative, as a Go 1.1.1 client sends it when the context's deadline
		// has already passed by the time the request is built (Call computes
		// dl.Sub(time.Now()) and does not check ctx.Done() before sending).
		// The reference server's context is then already expired. The slow
		// id 7 must fail with DEADLINE_EXCEEDED at once, not run for 5 s.
		ctx, cancel := context.WithTimeout(background, 10*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := registry.Get(ctx, &connectorsv1.GetRequest{ConnectorId: 7})
		elapsed := time.Since(start).Milliseconds()
		r := result{}
		if err != nil {
			r = errorResult(err)
		} else {
			r = connectorResult(resp)
		}
		r["elapsed_ms"] = elapsed
		return r, nil

	case "empty-response":
		// The server answers id 1000 with an empty GetResponse: a zero-length
		// output message, so (as the reference server does) a response frame
		// with no data at all.
		resp, err := registry.Get(background, &connectorsv1.GetRequest{ConnectorId: 1000})
		if err != nil {
			return errorResult(err), nil
		}
		return result{"ok": true, "has_connector": resp.Connector != nil}, nil

	case "oversized":
		// The 1.1.1 client does not check the size of what it sends: a 5 MiB
		// payload makes a request frame over the 4 MiB limit. The server must
		// discard it, answer RESOURCE_EXHAUSTED on its stream, and keep the
		// connection: a normal Get follows on the same client.
		var resp connectorsv1.GetResponse
		err := client.Call(background, service, "Get", &rawMessage{data: make([]byte, 5<<20)}, &resp)
		r := result{}
		if err != nil {
			r = errorResult(err)
		} else {
			r = connectorResult(&resp)
		}
		ctx, cancel := context.WithTimeout(background, 10*time.Second)
		defer cancel()
		after, err := registry.Get(ctx, &connectorsv1.GetRequest{ConnectorId: 5})
		if err != nil {
			r["after"] = errorResult(err)
		} else {
			r["after"] = connectorResult(after)
		}
		return r, nil

	case "concurrent":
		const n = 100
		// Id 7 is the server's slow one: it answers last if the server
		// answers each call as soon as it is ready.
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ok       int
			last     uint64
			failures = []string{}
		)
		for i := uint64(1); i <= n; i++ {
			wg.Add(1)
			go func(id uint64) {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(background, 30*time.Second)
				defer cancel()
				resp, err := registry.Get(ctx, &connectorsv1.GetRequest{ConnectorId: id})
				mu.Lock()
				defer mu.Unlock()
				last = id
				switch {
				case err != nil:
					failures = append(failures, fmt.Sprintf("%d: %v", id, err))
				case resp.Connector == nil || resp.Connector.Id != id || resp.Connector.Name != fmt.Sprintf("%s%d", *namePrefix, id):
					failures = append(failures, fmt.Sprintf("%d: got %v", id, resp.Connector))
				default:
					ok++
				}
			}(i)
		}
		wg.Wait()
		sort.Strings(failures)
		return result{"ok": len(failures) == 0, "count": ok, "failures": failures, "last": last}, nil

	case "list-changes":
		// Against connectord itself (a registry with an empty history): two
		// registrations, the changes from revision 1, then a long poll from
		// the next revision that a third registration ends. Streams are not
		// in 1.1.1: ListChanges is how such a client follows the registry.
		ctx, cancel := context.WithTimeout(background, 60*time.Second)
		defer cancel()
		for _, name := range []string{"go_first", "go_second"} {
			req := &connectorsv1.RegisterRequest{Name: name, Description: "registered from Go", RequestId: "go-" + name}
			if _, err := registry.Register(ctx, req); err != nil {
				return errorResult(err), nil
			}
		}
		first, err := registry.ListChanges(ctx, &connectorsv1.ListChangesRequest{StartRevision: 1, MaxEvents: 100})
		if err != nil {
			return errorResult(err), nil
		}
		type poll struct {
			resp *connectorsv1.ListChangesResponse
			err  error
		}
		polled := make(chan poll, 1)
		go func() {
			resp, err := registry.ListChanges(ctx, &connectorsv1.ListChangesRequest{StartRevision: first.NextRevision, WaitMs: 30000})
			polled <- poll{resp, err}
		}()
		if _, err := registry.Register(ctx, &connectorsv1.RegisterRequest{Name: "go_third", Description: "ends the long poll"}); err != nil {
			return errorResult(err), nil
		}
		second := <-polled
		if second.err != nil {
			return errorResult(second.err), nil
		}
		return result{
			"ok":            true,
			"events":        changeEvents(first.Events),
			"next_revision": first.NextRevision,
			"polled":        changeEvents(second.resp.Events),
			"polled_next":   second.resp.NextRevision,
		}, nil

	case "bad-payload":
		// 0xff 0xff: a varint key whose last byte still has the continuation
		// bit set, so no protobuf message decodes from it.
		var resp connectorsv1.GetResponse
		err := client.Call(background, service, "Get", &rawMessage{data: []byte{0xff, 0xff}}, &resp)
		if err == nil {
			return connectorResult(&resp), nil
		}
		return errorResult(err), nil
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

// serverDeadlineInterceptor rewrites timeout_nano to 200 ms, whatever the
// caller's context says.
func serverDeadlineInterceptor(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response, _ *ttrpc.UnaryClientInfo, invoker ttrpc.Invoker) error {
	req.TimeoutNano = int64(200 * time.Millisecond)
	return invoker(ctx, req, resp)
}

// expiredDeadlineInterceptor sends timeout_nano = -1 ms: a deadline that
// has already passed.
func expiredDeadlineInterceptor(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response, _ *ttrpc.UnaryClientInfo, invoker ttrpc.Invoker) error {
	req.TimeoutNano = -int64(time.Millisecond)
	return invoker(ctx, req, resp)
}

func main() {
	socket := flag.String("socket", "", "path of the server's Unix socket")
	scenario := flag.String("scenario", "", "get, unknown-service, unknown-method, not-found, deadline, server-deadline, expired-deadline, empty-response, oversized, concurrent, bad-payload or list-changes (against connectord)")
	flag.Parse()
	if *socket == "" || *scenario == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: interop-client -socket PATH -scenario NAME")
		os.Exit(2)
	}

	conn, err := net.DialTimeout("unix", *socket, 5*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop-client: cannot connect: %v\n", err)
		os.Exit(1)
	}
	var opts []ttrpc.ClientOpts
	switch *scenario {
	case "server-deadline":
		opts = append(opts, ttrpc.WithUnaryClientInterceptor(serverDeadlineInterceptor))
	case "expired-deadline":
		opts = append(opts, ttrpc.WithUnaryClientInterceptor(expiredDeadlineInterceptor))
	}
	client := ttrpc.NewClient(conn, opts...)
	defer client.Close()

	r, err := run(client, *scenario)
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop-client: %v\n", err)
		os.Exit(1)
	}
	r["scenario"] = *scenario
	line, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop-client: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(string(line))
}
