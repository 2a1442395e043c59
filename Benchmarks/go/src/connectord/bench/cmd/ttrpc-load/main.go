// ttrpc-load: the one load generator of the benchmark, a containerd/ttrpc
// 1.1.1 client (GOPATH mode, Debian's packages), used against every ttrpc
// server so that the client side is identical.
//
// It opens -connections ttrpc clients, runs -inflight callers on each (each
// caller makes one call at a time), warms up for -warmup, then measures for
// -duration (or until -calls calls are done) and prints one JSON object:
//
//	{"calls":N,"errors":E,"seconds":S,"calls_per_sec":R,"p50_us":..,"p99_us":..,
//	 "mean_us":..,"max_us":..,"response_bytes":B,
//	 "server_cpu_ns":..,"server_cpu_us_per_call":..,"server_rss_kb_max":..}
//
// The server_* fields are read from /proc/PID (-server-pid) at the edges of
// the measured window: CPU time is the growth of each thread's
// /proc/PID/task/TID/schedstat run time (ns), summed, with /proc/PID/stat
// utime+stime (clock ticks) as well; VmRSS is sampled every 50 ms.
//
// Requests (-request):
//
//	raw       -service S -method M -payload-hex HEX (any server, e.g. the echo)
//	get       connectors.v1.ConnectorRegistry/Get, GetRequest{connector_id: -id}
//	list      List, ListRequest{page_size: -page-size}
//	register  Register, RegisterRequest{name: -name-prefix + counter, description}
//	activate  Activate, ActivateRequest{connector_id from -ids, connector_url: -url};
//	          each caller owns a disjoint subset of -ids (so one connector is never
//	          activated twice at once); with -once each id is activated exactly once.
//
// Responses are received as raw bytes (not decoded), so the client does the
// same work whatever the server; -check decodes one first response as the
// method's output and prints it on stderr.
//
// Other modes:
//
//	-hold N        open N connections, make one call on each, print {"held":N},
//	               then keep them open until stdin is closed or SIGTERM.
//	-wait-first    dial and call until the first call is answered (the server
//	               may not be listening yet) and print {"first_answer_unix_ns":T}.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	connectorsv1 "connectord/interop/connectors/v1"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
)

const registryService = "connectors.v1.ConnectorRegistry"

// rawMessage is a proto.Message whose encoding is given bytes; as a response
// it keeps the bytes without decoding them.
type rawMessage struct{ data []byte }

func (m *rawMessage) Reset()                   { m.data = nil }
func (m *rawMessage) String() string           { return fmt.Sprintf("raw(%d bytes)", len(m.data)) }
func (*rawMessage) ProtoMessage()              {}
func (m *rawMessage) Marshal() ([]byte, error) { return m.data, nil }
func (m *rawMessage) Unmarshal(b []byte) error { m.data = b; return nil }

var (
	socket      = flag.String("socket", "", "Unix socket of the server")
	request     = flag.String("request", "raw", "raw, get, list, register or activate")
	service     = flag.String("service", registryService, "service (raw)")
	method      = flag.String("method", "Get", "method (raw)")
	payloadHex  = flag.String("payload-hex", "", "request payload, hex (raw)")
	getID       = flag.Uint64("id", 1, "connector id (get)")
	pageSize    = flag.Uint("page-size", 1000, "page size (list)")
	namePrefix  = flag.String("name-prefix", "bench", "name prefix (register); a counter is appended")
	description = flag.String("description", "A connector registered by the benchmark", "description (register)")
	secret      = flag.String("secret", "", "secret (register)")
	idList      = flag.String("ids", "", "connector ids (activate): a-b ranges and numbers, comma-separated")
	activateURL = flag.String("url", "", "connector URL (activate)")
	once        = flag.Bool("once", false, "activate: each id exactly once, then stop")
	connections = flag.Int("connections", 1, "connections")
	inflight    = flag.Int("inflight", 1, "calls in flight per connection (callers)")
	duration    = flag.Duration("duration", 2*time.Second, "measured time (unless -calls)")
	callLimit   = flag.Int64("calls", 0, "measure exactly this many calls instead of -duration")
	warmup      = flag.Duration("warmup", 300*time.Millisecond, "warm-up time before measuring (not with -calls)")
	timeout     = flag.Duration("timeout", 30*time.Second, "per-call deadline (0: none)")
	serverPID   = flag.Int("server-pid", 0, "server process to read CPU time and VmRSS from")
	check       = flag.Bool("check", false, "decode the first response as the method's output, print it on stderr")
	hold        = flag.Int("hold", 0, "hold this many connections open (one call each) until stdin closes")
	waitFirst   = flag.Bool("wait-first", false, "call until the first answer, print when it came")
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ttrpc-load: "+format+"\n", args...)
	os.Exit(1)
}

