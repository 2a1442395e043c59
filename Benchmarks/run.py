#!/usr/bin/env python3
"""connectord benchmark harness (issue 5).

Builds what it needs, starts every server itself, seeds connectord's
registry, runs each call pattern --runs times under each CPU placement and
prints one markdown table of medians, with the ratios of issue 5's targets and
PASS/MISS (with the miss factor) for each.

    Benchmarks/run.py                  # full run: 5 runs x 3 placements, ~10 min
    Benchmarks/run.py --quick          # smoke test: tiny workload, ~10 s
    Benchmarks/run.py --help

Servers, all on Unix sockets in a temporary directory:
  connectord         the release build of this package (or --bin-dir), default
                     configuration (log level info, stderr to a file)
  Go ttrpc echo      Benchmarks/go/.../ttrpc-echo: containerd/ttrpc 1.1.1, 64-byte payload
  C floor            Benchmarks/c/pingpong.c: raw AF_UNIX stream, 74-byte frames
  sample-connector   the schema server that Activate fetches from (127.0.0.1)
One client for every ttrpc server: Benchmarks/go/.../ttrpc-load (containerd/ttrpc
1.1.1); the floor has its own C client with the same call patterns. Watch
streams need ttrpc 1.2 streams, which ttrpc 1.1.1 lacks: the watchers are
Benchmarks/watch-load, a Swift client built with connectord.

Python 3 standard library only. Needs swift (unless --bin-dir), go with
Debian's golang-github-containerd-ttrpc-dev, gcc and taskset; strace, if
present, counts connectord's fsync calls per Register.
"""

import argparse
import ctypes
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "Benchmarks"
BIN = BENCH / "bin"
GOCODE = Path("/usr/share/gocode")

ECHO_SERVICE, ECHO_METHOD = "bench.v1.Echo", "Echo"
# EchoMessage{data: 62 bytes}: a 64-byte encoded payload.
ECHO_PAYLOAD_HEX = "0a3e" + "ab" * 62
# The floor's frame: a 10-byte ttrpc header and 64 bytes of data.
FLOOR_FRAME = 74
# A ttrpc List request frame, roughly: header + envelope (service, method, payload).
LIST_REQUEST_FRAME = 60

PATTERNS = [("seq", 1, 1), ("1x16", 1, 16), ("8x4", 8, 4)]
PATTERN_NAMES = {"seq": "1 client sequential", "1x16": "1 conn x 16 in flight", "8x4": "8 conns x 4 in flight"}
SERVERS = ["connectord", "echo", "floor"]
SERVER_NAMES = {"connectord": "connectord Get", "echo": "Go ttrpc echo", "floor": "C floor (raw AF_UNIX)"}


TIMES0 = 0.0


class BenchError(Exception):
    pass


def log(message):
    try:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
    except OSError:   # stderr gone (the parent died): keep going, clean up
        pass


try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None
PR_SET_PDEATHSIG = 1


