// ttrpc-echo: the reference Go ttrpc server (containerd/ttrpc 1.1.1) with one
// unary method, bench.v1.Echo/Echo, that decodes its input, a protobuf
// message `EchoMessage { bytes data = 1; }`, and answers with the same
// message. The benchmark sends a 64-byte encoded message (62 bytes of data),
// the reference figure of ../shared/design/TTRPC.md.
//
// Prints "ready" once listening; exits 0 on SIGTERM or SIGINT.
//
//	ttrpc-echo -socket /path/to.sock
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
)

const serviceName = "bench.v1.Echo"

// echoMessage is `message EchoMessage { bytes data = 1; }`, hand-written the
// way gogo's generated code is (Marshal/Unmarshal/Size, no reflection).
type echoMessage struct {
	Data []byte
}

func (m *echoMessage) Reset()         { *m = echoMessage{} }
func (m *echoMessage) String() string { return fmt.Sprintf("EchoMessage(%d bytes)", len(m.Data)) }
func (*echoMessage) ProtoMessage()    {}

func varintSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func (m *echoMessage) Size() int {
	if len(m.Data) == 0 {
		return 0
	}
	return 1 + varintSize(uint64(len(m.Data))) + len(m.Data)
}

func (m *echoMessage) Marshal() ([]byte, error) {
	out := make([]byte, 0, m.Size())
	if len(m.Data) > 0 {
		out = append(out, 0x0a)
		v := uint64(len(m.Data))
		for v >= 0x80 {
			out = append(out, byte(v)|0x80)
			v >>= 7
		}
		out = append(out, byte(v))
		out = append(out, m.Data...)
	}
	return out, nil
}

var errBadMessage = errors.New("bad EchoMessage encoding")

func readVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errBadMessage
}

func (m *echoMessage) Unmarshal(b []byte) error {
	for len(b) > 0 {
		key, n, err := readVarint(b)
		if err != nil {
			return err
		}
		b = b[n:]
		switch key & 7 {
		case 0:
			if _, n, err = readVarint(b); err != nil {
				return err
			}
			b = b[n:]
		case 2:
			l, n, err := readVarint(b)
			if err != nil || uint64(len(b)-n) < l {
				return errBadMessage
			}
			if key>>3 == 1 {
				m.Data = append(m.Data[:0], b[n:n+int(l)]...)
			}
			b = b[n+int(l):]
		default:
			return errBadMessage
		}
	}
	return nil
}

func main() {
	socket := flag.String("socket", "", "path of the Unix socket to create")
	flag.Parse()
	if *socket == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: ttrpc-echo -socket PATH")
		os.Exit(2)
	}

	server, err := ttrpc.NewServer()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-echo: %v\n", err)
		os.Exit(1)
	}
	server.Register(serviceName, map[string]ttrpc.Method{
		"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req echoMessage
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return &echoMessage{Data: req.Data}, nil
		},
	})

	_ = os.Remove(*socket)
	listener, err := net.Listen("unix", *socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-echo: cannot listen on %s: %v\n", *socket, err)
		os.Exit(1)
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
			fmt.Fprintf(os.Stderr, "ttrpc-echo: serve: %v\n", err)
			os.Exit(1)
		}
	}
}