// ---- requests ----

// caller makes the calls of one worker.
type caller struct {
	client   *ttrpc.Client
	service  string
	method   string
	next     func() proto.Message // the request of the next call
	response rawMessage
}

func (c *caller) call(req proto.Message) error {
	ctx := context.Background()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	c.response.data = nil
	return c.client.Call(ctx, c.service, c.method, req, &c.response)
}

func parseIDs(text string) []uint64 {
	var ids []uint64
	for _, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if lo, hi, ok := strings.Cut(part, "-"); ok {
			a, err1 := strconv.ParseUint(lo, 10, 64)
			b, err2 := strconv.ParseUint(hi, 10, 64)
			if err1 != nil || err2 != nil || b < a {
				fail("bad -ids range %q", part)
			}
			for i := a; i <= b; i++ {
				ids = append(ids, i)
			}
		} else {
			v, err := strconv.ParseUint(part, 10, 64)
			if err != nil {
				fail("bad -ids value %q", part)
			}
			ids = append(ids, v)
		}
	}
	return ids
}

var (
	registerCounter uint64
	onceIndex       int64 = -1
	errDone               = errors.New("no more work")
)

// makeCaller builds the caller number `worker` of `workers` on `client`.
func makeCaller(client *ttrpc.Client, worker, workers int, ids []uint64) *caller {
	c := &caller{client: client, service: registryService}
	fixed := func(m proto.Message) func() proto.Message {
		data, err := proto.Marshal(m)
		if err != nil {
			fail("marshal: %v", err)
		}
		raw := &rawMessage{data: data}
		return func() proto.Message { return raw }
	}
	switch *request {
	case "raw":
		data, err := hex.DecodeString(*payloadHex)
		if err != nil {
			fail("bad -payload-hex: %v", err)
		}
		c.service, c.method = *service, *method
		raw := &rawMessage{data: data}
		c.next = func() proto.Message { return raw }
	case "get":
		c.method = "Get"
		c.next = fixed(&connectorsv1.GetRequest{ConnectorId: *getID})
	case "list":
		c.method = "List"
		c.next = fixed(&connectorsv1.ListRequest{PageSize: uint32(*pageSize)})
	case "register":
		c.method = "Register"
		c.next = func() proto.Message {
			n := atomic.AddUint64(&registerCounter, 1)
			return &connectorsv1.RegisterRequest{
				Name: fmt.Sprintf("%s-%d", *namePrefix, n), Description: *description, Secret: *secret,
			}
		}
	case "activate":
		c.method = "Activate"
		if len(ids) == 0 || *activateURL == "" {
			fail("-request activate needs -ids and -url")
		}
		if *once {
			c.next = func() proto.Message {
				i := atomic.AddInt64(&onceIndex, 1)
				if i >= int64(len(ids)) {
					return nil
				}
				return &connectorsv1.ActivateRequest{ConnectorId: ids[i], ConnectorUrl: *activateURL}
			}
		} else {
			var mine []uint64
			for i := worker; i < len(ids); i += workers {
				mine = append(mine, ids[i])
			}
			if len(mine) == 0 {
				fail("-ids has %d ids, fewer than the %d callers", len(ids), workers)
			}
			k := 0
			c.next = func() proto.Message {
				id := mine[k%len(mine)]
				k++
				return &connectorsv1.ActivateRequest{ConnectorId: id, ConnectorUrl: *activateURL}
			}
		}
	default:
		fail("unknown -request %q", *request)
	}
	return c
}

// callNext makes the next call; errDone when there is no more work.
func (c *caller) callNext() error {
	req := c.next()
	if req == nil {
		return errDone
	}
	return c.call(req)
}

func decodeForCheck(data []byte) string {
	var m proto.Message
	switch *request {
	case "get":
		m = &connectorsv1.GetResponse{}
	case "list":
		m = &connectorsv1.ListResponse{}
	case "register":
		m = &connectorsv1.RegisterResponse{}
	case "activate":
		m = &connectorsv1.ActivateResponse{}
	default:
		return fmt.Sprintf("%d bytes: %x", len(data), data)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Sprintf("does not decode: %v", err)
	}
	if l, ok := m.(*connectorsv1.ListResponse); ok {
		tools := 0
		for _, c := range l.Connectors {
			tools += int(c.ToolsCount)
		}
		return fmt.Sprintf("ListResponse: %d connectors, %d tools, %d bytes", len(l.Connectors), tools, len(data))
	}
	text := m.String()
	if len(text) > 600 {
		text = text[:600] + "..."
	}
	return fmt.Sprintf("%d bytes: %s", len(data), text)
}

