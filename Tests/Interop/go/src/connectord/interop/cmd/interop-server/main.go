// interop-server: the reference Go ttrpc server (containerd/ttrpc 1.1.1)
// serving connectors.v1.ConnectorRegistry on a Unix socket, for the Swift
// client to call.
//
//   - Get: a Connector with id = connector_id and name "go-<id>"; its
//     description is the request's "x-test" metadata value, if any.
//     connector_id 0 is NOT_FOUND "Connector with ID 0 not found";
//     connector_id 7 is slow: it waits 5 s or until the call's deadline
//     (from timeout_nano), then fails with the context's error
//     (DEADLINE_EXCEEDED).
//     connector_id 1000 is an empty GetResponse (no connector): a zero-length
//     output message, sent as a response frame with no data.
//   - Every other method: UNIMPLEMENTED.
//
// Prints "ready" once listening; exits 0 on SIGTERM or SIGINT.
//
//	interop-server -socket /path/to.sock
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	connectorsv1 "connectord/interop/connectors/v1"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type registry struct{}

func (registry) Get(ctx context.Context, req *connectorsv1.GetRequest) (*connectorsv1.GetResponse, error) {
	switch req.ConnectorId {
	case 0:
		return nil, status.Errorf(codes.NotFound, "Connector with ID %d not found", req.ConnectorId)
	case 7:
		select {
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case 1000:
		return &connectorsv1.GetResponse{}, nil
	}
	description, _ := ttrpc.GetMetadataValue(ctx, "x-test")
	return &connectorsv1.GetResponse{Connector: &connectorsv1.Connector{
		Id:          req.ConnectorId,
		Name:        fmt.Sprintf("go-%d", req.ConnectorId),
		Description: description,
	}}, nil
}

func unimplemented(method string) error {
	return status.Errorf(codes.Unimplemented, "%s is not implemented by interop-server", method)
}

func (registry) Register(context.Context, *connectorsv1.RegisterRequest) (*connectorsv1.RegisterResponse, error) {
	return nil, unimplemented("Register")
}

func (registry) Activate(context.Context, *connectorsv1.ActivateRequest) (*connectorsv1.ActivateResponse, error) {
	return nil, unimplemented("Activate")
}

func (registry) List(context.Context, *connectorsv1.ListRequest) (*connectorsv1.ListResponse, error) {
	return nil, unimplemented("List")
}

func (registry) SetMode(context.Context, *connectorsv1.SetModeRequest) (*connectorsv1.SetModeResponse, error) {
	return nil, unimplemented("SetMode")
}

func (registry) Delete(context.Context, *connectorsv1.DeleteRequest) (*connectorsv1.DeleteResponse, error) {
	return nil, unimplemented("Delete")
}

func (registry) GetLogo(context.Context, *connectorsv1.GetLogoRequest) (*connectorsv1.GetLogoResponse, error) {
	return nil, unimplemented("GetLogo")
}

func (registry) Create(context.Context, *connectorsv1.CreateRequest) (*connectorsv1.CreateResponse, error) {
	return nil, unimplemented("Create")
}

// Watch is a stream: ttrpc 1.1.1 cannot serve it (its generator makes it unary).
func (registry) Watch(context.Context, *connectorsv1.WatchRequest) (*connectorsv1.WatchEvent, error) {
	return nil, unimplemented("Watch")
}

func (registry) ListChanges(context.Context, *connectorsv1.ListChangesRequest) (*connectorsv1.ListChangesResponse, error) {
	return nil, unimplemented("ListChanges")
}

func (registry) GetHistory(context.Context, *connectorsv1.GetHistoryRequest) (*connectorsv1.GetHistoryResponse, error) {
	return nil, unimplemented("GetHistory")
}

func (registry) VerifyHistory(context.Context, *connectorsv1.VerifyHistoryRequest) (*connectorsv1.VerifyHistoryResponse, error) {
	return nil, unimplemented("VerifyHistory")
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "interop-server: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	socket := flag.String("socket", "", "path of the Unix socket to create")
	flag.Parse()
	if *socket == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: interop-server -socket PATH")
		os.Exit(2)
	}

	server, err := ttrpc.NewServer()
	if err != nil {
		fail("%v", err)
	}
	connectorsv1.RegisterConnectorRegistryService(server, registry{})

	_ = os.Remove(*socket)
	listener, err := net.Listen("unix", *socket)
	if err != nil {
		fail("cannot listen on %s: %v", *socket, err)
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	served := make(chan error, 1)
	go func() { served <- server.Serve(context.Background(), listener) }()
	fmt.Println("ready")

	select {
	case <-signals:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
		_ = server.Close()
		_ = os.Remove(*socket)
	case err := <-served:
		_ = os.Remove(*socket)
		if err != nil {
			fail("serve: %v", err)
		}
	}
}