def die_with_parent(signum=signal.SIGKILL):
    """In a child (preexec_fn): get `signum` when this script dies, however it dies."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)


def popen(command, **kwargs):
    """Popen for every long-lived child: killed if this script is killed."""
    return subprocess.Popen([str(c) for c in command], preexec_fn=die_with_parent, **kwargs)


# ---------------------------------------------------------------- processes

class Server:
    """A server process we started; stopped by its pid."""

    def __init__(self, name, command, log_path, stdout=subprocess.DEVNULL):
        self.name = name
        self.log_path = log_path
        self.log_file = open(log_path, "ab")
        self.process = popen(command, stdout=stdout, stderr=self.log_file, stdin=subprocess.DEVNULL,
                             start_new_session=True)

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def stop(self, timeout=15):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()
        return self.process.returncode

    def log_tail(self, lines=20):
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_for_socket(path, server, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(str(path))
                return
        except OSError:
            time.sleep(0.01)
    raise BenchError(f"{server.name} did not listen on {path} within {timeout} s:\n{server.log_tail()}")


def run_checked(command, timeout, env=None, what=None, cwd=None):
    command = [str(c) for c in command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what or command[0]} timed out after {timeout} s: {' '.join(command)}")
    if done.returncode != 0:
        raise BenchError(f"{what or command[0]} failed ({done.returncode}): {' '.join(command)}\n"
                         f"{done.stderr.strip()[-3000:]}")
    return done


def rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- build

def go_env():
    env = dict(os.environ)
    env.update({
        "GO111MODULE": "off",
        "GOPATH": f"{BENCH / 'go'}:{ROOT / 'Tests/Interop/go'}:{GOCODE}",
        "GOFLAGS": "", "GOPROXY": "off", "CGO_ENABLED": "0",
    })
    cache = subprocess.run(["go", "env", "GOCACHE"], capture_output=True, text=True, env=env).stdout.strip()
    try:
        if not cache or cache == "off":
            raise OSError
        os.makedirs(cache, exist_ok=True)
        if not os.access(cache, os.W_OK):
            raise OSError
    except OSError:
        env["GOCACHE"] = os.path.join(tempfile.gettempdir(), f"connectord-bench-gocache-{os.getuid()}")
    return env


def build(args):
    needed = ["go", "gcc"] + (["taskset"] if set(args.placements) - {"unpinned"} else [])
    for tool in needed:
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} not found on PATH")
    BIN.mkdir(parents=True, exist_ok=True)
    log("building the C floor (gcc -O2)")
    run_checked(["gcc", "-O2", "-Wall", "-pthread", "-o", BIN / "pingpong", BENCH / "c/pingpong.c", "-lm"], 120)
    if not (GOCODE / "src/github.com/containerd/ttrpc").is_dir():
        raise BenchError(f"containerd/ttrpc not found under {GOCODE}; install golang-github-containerd-ttrpc-dev")
    log("building ttrpc-load and ttrpc-echo (go, GOPATH mode, containerd/ttrpc 1.1.1)")
    env = go_env()
    for program in ["ttrpc-load", "ttrpc-echo"]:
        run_checked(["go", "build", "-o", BIN / program, f"connectord/bench/cmd/{program}"], 600, env=env)
    if args.bin_dir:
        bin_dir = Path(args.bin_dir).resolve()
    else:
        configuration = "debug" if args.debug else "release"
        base = ["swift", "build", "-c", configuration, "--package-path", ROOT]
        if args.scratch_path:
            base += ["--scratch-path", args.scratch_path]
        for product in ["connectord", "sample-connector", "watch-load"]:
            log(f"swift build -c {configuration} --product {product} (the first release build takes minutes)")
            run_checked(base + ["--product", product], 3600)
        bin_dir = Path(run_checked(base + ["--show-bin-path"], 600).stdout.strip())
    for program in ["connectord", "sample-connector"]:
        if not os.access(bin_dir / program, os.X_OK):
            raise BenchError(f"{bin_dir / program} is not an executable")
    if not os.access(bin_dir / "watch-load", os.X_OK):
        log(f"no watch-load in {bin_dir}: the watch figures (7) are skipped")
    return bin_dir


# ---------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args, bin_dir, work):
        self.args = args
        self.bin_dir = bin_dir
        self.work = work
        self.servers = []
        cpus = sorted(os.sched_getaffinity(0))
        self.cpus = cpus
        a = str(cpus[0])
        b = str(cpus[1]) if len(cpus) > 1 else None
        self.placements = {
            "unpinned": ([], []),
            "same": (["taskset", "-c", a], ["taskset", "-c", a]),
        }
        if b is not None:
            self.placements["split"] = (["taskset", "-c", a], ["taskset", "-c", b])
        self.placement_labels = {
            "unpinned": "unpinned",
            "same": f"same CPU ({a})",
            "split": f"split (server {a}, client {b})",
        }
        self.results = {}   # placement -> key -> [values]
        self.notes = []
        self.data_main = work / "data-main"
        self.data_big = work / "data-big"
        self.schema_url = None
        self.filesystem = "?"
        for directory in [self.data_main, self.data_big]:   # a reused --work-dir starts afresh
            shutil.rmtree(directory, ignore_errors=True)

    # -- helpers

    def start(self, name, command, prefix=(), stdout=subprocess.DEVNULL):
        server = Server(name, list(prefix) + [str(c) for c in command], self.work / f"{name}.log", stdout=stdout)
        self.servers.append(server)
        return server

    def stop(self, server):
        t0 = time.monotonic()
        code = server.stop()
        if self.args.verbose:
            log(f"  stopped {server.name} ({code}): {time.monotonic() - t0:.2f} s")
        if server in self.servers:
            self.servers.remove(server)
        return code

    def stop_all(self):
        for server in list(self.servers):
            try:
                self.stop(server)
            except Exception:   # keep stopping the others
                server.process.kill()
                if server in self.servers:
                    self.servers.remove(server)

    def record(self, placement, key, value):
        self.results.setdefault(placement, {}).setdefault(key, []).append(value)

    def load(self, prefix, sock, options, server=None, timeout=None, what="ttrpc-load"):
        command = list(prefix) + [BIN / "ttrpc-load", "-socket", sock] + [str(o) for o in options]
        if server is not None:
            command += ["-server-pid", server.pid]
        if timeout is None:
            timeout = 120 + self.args.duration * 4
        t0 = time.monotonic()
        done = run_checked(command, timeout, what=what)
        if self.args.verbose:
            log(f"  {what}: {time.monotonic() - t0:.2f} s")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if result.get("errors"):
            self.notes.append(f"{what} {' '.join(str(o) for o in options[:6])}: {result['errors']} errors "
                              f"(first: {result.get('first_error')})")
        return result

    def floor(self, prefix, sock, options, server):
        command = list(prefix) + [BIN / "pingpong", "client", sock] + [str(o) for o in options] + \
            ["-server-pid", server.pid]
        done = run_checked(command, 120 + self.args.duration * 4, what="pingpong client")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def timing(self):
        return ["-duration", f"{self.args.duration}s", "-warmup", f"{self.args.warmup}s"]

    def start_connectord(self, data_dir, sock, prefix=(), name="connectord"):
        server = self.start(name, [self.bin_dir / "connectord", "--socket", sock, "--data-dir", data_dir], prefix)
        return server

    # -- seeding

    def seed(self):
        """Registers --list-size connectors and activates them all (3 tools, 2 templates each)."""
        args = self.args
        sock = self.work / "seed.sock"
        sample = self.start("sample-connector", [self.bin_dir / "sample-connector", "--port", "0"],
                            stdout=subprocess.PIPE)
        line = sample.process.stdout.readline().decode().strip()
        if not line.startswith("sample connector: "):
            raise BenchError(f"sample-connector printed {line!r}:\n{sample.log_tail()}")
        self.schema_url = line.split()[-1]
        daemon = self.start_connectord(self.data_main, sock)
        wait_for_socket(sock, daemon)
        n = args.list_size
        log(f"seeding: registering {n} connectors and activating them from {self.schema_url}")
        self.load([], sock, ["-request", "register", "-name-prefix", "seed", "-calls", n,
                             "-connections", 1, "-inflight", 8], what="seed register")
        result = self.load([], sock, ["-request", "activate", "-ids", f"1-{n}", "-once", "-url", self.schema_url,
                                      "-connections", 1, "-inflight", 16, "-calls", n], what="seed activate")
        if result["calls"] != n or result["errors"]:
            raise BenchError(f"seeding activated {result['calls']} of {n}: {result.get('first_error')}")
        check = subprocess.run([str(c) for c in [BIN / "ttrpc-load", "-socket", sock, "-request", "list",
                                                  "-page-size", n, "-check", "-calls", 1]],
                               capture_output=True, text=True, timeout=60)
        log(check.stderr.strip().replace("ttrpc-load: check: ", "seeded: "))
        self.stop(daemon)
        self.stop(sample)
        self.build_big_database()

    def build_big_database(self):
        """--stored connectors in a second data directory, inserted directly with the daemon stopped."""
        args = self.args
        sock = self.work / "big.sock"
        daemon = self.start_connectord(self.data_big, sock, name="connectord-big")
        wait_for_socket(sock, daemon)   # creates the database, its schema and the key
        self.stop(daemon)
        log(f"building the start-up database: {args.stored} connectors (sqlite3, daemon stopped)")
        source = sqlite3.connect(f"file:{self.data_main / 'connectord.sqlite'}?mode=ro", uri=True)
        row = source.execute(
            "SELECT url, version, tools, tools_count, templates, templates_count, server_config, logo_url "
            "FROM mcp_connectors WHERE id = 1").fetchone()
        source.close()
        big = sqlite3.connect(self.data_big / "connectord.sqlite")
        now = int(time.time() * 1e6)
        with big:
            big.execute(
                """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                   INSERT INTO mcp_connectors (name, description, url, mode, version, tools, tools_count,
                       templates, templates_count, server_config, logo_url, created_at, updated_at)
                   SELECT 'stored-' || i, 'A stored connector for the start-up benchmark', ?, 'active', ?, ?, ?,
                       ?, ?, ?, ?, ? + i, ? + i FROM n""",
                (args.stored, *row, now, now))
        count = big.execute("SELECT count(*) FROM mcp_connectors").fetchone()[0]
        big.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        big.close()
        size = (self.data_big / "connectord.sqlite").stat().st_size
        log(f"start-up database: {count} connectors, {size / 1e6:.0f} MB")

    # -- one placement

    def run_placement(self, placement):
        args = self.args
        server_prefix, client_prefix = self.placements[placement]
        label = self.placement_labels[placement]
        sock_d = self.work / f"d-{placement}.sock"
        sock_e = self.work / f"e-{placement}.sock"
        sock_f = self.work / f"f-{placement}.sock"

        sample = self.start("sample-connector", [self.bin_dir / "sample-connector", "--port", "0"], server_prefix,
                            stdout=subprocess.PIPE)
        url = sample.process.stdout.readline().decode().strip().split()[-1]
        floor = self.start("pingpong", [BIN / "pingpong", "server", sock_f], server_prefix)
        wait_for_socket(sock_f, floor)

        for run in range(1, args.runs + 1):
            log(f"{label}: run {run}/{args.runs}")
            # Fresh servers each run: idle memory is measured before any load.
            daemon = self.start_connectord(self.data_main, sock_d, server_prefix)
            echo = self.start("ttrpc-echo", [BIN / "ttrpc-echo", "-socket", sock_e], server_prefix)
            wait_for_socket(sock_d, daemon)
            wait_for_socket(sock_e, echo)
            self.memory(placement, client_prefix, daemon, sock_d, echo, sock_e)
            # Fresh servers again, so the memory under load does not include
            # what the 1,000 connections left behind.
            self.stop(echo)
            self.stop(daemon)
            daemon = self.start_connectord(self.data_main, sock_d, server_prefix)
            echo = self.start("ttrpc-echo", [BIN / "ttrpc-echo", "-socket", sock_e], server_prefix)
            wait_for_socket(sock_d, daemon)
            wait_for_socket(sock_e, echo)

            for pattern, conns, inflight in PATTERNS:
                shape = ["-connections", conns, "-inflight", inflight]
                results = {
                    "connectord": lambda: self.load(
                        client_prefix, sock_d, ["-request", "get", "-id", 1] + shape + self.timing(), daemon,
                        what=f"Get {pattern}"),
                    "echo": lambda: self.load(
                        client_prefix, sock_e, ["-request", "raw", "-service", ECHO_SERVICE, "-method", ECHO_METHOD,
                                                "-payload-hex", ECHO_PAYLOAD_HEX] + shape + self.timing(), echo,
                        what=f"Echo {pattern}"),
                    "floor": lambda: self.floor(
                        client_prefix, sock_f, ["-request", FLOOR_FRAME, "-reply", FLOOR_FRAME] + shape +
                        ["-duration", args.duration, "-warmup", args.warmup], floor),
                }
                for name in SERVERS:
                    r = results[name]()
                    for field in ["calls_per_sec", "p50_us", "p99_us", "server_cpu_us_per_call"]:
                        self.record(placement, f"{name}.{pattern}.{field}", r.get(field, 0))
                    self.record(placement, f"{name}.bytes", r.get("response_bytes", 0))
                    if pattern == "8x4":
                        self.record(placement, f"{name}.rss_load_kb", r.get("server_rss_kb_max", 0))

            # List of --list-size, and the raw socket moving the same bytes.
            r = self.load(client_prefix, sock_d, ["-request", "list", "-page-size", args.list_size] + self.timing(),
                          daemon, what="List")
            for field in ["calls_per_sec", "p50_us", "p99_us", "server_cpu_us_per_call"]:
                self.record(placement, f"list.{field}", r.get(field, 0))
            self.record(placement, "list.bytes", r["response_bytes"])
            reply = r["response_bytes"] + 14   # + header (10) + envelope tag and length (<= 4)
            f = self.floor(client_prefix, sock_f, ["-request", LIST_REQUEST_FRAME, "-reply", reply, "-duration",
                                                   args.duration, "-warmup", args.warmup], floor)
            self.record(placement, "rawlist.p50_us", f["p50_us"])
            self.record(placement, "rawlist.p99_us", f["p99_us"])

            # Durable Register, 1 and 32 clients; unique names.
            for clients in [1, 32]:
                r = self.load(client_prefix, sock_d, ["-request", "register", "-name-prefix",
                                                      f"r-{placement}-{run}-{clients}", "-connections", clients,
                                                      "-inflight", 1] + self.timing(), daemon,
                              what=f"Register x{clients}")
                self.record(placement, f"register{clients}.calls_per_sec", r["calls_per_sec"])
                self.record(placement, f"register{clients}.p50_us", r["p50_us"])
                self.record(placement, f"register{clients}.cpu_us", r.get("server_cpu_us_per_call", 0))
            self.record(placement, "sqlite.txn_per_sec", self.sqlite_baseline(client_prefix))

            # Watch: fan-out to --watchers, and Register x32 while they listen.
            if os.access(self.bin_dir / "watch-load", os.X_OK):
                self.watch(placement, client_prefix, daemon, sock_d, run)

            # Activate, 16 at once, against the local schema server.
            r = self.load(client_prefix, sock_d, ["-request", "activate", "-ids", "1-16", "-url", url,
                                                  "-connections", 16, "-inflight", 1] + self.timing(), daemon,
                          what="Activate x16")
            self.record(placement, "activate16.calls_per_sec", r["calls_per_sec"])
            self.record(placement, "activate16.p50_us", r["p50_us"])

            self.sync_probe(placement, client_prefix, daemon, sock_d, run)

            self.stop(echo)
            code = self.stop(daemon)
            if code != 0:
                self.notes.append(f"{label} run {run}: connectord exited with {code} on SIGTERM")

            self.startup(placement, server_prefix, client_prefix)

        self.stop(floor)
        self.stop(sample)

    def memory(self, placement, client_prefix, daemon, sock_d, echo, sock_e):
        args = self.args
        # Idle: after one answered call, so the server is fully up.
        self.load(client_prefix, sock_d, ["-request", "get", "-id", 1, "-calls", 1], what="first Get")
        self.load(client_prefix, sock_e, ["-request", "raw", "-service", ECHO_SERVICE, "-method", ECHO_METHOD,
                                          "-payload-hex", ECHO_PAYLOAD_HEX, "-calls", 1], what="first Echo")
        time.sleep(0.3)
        self.record(placement, "connectord.rss_idle_kb", rss_kb(daemon.pid))
        self.record(placement, "echo.rss_idle_kb", rss_kb(echo.pid))
        for name, server, sock, request in [
            ("connectord", daemon, sock_d, ["-request", "get", "-id", 1]),
            ("echo", echo, sock_e, ["-request", "raw", "-service", ECHO_SERVICE, "-method", ECHO_METHOD,
                                    "-payload-hex", ECHO_PAYLOAD_HEX]),
        ]:
            holder = popen(
                list(client_prefix) + [BIN / "ttrpc-load", "-socket", sock, "-hold", args.idle_connections] + request,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = holder.stdout.readline()
            if not line.startswith('{"held"'):
                holder.kill()
                raise BenchError(f"holding {args.idle_connections} connections to {name} failed: {line}"
                                 f"{holder.stderr.read()[-2000:]}")
            time.sleep(0.3)
            self.record(placement, f"{name}.rss_conns_kb", rss_kb(server.pid))
            holder.stdin.close()
            holder.wait(timeout=60)
        time.sleep(0.2)

    def watch_load(self, prefix, sock, options, server=None, what="watch-load"):
        command = list(prefix) + [self.bin_dir / "watch-load", "--socket", sock] + [str(o) for o in options]
        if server is not None:
            command += ["--server-pid", server.pid]
        t0 = time.monotonic()
        done = run_checked(command, 300, what=what)
        if self.args.verbose:
            log(f"  {what}: {time.monotonic() - t0:.2f} s")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def watch(self, placement, client_prefix, daemon, sock, run):
        """Figure 7: --watch-events registrations at --watch-rate, with no watcher and with --watchers
        (their delivery latency, and the server's CPU per event per watcher: the difference of the two
        runs' CPU over events x watchers); then Register x32 without and with the watchers listening."""
        args = self.args
        label = self.placement_labels[placement]
        shape = ["--events", args.watch_events, "--rate", args.watch_rate]
        spread = ["--watchers", args.watchers, "--connections", args.watch_connections]
        base = self.watch_load(client_prefix, sock, ["--watchers", 0, "--name-prefix", f"w0-{placement}-{run}"] +
                               shape, daemon, what="watch-load, no watcher")
        r = self.watch_load(client_prefix, sock, spread + ["--name-prefix", f"w-{placement}-{run}"] + shape, daemon,
                            what=f"watch-load, {args.watchers} watchers")
        deliveries = args.watch_events * args.watchers
        for field in ["latency_p50_us", "latency_p99_us", "latency_max_us", "register_p50_us", "ready_s"]:
            self.record(placement, f"watch.{field}", r[field])
        self.record(placement, "watch.complete_watchers", r["complete_watchers"])
        self.record(placement, "watch.deliveries", r["deliveries"])
        self.record(placement, "watch.expected_deliveries", deliveries)
        self.record(placement, "watch.faults", r["missing_revisions"] + r["duplicates"] + r["errors"])
        self.record(placement, "watch.cut_offs", r["cut_offs"])
        self.record(placement, "watch.server_cpu_ms", r.get("server_cpu_ms") or 0)
        self.record(placement, "watch.base_cpu_ms", base.get("server_cpu_ms") or 0)
        self.record(placement, "watch.cpu_us_per_delivery",
                    max(0.0, (r.get("server_cpu_ms") or 0) - (base.get("server_cpu_ms") or 0)) * 1000 / deliveries)
        if r["complete_watchers"] != args.watchers or r["missing_revisions"] or r["duplicates"] or r["errors"]:
            self.notes.append(f"{label} run {run}: {r['complete_watchers']} of {args.watchers} watchers received "
                              f"all {args.watch_events} events (per watcher {r['events_per_watcher_min']}–"
                              f"{r['events_per_watcher_max']}; revisions missing {r['missing_revisions']}, "
                              f"duplicated {r['duplicates']}; errors {r['errors']}: {r.get('first_error')})")

        # Register x32 with no watcher, then with --watchers listening (and resuming when cut off).
        register = ["-request", "register", "-connections", 32, "-inflight", 1] + self.timing()
        r = self.load(client_prefix, sock, register + ["-name-prefix", f"rw0-{placement}-{run}"], daemon,
                      what="Register x32, no watcher")
        self.record(placement, "watch.register32_none", r["calls_per_sec"])
        listener = popen(list(client_prefix) + [self.bin_dir / "watch-load", "--socket", sock] +
                         [str(o) for o in spread] + ["--name-prefix", f"wl-{placement}-{run}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = listener.stdout.readline()
            if line.strip() != "ready":
                listener.kill()
                raise BenchError(f"watch-load did not get ready: {line!r}\n{listener.stderr.read()[-2000:]}")
            r = self.load(client_prefix, sock, register + ["-name-prefix", f"rw-{placement}-{run}"], daemon,
                          what=f"Register x32, {args.watchers} watchers")
            listener.send_signal(signal.SIGTERM)
            out, err = listener.communicate(timeout=120)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
        if listener.returncode != 0:
            raise BenchError(f"watch-load (listening) exited with {listener.returncode}: {err.strip()[-2000:]}")
        w = json.loads(out.strip().splitlines()[-1])
        self.record(placement, "watch.register32_watched", r["calls_per_sec"])
        self.record(placement, "watch.listen_deliveries_per_sec", w["deliveries"] / max(w["window_s"], 1e-9))
        self.record(placement, "watch.listen_cut_offs", w["cut_offs"])
        self.record(placement, "watch.listen_lag", w["last_revision_max"] - w["last_revision_min"])
        self.record(placement, "watch.listen_p50_us", w["latency_p50_us"])
        if w["missing_revisions"] or w["duplicates"] or w["errors"]:
            self.notes.append(f"{label} run {run}, Register x32 with {args.watchers} watchers: revisions missing "
                              f"{w['missing_revisions']}, duplicated {w['duplicates']}; errors {w['errors']}: "
                              f"{w.get('first_error')}")

    def sync_probe(self, placement, client_prefix, daemon, sock, run):
        """fsync + fdatasync calls per Register (1 and 32 clients), counted with strace -c if it can attach.

        1 per call: one durable transaction per call; 1/k: group commit in batches of k;
        0: the commit is not synced (not durable until a later checkpoint)."""
        if shutil.which("strace") is None:
            return
        for clients in [1, 32]:
            calls = 100 if clients == 1 else 640
            summary = self.work / f"strace-{placement}-{run}-{clients}.txt"
            tracer = popen(
                ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync,sync_file_range,syncfs,sync", "-o", str(summary), "-p", str(daemon.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            line = tracer.stderr.readline()
            if "attached" not in line:
                tracer.wait(timeout=10)
                self.notes.append(f"strace cannot attach to connectord ({line.strip()}): no sync counts")
                return
            time.sleep(0.2)
            self.load(client_prefix, sock, ["-request", "register", "-name-prefix",
                                            f"s-{placement}-{run}-{clients}", "-connections", clients,
                                            "-inflight", 1, "-calls", calls], what=f"Register x{clients} (strace)")
            tracer.send_signal(signal.SIGINT)
            tracer.communicate(timeout=30)
            syncs = 0
            try:
                for row in summary.read_text().splitlines():
                    fields = row.split()
                    if fields and fields[-1] in ("fsync", "fdatasync", "sync_file_range", "syncfs", "sync") \
                            and len(fields) >= 5:
                        syncs += int(fields[3])
            except (OSError, ValueError):
                continue
            self.record(placement, f"register{clients}.syncs_per_call", syncs / calls)

    def startup(self, placement, server_prefix, client_prefix):
        """Time from exec to the first answered Get, with --stored connectors stored."""
        sock = self.work / f"big-{placement}.sock"
        waiter = popen(
            list(client_prefix) + [BIN / "ttrpc-load", "-socket", sock, "-wait-first", "-request", "get",
                                   "-id", max(1, self.args.stored // 2), "-timeout", "120s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.1)   # let the waiter start polling
        began = time.time_ns()
        daemon = self.start_connectord(self.data_big, sock, server_prefix, name="connectord-big")
        out, err = waiter.communicate(timeout=150)
        if waiter.returncode != 0:
            self.stop(daemon)
            raise BenchError(f"start-up: no answer: {err.strip()}\n{daemon.log_tail()}")
        answered = json.loads(out.strip().splitlines()[-1])["first_answer_unix_ns"]
        if self.args.verbose:
            log(f"  start-up: first answer after {(answered - began) / 1e6:.1f} ms")
        self.record(placement, "startup_ms", (answered - began) / 1e6)
        time.sleep(0.2)
        self.record(placement, "connectord.rss_big_kb", rss_kb(daemon.pid))
        self.stop(daemon)

    def sqlite_baseline(self, client_prefix):
        """One durable transaction per insert (WAL, synchronous=FULL) on the same file system."""
        path = self.work / "baseline.sqlite"
        for suffix in ["", "-wal", "-shm"]:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        script = r"""
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL COLLATE NOCASE UNIQUE, "
          "description TEXT NOT NULL, created_at INTEGER NOT NULL)")
duration = float(sys.argv[2]); n = 0; began = time.perf_counter()
while time.perf_counter() - began < duration:
    c.execute("INSERT INTO t (name, description, created_at) VALUES (?, ?, ?)",
              ("baseline-%d" % n, "A connector registered by the benchmark", n)); n += 1
print(n / (time.perf_counter() - began))
"""
        done = run_checked(list(client_prefix) + [sys.executable, "-c", script, path, self.args.duration], 120,
                           what="sqlite baseline")
        return float(done.stdout.strip())

    # -- all

    def run(self):
        self.seed()
        for placement in self.args.placements:
            self.run_placement(placement)


# ---------------------------------------------------------------- the table

def median(values):
    return statistics.median(values) if values else None


def fmt_rate(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_us(v):
    return "—" if v is None else (f"{v:,.1f}" if v < 1000 else f"{v:,.0f}")


def fmt_mb(kb):
    return "—" if kb is None else f"{kb / 1024:.1f}"


def verdict(value, limit, higher_is_better):
    """'PASS' or 'MISS ×f' where f is how far from the limit."""
    if value is None or limit is None or value == 0:
        return "n/a"
    if higher_is_better:
        ok, factor = value >= limit, limit / value
    else:
        ok, factor = value <= limit, value / limit
    return "PASS" if ok else f"**MISS ×{factor:.2f}**"


def render(bench, meta):
    args = bench.args
    placements = list(args.placements)
    med = {p: {k: median(v) for k, v in bench.results.get(p, {}).items()} for p in placements}

    def cells(fn):
        return " | ".join(fn(med[p]) for p in placements)

    rows = []

    def row(number, figure, fn):
        rows.append(f"| {number} | {figure} | {cells(fn)} |")

    def ratio(a, b):
        return None if a is None or b in (None, 0) else a / b

    def target(m, value_fn, limit, higher, fmt="{:.2f}×"):
        v = value_fn(m)
        return "—" if v is None else f"{fmt.format(v)} {verdict(v, limit, higher)}"

    stored = f"{args.stored:,}"
    n = f"{args.list_size:,}"
    head = "| # | figure | " + " | ".join(bench.placement_labels[p] for p in placements) + " |"
    sep = "|---|---|" + "---|" * len(placements)

    # 1 and 2: Get against the echo and the floor.
    for pattern, _, _ in PATTERNS:
        for name in SERVERS:
            prefix = f"{name}.{pattern}"
            num = "1" if name == "connectord" else "2"
            unit = "round trips/s" if name == "floor" else "calls/s"
            row(num, f"{SERVER_NAMES[name]}, {PATTERN_NAMES[pattern]}: {unit}",
                lambda m, k=prefix: fmt_rate(m.get(f"{k}.calls_per_sec")))
            row(num, f"{SERVER_NAMES[name]}, {PATTERN_NAMES[pattern]}: p50 / p99 latency (us)",
                lambda m, k=prefix: f"{fmt_us(m.get(f'{k}.p50_us'))} / {fmt_us(m.get(f'{k}.p99_us'))}")
        for name in SERVERS:
            row("1" if name == "connectord" else "2",
                f"{SERVER_NAMES[name]}, {PATTERN_NAMES[pattern]}: server CPU per call (us)",
                lambda m, k=f"{name}.{pattern}": fmt_us(m.get(f"{k}.server_cpu_us_per_call")))
        if pattern == "seq":
            row("T", "Get sequential p50 / Go echo p50 (target ≤ 1.0)",
                lambda m: target(m, lambda m: ratio(m.get("connectord.seq.p50_us"), m.get("echo.seq.p50_us")),
                                 1.0, False))
            row("T", "Get sequential p50 / floor p50 (target ≤ 2.5)",
                lambda m: target(m, lambda m: ratio(m.get("connectord.seq.p50_us"), m.get("floor.seq.p50_us")),
                                 2.5, False))
        else:
            row("T", f"{PATTERN_NAMES[pattern]}: Get calls/s / Go echo calls/s (target ≥ 1.2)",
                lambda m, p=pattern: target(m, lambda m: ratio(m.get(f"connectord.{p}.calls_per_sec"),
                                                               m.get(f"echo.{p}.calls_per_sec")), 1.2, True))
            row("T", f"{PATTERN_NAMES[pattern]}: server CPU per call / Go echo's (target ≤ 1.0)",
                lambda m, p=pattern: target(m, lambda m: ratio(m.get(f"connectord.{p}.server_cpu_us_per_call"),
                                                               m.get(f"echo.{p}.server_cpu_us_per_call")), 1.0,
                                            False))
            row("R", f"{PATTERN_NAMES[pattern]}: Get calls/s / floor round trips/s (no target)",
                lambda m, p=pattern: f"{ratio(m.get(f'connectord.{p}.calls_per_sec'), m.get(f'floor.{p}.calls_per_sec')) or 0:.2f}×")
    row("", "response sizes: Get / echo / floor (bytes)",
        lambda m: f"{m.get('connectord.bytes') or 0:,.0f} / {m.get('echo.bytes') or 0:,.0f} / "
                  f"{m.get('floor.bytes') or 0:,.0f}")

    # 3: List.
    row("3", f"List of {n} connectors: p50 / p99 (us)",
        lambda m: f"{fmt_us(m.get('list.p50_us'))} / {fmt_us(m.get('list.p99_us'))}")
    row("3", f"List of {n}: response bytes; server CPU per call (us)",
        lambda m: f"{m.get('list.bytes') or 0:,.0f}; {fmt_us(m.get('list.server_cpu_us_per_call'))}")
    row("3", "raw socket moving the same bytes: p50 / p99 (us)",
        lambda m: f"{fmt_us(m.get('rawlist.p50_us'))} / {fmt_us(m.get('rawlist.p99_us'))}")
    row("T", f"List of {n} p50 / raw p50 (target ≤ 3)",
        lambda m: target(m, lambda m: ratio(m.get("list.p50_us"), m.get("rawlist.p50_us")), 3.0, False))

    # 4: Register.
    row("4", "Register, 1 client: calls/s (p50 us)",
        lambda m: f"{fmt_rate(m.get('register1.calls_per_sec'))} ({fmt_us(m.get('register1.p50_us'))})")
    row("4", "Register, 32 clients: calls/s (p50 us)",
        lambda m: f"{fmt_rate(m.get('register32.calls_per_sec'))} ({fmt_us(m.get('register32.p50_us'))})")
    row("4", "Register server CPU per call, 1 / 32 clients (us)",
        lambda m: f"{fmt_us(m.get('register1.cpu_us'))} / {fmt_us(m.get('register32.cpu_us'))}")
    row("4", "fsync/fdatasync per Register, 1 / 32 clients (strace; 1 = per call, 0 = not synced)",
        lambda m: "—" if m.get("register1.syncs_per_call") is None else
        f"{m['register1.syncs_per_call']:.2f} / {m.get('register32.syncs_per_call') or 0:.2f}")
    row("4", "one durable SQLite transaction per insert (WAL, FULL), same disk: txn/s",
        lambda m: fmt_rate(m.get("sqlite.txn_per_sec")))
    def durable(m):
        v = m.get("register1.syncs_per_call")
        if v is None:
            return "— (strace not available)"
        if v == 0:
            return "0 **MISS: commits are not synced**"
        return f"{v:.2f} {verdict(v, 0.95, True)}"
    row("T", "Register is durable: syncs per call with 1 client (target ≥ 1: each answer after its fsync)",
        durable)
    row("T", "Register 32 clients / one durable transaction per call (target ≥ 10)",
        lambda m: target(m, lambda m: ratio(m.get("register32.calls_per_sec"), m.get("sqlite.txn_per_sec")),
                         10.0, True))
    row("T", "Register 32 clients / Register 1 client (target ≥ 10)",
        lambda m: target(m, lambda m: ratio(m.get("register32.calls_per_sec"), m.get("register1.calls_per_sec")),
                         10.0, True))
    row("T", "Register 32 clients: calls/s (target > 5,000)",
        lambda m: target(m, lambda m: m.get("register32.calls_per_sec"), 5000, True, "{:,.0f}"))

    # 5: Activate.
    row("5", "Activate, 16 at once, local schema server: activations/s (p50 us)",
        lambda m: f"{fmt_rate(m.get('activate16.calls_per_sec'))} ({fmt_us(m.get('activate16.p50_us'))})")

    # 6: memory and start-up.
    row("6", "resident memory idle (MB): connectord / Go echo",
        lambda m: f"{fmt_mb(m.get('connectord.rss_idle_kb'))} / {fmt_mb(m.get('echo.rss_idle_kb'))}")
    row("6", f"resident memory with {args.idle_connections:,} idle connections (MB): connectord / Go echo",
        lambda m: f"{fmt_mb(m.get('connectord.rss_conns_kb'))} / {fmt_mb(m.get('echo.rss_conns_kb'))}")
    row("6", "resident memory under the 8 x 4 load, max (MB): connectord / Go echo",
        lambda m: f"{fmt_mb(m.get('connectord.rss_load_kb'))} / {fmt_mb(m.get('echo.rss_load_kb'))}")
    row("T", "connectord idle memory (target ≤ 20 MB)",
        lambda m: target(m, lambda m: (m.get("connectord.rss_idle_kb") or 0) / 1024 or None, 20, False,
                         "{:.1f} MB"))
    row("T", f"memory added by {args.idle_connections:,} idle connections (target ≤ 10 MB)",
        lambda m: target(m, lambda m: None if m.get("connectord.rss_conns_kb") is None else
                         max(0.001, (m["connectord.rss_conns_kb"] - m["connectord.rss_idle_kb"]) / 1024), 10, False,
                         "{:.1f} MB"))
    row("T", "memory under the 8 x 4 load (target ≤ 40 MB)",
        lambda m: target(m, lambda m: (m.get("connectord.rss_load_kb") or 0) / 1024 or None, 40, False,
                         "{:.1f} MB"))
    row("6", f"start to first answered Get, {stored} connectors stored (ms); RSS then (MB)",
        lambda m: f"{fmt_us(m.get('startup_ms'))}; {fmt_mb(m.get('connectord.rss_big_kb'))}")
    row("T", f"start with {stored} stored: first call answered (target ≤ 1,000 ms)",
        lambda m: target(m, lambda m: m.get("startup_ms"), 1000, False, "{:,.0f} ms"))

    # 7: Watch (issue 14), when watch-load was there.
    if any("watch.deliveries" in bench.results.get(p, {}) for p in placements):
        w, c = f"{args.watchers:,}", f"{args.watch_connections:,}"
        raw = {p: bench.results.get(p, {}) for p in placements}

        def every_event(p):
            complete = raw[p].get("watch.complete_watchers")
            if not complete:
                return "—"
            worst, faults = min(complete), sum(raw[p].get("watch.faults", []))
            ok = worst == args.watchers and faults == 0
            return f"{worst:,} of {w}{'' if not faults else f', {faults} gaps/duplicates/errors'} " + \
                ("PASS" if ok else f"**MISS ×{args.watchers / max(worst, 1):.2f}**")
        rows.append(f"| 7 | Watch: {w} watchers on {c} connections, {args.watch_events:,} Registers at "
                    f"{args.watch_rate:g}/s: watchers that received every event, fewest of the runs | " +
                    " | ".join(f"{min(raw[p]['watch.complete_watchers']):,}" if raw[p].get("watch.complete_watchers")
                               else "—" for p in placements) + " |")
        row("7", "Watch: change to delivery at every watcher, p50 / p99 / max (us); the Register's own p50",
            lambda m: f"{fmt_us(m.get('watch.latency_p50_us'))} / {fmt_us(m.get('watch.latency_p99_us'))} / "
                      f"{fmt_us(m.get('watch.latency_max_us'))}; {fmt_us(m.get('watch.register_p50_us'))}")
        row("7", "Watch: server CPU per event per watcher (us); per event, all watchers (ms)",
            lambda m: f"{fmt_us(m.get('watch.cpu_us_per_delivery'))}; "
                      f"{(m.get('watch.cpu_us_per_delivery') or 0) * args.watchers / 1000:,.2f}")
        rows.append(f"| T | Watch: every one of {w} watchers receives every event, in order (target: all) | " +
                    " | ".join(every_event(p) for p in placements) + " |")
        row("T", "Watch: server CPU per event per watcher / Get's CPU per call, 8 conns x 4 (target ≤ 1.0)",
            lambda m: target(m, lambda m: ratio(m.get("watch.cpu_us_per_delivery"),
                                                m.get("connectord.8x4.server_cpu_us_per_call")), 1.0, False))
        row("R", "Watch: server CPU per event per watcher / Get's CPU per call, sequential (no target)",
            lambda m: f"{ratio(m.get('watch.cpu_us_per_delivery'), m.get('connectord.seq.server_cpu_us_per_call')) or 0:.2f}×")
        row("7", f"Register, 32 clients: calls/s with no watcher / with {w} watchers listening",
            lambda m: f"{fmt_rate(m.get('watch.register32_none'))} / {fmt_rate(m.get('watch.register32_watched'))}")
        row("7", f"while they listen: events delivered/s (all watchers); watches cut off (RESOURCE_EXHAUSTED) and "
                 f"resumed; delivery p50 (us)",
            lambda m: f"{fmt_rate(m.get('watch.listen_deliveries_per_sec'))}; "
                      f"{m.get('watch.listen_cut_offs') or 0:,.0f}; {fmt_us(m.get('watch.listen_p50_us'))}")
        row("T", f"Register 32 clients with {w} watchers / with none (target ≥ 0.8)",
            lambda m: target(m, lambda m: ratio(m.get("watch.register32_watched"), m.get("watch.register32_none")),
                             0.8, True))

    out = [
        f"Medians of {args.runs} run(s); each pattern measured for {args.duration} s after a {args.warmup} s "
        f"warm-up. us = microseconds, MB = MiB. Numbered rows: issue 5's figures (7: issue 14's); T rows: their targets "
        f"(ratios within one placement), MISS ×f = off the limit by a factor f; R: a ratio without a target.",
        "",
        head, sep, *rows,
    ]
    return "\n".join(out)


def filesystem_of(path):
    """(type, source) of the mount holding path, from /proc/mounts."""
    best, found = "", ("?", "?")
    try:
        real = os.path.realpath(path)
        for line in Path("/proc/mounts").read_text().splitlines():
            source, point, fstype = line.split()[:3]
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, found = point, (fstype, source)
    except OSError:
        pass
    return found


def machine_info():
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cpus"] = os.cpu_count()
    info["kernel"] = platform.release()
    try:
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return info


def loadavg():
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def git_revision():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "Package.swift"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + (" + uncommitted changes in Sources" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def busy_fraction_sampler():
    """CPU busy fraction of the whole machine between two calls (all processes, ours included)."""
    def read():
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle
    return read


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the table shows medians (5)")
    parser.add_argument("--duration", type=float, default=2.0, help="measured seconds per pattern (2)")
    parser.add_argument("--warmup", type=float, default=0.3, help="warm-up seconds per pattern (0.3)")
    parser.add_argument("--placements", default="unpinned,same,split",
                        help="comma-separated: unpinned, same (both on one CPU), split (one CPU each)")
    parser.add_argument("--stored", type=int, default=100_000, help="connectors stored for the start-up figure (100000)")
    parser.add_argument("--list-size", type=int, default=1000, help="connectors in the List page (1000)")
    parser.add_argument("--idle-connections", type=int, default=1000, help="idle connections held (1000)")
    parser.add_argument("--watchers", type=int, default=1000, help="concurrent watchers for figure 7 (1000)")
    parser.add_argument("--watch-connections", type=int, default=1000,
                        help="connections the watchers are spread over (1000: one each)")
    parser.add_argument("--watch-events", type=int, default=100, help="Registers the watchers receive (100)")
    parser.add_argument("--watch-rate", type=float, default=20, help="those Registers per second (20)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 run, 0.2 s per pattern, 1,000 stored, List of 100, 20 watchers on 10 "
                             "connections receiving 20 events, unpinned only")
    parser.add_argument("--bin-dir", help="use connectord and sample-connector from DIR instead of building")
    parser.add_argument("--label", help="what the --bin-dir binaries are, for the table's header")
    parser.add_argument("--debug", action="store_true", help="build and use the debug configuration")
    parser.add_argument("--scratch-path", help="passed to swift build (a separate build directory)")
    parser.add_argument("--work-dir", help="where sockets and data go (default: a new directory in /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    parser.add_argument("--json", help="also write every raw measurement to this file")
    parser.add_argument("--verbose", action="store_true", help="log every step and its duration")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop (and stop every server) when the parent process dies (for test runners)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.duration, args.warmup = 1, 0.2, 0.05
        args.stored, args.list_size = 1000, 100
        args.watchers, args.watch_connections, args.watch_events, args.watch_rate = 20, 10, 20, 200
        if args.placements == parser.get_default("placements"):
            args.placements = "unpinned"
    args.placements = [p.strip() for p in args.placements.split(",") if p.strip()]
    for p in args.placements:
        if p not in ("unpinned", "same", "split"):
            parser.error(f"unknown placement {p}")
    if args.runs < 1 or args.duration <= 0 or args.list_size < 16 or args.list_size > 1000 or args.stored < 1:
        parser.error("--runs >= 1, --duration > 0, 16 <= --list-size <= 1000, --stored >= 1")
    if args.watchers < 1 or args.watch_connections < 1 or args.watch_events < 1 or args.watch_rate <= 0:
        parser.error("--watchers, --watch-connections and --watch-events >= 1, --watch-rate > 0")

    def terminated(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, terminated)
    if args.exit_with_parent:
        parent = os.getppid()
        die_with_parent(signal.SIGTERM)
        if os.getppid() != parent:   # it died before prctl
            return 130
    # A parent (e.g. a test runner) may have left SIGTERM blocked; the servers
    # started here inherit the mask and must stop on SIGTERM.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    started = time.time()
    load_before = loadavg()
    busy = busy_fraction_sampler()
    busy0 = busy()
    global TIMES0
    TIMES0 = sum(os.times()[:4])
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="cbench.", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    bench = None
    try:
        bin_dir = build(args)
        bench = Bench(args, bin_dir, work)
        if "split" in args.placements and "split" not in bench.placements:
            raise BenchError("the split placement needs two CPUs")
        log(f"work directory {work}; connectord from {bin_dir}")
        fstype, source = filesystem_of(work)
        bench.filesystem = f"{fstype} on {source}"
        if fstype in ("tmpfs", "ramfs"):
            bench.notes.append(f"the work directory {work} is on {fstype}: fsync costs nothing there, so the "
                               "Register figures say nothing about durability; use --work-dir on a disk")
        bench.run()
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        if bench:
            bench.stop_all()
        print(f"(logs in {work})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if bench:
            bench.stop_all()
        return 130
    finally:
        if bench:
            bench.stop_all()
    busy1 = busy()
    total, idle = busy1[0] - busy0[0], busy1[1] - busy0[1]
    elapsed = time.time() - started
    # CPU time of everything else on the machine: busy time minus ours (this
    # script and every child it waited for: servers, clients, builds).
    hz = os.sysconf("SC_CLK_TCK")
    ours = sum(os.times()[:4])
    others = max(0.0, (total - idle) / hz - (ours - TIMES0))
    ncpu = len(os.sched_getaffinity(0))
    info = machine_info()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "revision": git_revision(),
        "connectord": str(bench.bin_dir / "connectord"),
        "machine": info,
        "load_before": load_before,
        "load_after": loadavg(),
        "busy_percent": round(100 * (total - idle) / total, 1) if total else None,
        "others_cpu_s": round(others, 1),
        "others_percent": round(100 * others / (elapsed * ncpu), 1) if elapsed else None,
        "elapsed_s": round(elapsed),
        "args": {k: v for k, v in vars(args).items()},
    }
    table = render(bench, meta)
    print(f"## connectord benchmark, {meta['date']}\n")
    if args.bin_dir:
        built = f"{args.label + ', ' if args.label else ''}given with --bin-dir (the checkout is at {meta['revision']})"
    else:
        built = f"built from this checkout at {meta['revision']}"
    print(f"- connectord: `{meta['connectord']}`, {built}")
    print(f"- machine: {info.get('cpus')} CPUs ({info.get('cpu', '?')}), {info.get('memory_gb', '?')} GB, "
          f"Linux {info.get('kernel')}")
    print(f"- databases and sockets in `{work}` ({bench.filesystem})")
    print(f"- load average before / after: {meta['load_before']} / {meta['load_after']}; during the run "
          f"({meta['elapsed_s']} s) other processes used {meta['others_cpu_s']} CPU-seconds, "
          f"{meta['others_percent']}% of the machine (the benchmark's own processes excluded)")
    print()
    print(table)
    if bench.notes:
        print("\nNotes:")
        for note in bench.notes:
            print(f"- {note}")
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": bench.results, "notes": bench.notes},
                                              indent=1))
    if not args.keep and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