// ---- the server's /proc ----

// threadCPU is the run time in ns of each thread of pid, from
// /proc/PID/task/TID/schedstat.
func threadCPU(pid int) map[string]int64 {
	times := map[string]int64{}
	if pid == 0 {
		return times
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, path := range tasks {
		data, err := ioutil.ReadFile(path)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data))
		if len(fields) > 0 {
			v, _ := strconv.ParseInt(fields[0], 10, 64)
			times[filepath.Base(filepath.Dir(path))] = v
		}
	}
	return times
}

// cpuDelta is the CPU time the threads alive at the end used since the
// start (a thread that ended in between is not counted; one that began is,
// in full).
func cpuDelta(start, end map[string]int64) int64 {
	var ns int64
	for tid, v := range end {
		ns += v - start[tid]
	}
	return ns
}

// processTicks is utime+stime of pid in clock ticks (threads that ended included).
func processTicks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	data, err := ioutil.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	text := string(data)
	i := strings.LastIndexByte(text, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(text[i+1:])
	// fields[0] is field 3 (state); utime is field 14, stime 15.
	if len(fields) <= 13 {
		return 0
	}
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	s, _ := strconv.ParseInt(fields[12], 10, 64)
	return u + s
}

func serverRSS(pid int) int64 {
	data, err := ioutil.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				v, _ := strconv.ParseInt(fields[1], 10, 64)
				return v
			}
		}
	}
	return 0
}

// ---- modes ----

func dial() (*ttrpc.Client, error) {
	conn, err := net.Dial("unix", *socket)
	if err != nil {
		return nil, err
	}
	return ttrpc.NewClient(conn), nil
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func emit(v interface{}) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

func runHold() {
	clients := make([]*ttrpc.Client, 0, *hold)
	for i := 0; i < *hold; i++ {
		client, err := dial()
		if err != nil {
			fail("connection %d: %v", i+1, err)
		}
		c := makeCaller(client, 0, 1, parseIDs(*idList))
		if err := c.callNext(); err != nil && err != errDone {
			fail("call on connection %d: %v", i+1, err)
		}
		clients = append(clients, client)
	}
	emit(map[string]interface{}{"held": len(clients)})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	closed := make(chan struct{})
	go func() { _, _ = io.Copy(ioutil.Discard, os.Stdin); close(closed) }()
	select {
	case <-signals:
	case <-closed:
	}
	for _, c := range clients {
		c.Close()
	}
}

func runWaitFirst() {
	deadline := time.Now().Add(*timeout)
	attempts := 0
	for time.Now().Before(deadline) {
		attempts++
		client, err := dial()
		if err != nil {
			time.Sleep(500 * time.Microsecond)
			continue
		}
		c := makeCaller(client, 0, 1, parseIDs(*idList))
		err = c.callNext()
		client.Close()
		if err == nil {
			emit(map[string]interface{}{"first_answer_unix_ns": time.Now().UnixNano(), "attempts": attempts,
				"response_bytes": len(c.response.data)})
			return
		}
		time.Sleep(500 * time.Microsecond)
	}
	fail("no answer within %v (%d attempts)", *timeout, attempts)
}

func runLoad() {
	if *connections < 1 || *inflight < 1 {
		fail("-connections and -inflight must be at least 1")
	}
	ids := parseIDs(*idList)
	workers := *connections * *inflight
	callers := make([]*caller, 0, workers)
	for i := 0; i < *connections; i++ {
		client, err := dial()
		if err != nil {
			fail("cannot connect to %s: %v", *socket, err)
		}
		defer client.Close()
		for j := 0; j < *inflight; j++ {
			callers = append(callers, makeCaller(client, len(callers), workers, ids))
		}
	}

	if *check {
		c := makeCaller(callers[0].client, 0, 1, ids)
		req := c.next()
		if *request == "activate" && *once {
			// do not take an id off the once-list
			atomic.StoreInt64(&onceIndex, -1)
			req = &connectorsv1.ActivateRequest{ConnectorId: ids[0], ConnectorUrl: *activateURL}
		}
		if err := c.call(req); err != nil {
			fail("check call: %v", err)
		}
		fmt.Fprintf(os.Stderr, "ttrpc-load: check: %s\n", decodeForCheck(c.response.data))
	}

	// phase: 0 warm-up, 1 measuring, 2 stop.
	var phase int32
	var remaining int64 = math.MaxInt64
	if *callLimit > 0 {
		remaining = *callLimit
		phase = 1
	}
	type stats struct {
		latencies []float64
		errors    int64
		firstErr  error
		bytes     int
	}
	results := make([]stats, workers)
	var wg sync.WaitGroup
	allDone := make(chan struct{})
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := callers[w]
			st := &results[w]
			st.latencies = make([]float64, 0, 1<<14)
			<-start
			for {
				p := atomic.LoadInt32(&phase)
				if p == 2 {
					return
				}
				if *callLimit > 0 && atomic.AddInt64(&remaining, -1) < 0 {
					return
				}
				t0 := time.Now()
				err := c.callNext()
				if err == errDone {
					return
				}
				elapsed := time.Since(t0)
				if p == 1 && atomic.LoadInt32(&phase) == 1 {
					if err != nil {
						st.errors++
						if st.firstErr == nil {
							st.firstErr = err
						}
					} else {
						st.latencies = append(st.latencies, float64(elapsed.Nanoseconds())/1000)
						st.bytes = len(c.response.data)
					}
				}
			}
		}(w)
	}
	go func() { wg.Wait(); close(allDone) }()

	close(start)
	if *callLimit == 0 && *warmup > 0 {
		time.Sleep(*warmup)
	}
	cpu0, ticks0 := threadCPU(*serverPID), processTicks(*serverPID)
	began := time.Now()
	atomic.StoreInt32(&phase, 1)

	var rssMax int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		if *serverPID == 0 {
			return
		}
		ticker := time.NewTicker(50 * time.Millisecond)
		defer ticker.Stop()
		for {
			if v := serverRSS(*serverPID); v > rssMax {
				rssMax = v
			}
			select {
			case <-stopSampling:
				return
			case <-ticker.C:
			}
		}
	}()

	if *callLimit > 0 {
		<-allDone
	} else {
		select {
		case <-time.After(*duration):
		case <-allDone:
		}
	}
	// The server's CPU time is read before the callers stop (the connections
	// stay open until the end anyway).
	ended := time.Now()
	cpu1, ticks1 := threadCPU(*serverPID), processTicks(*serverPID)
	cpuNS := cpuDelta(cpu0, cpu1)
	atomic.StoreInt32(&phase, 2)
	rssEnd := int64(0)
	if *serverPID != 0 {
		rssEnd = serverRSS(*serverPID)
	}
	close(stopSampling)
	<-sampled
	<-allDone

	var all []float64
	var errorsTotal int64
	var firstErr error
	bytes := 0
	for _, st := range results {
		all = append(all, st.latencies...)
		errorsTotal += st.errors
		if firstErr == nil && st.firstErr != nil {
			firstErr = st.firstErr
		}
		if st.bytes > 0 {
			bytes = st.bytes
		}
	}
	sort.Float64s(all)
	seconds := ended.Sub(began).Seconds()
	sum := 0.0
	for _, v := range all {
		sum += v
	}
	out := map[string]interface{}{
		"request":        *request,
		"connections":    *connections,
		"inflight":       *inflight,
		"calls":          len(all),
		"errors":         errorsTotal,
		"seconds":        seconds,
		"calls_per_sec":  float64(len(all)) / seconds,
		"p50_us":         percentile(all, 0.50),
		"p99_us":         percentile(all, 0.99),
		"max_us":         percentile(all, 1.0),
		"response_bytes": bytes,
	}
	if len(all) > 0 {
		out["mean_us"] = sum / float64(len(all))
	}
	if firstErr != nil {
		out["first_error"] = firstErr.Error()
	}
	if *serverPID != 0 {
		out["server_cpu_ns"] = cpuNS
		out["server_cpu_ticks"] = ticks1 - ticks0
		if len(all) > 0 {
			out["server_cpu_us_per_call"] = float64(cpuNS) / 1000 / float64(len(all))
		}
		out["server_rss_kb_max"] = rssMax
		out["server_rss_kb_end"] = rssEnd
	}
	emit(out)
}

func main() {
	flag.Parse()
	if *socket == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: ttrpc-load -socket PATH [-request raw|get|list|register|activate] [options]; -h for all")
		os.Exit(2)
	}
	switch {
	case *hold > 0:
		runHold()
	case *waitFirst:
		runWaitFirst()
	default:
		runLoad()
	}
}
