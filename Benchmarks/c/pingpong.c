/*
 * pingpong: the physical floor of a request/response over an AF_UNIX stream
 * socket. No framing work, no encoding: the client writes REQ bytes, the
 * server answers with REPLY bytes as soon as it has read a whole request.
 *
 *   pingpong server SOCKET
 *       Listens on SOCKET (replacing a stale file), prints "ready", serves each
 *       connection on its own thread until SIGTERM/SIGINT. A connection starts
 *       with 8 bytes: the request and the reply size (uint32, big-endian).
 *
 *   pingpong client SOCKET [-request 74] [-reply 74] [-connections 1]
 *                          [-inflight 1] [-duration 2] [-warmup 0.3]
 *                          [-calls N] [-server-pid PID]
 *       Each connection has its own thread that keeps -inflight requests
 *       outstanding (1: sequential round trips). Prints one JSON line like
 *       ttrpc-load: calls, calls_per_sec, p50_us, p99_us, server_cpu_ns...
 *
 * The defaults, 74 bytes each way, are a ttrpc frame of 64 bytes of data and
 * its 10-byte header. For the List comparison, -reply is the size of the List
 * response frame and the request stays small.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int read_full(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r == 0) return -1;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static uint32_t get_be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- server ---- */

static void *serve_connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    unsigned char hello[8];
    if (read_full(fd, hello, 8) != 0) { close(fd); return NULL; }
    uint32_t req = get_be32(hello), reply = get_be32(hello + 4);
    if (req == 0 || req > (64u << 20) || reply > (64u << 20)) { close(fd); return NULL; }
    /* Read whatever has arrived; answer every whole request in one write. */
    size_t cap = req * 64 > 65536 ? req * 64 : 65536;
    unsigned char *in = malloc(cap);
    size_t max_batch = reply == 0 ? 64 : (1u << 20) / reply;
    if (max_batch < 1) max_batch = 1;
    if (max_batch > 64) max_batch = 64;
    unsigned char *out = calloc(1, max_batch * reply + 1);
    if (!in || !out) die("malloc");
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, in + have, cap - have);
        if (r == 0) break;
        if (r < 0) { if (errno == EINTR) continue; break; }
        have += (size_t)r;
        size_t whole = have / req;
        while (whole > 0) {
            size_t batch = whole > max_batch ? max_batch : whole;
            if (reply > 0 && write_full(fd, out, batch * reply) != 0) goto done;
            whole -= batch;
        }
        size_t used = (have / req) * req;
        memmove(in, in + used, have - used);
        have -= used;
    }
done:
    free(in);
    free(out);
    close(fd);
    return NULL;
}

static int run_server(const char *path) {
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0) die("socket");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) { fprintf(stderr, "pingpong: socket path too long\n"); return 1; }
    strcpy(addr.sun_path, path);
    unlink(path);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind");
    if (listen(ls, 1024) != 0) die("listen");
    signal(SIGPIPE, SIG_IGN);
    /* SIGTERM stops the server, even if the parent left it blocked. */
    signal(SIGTERM, SIG_DFL);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) { if (errno == EINTR) continue; die("accept"); }
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&t, &attr, serve_connection, (void *)(intptr_t)fd) != 0) die("pthread_create");
        pthread_attr_destroy(&attr);
    }
}

/* ---- client ---- */

static const char *sock_path;
static uint32_t req_size = 74, reply_size = 74;
static int inflight = 1;
static atomic_int phase;          /* 0 warm-up, 1 measuring, 2 stop */
static atomic_long remaining = -1; /* with -calls */
static long call_limit = 0;
static atomic_int finished;   /* client threads done with their calls */
static atomic_int may_close;  /* set once the server's CPU time has been read */

struct worker {
    pthread_t thread;
    double *lat;
    size_t n, cap;
    long errors;
};

static void record(struct worker *w, double us) {
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1 << 14;
        w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        if (!w->lat) die("realloc");
    }
    w->lat[w->n++] = us;
}

static void *client_thread(void *arg) {
    struct worker *w = arg;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, sock_path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
    unsigned char hello[8];
    put_be32(hello, req_size);
    put_be32(hello + 4, reply_size);
    if (write_full(fd, hello, 8) != 0) die("write");
    unsigned char *req = calloc(1, req_size);
    size_t rcap = reply_size > 65536 ? reply_size : 65536;
    unsigned char *buf = malloc(rcap);
    double *sent = calloc((size_t)inflight, sizeof(double));
    int *sent_phase = calloc((size_t)inflight, sizeof(int));
    if (!req || !buf || !sent || !sent_phase) die("malloc");
    int head = 0, tail = 0, outstanding = 0;
    int stopping = 0;
    for (;;) {
        /* Fill the window. */
        while (!stopping && outstanding < inflight) {
            if (atomic_load(&phase) == 2) { stopping = 1; break; }
            if (call_limit > 0 && atomic_fetch_sub(&remaining, 1) <= 0) { stopping = 1; break; }
            sent_phase[tail] = atomic_load(&phase);
            sent[tail] = now_s();
            if (write_full(fd, req, req_size) != 0) die("write");
            tail = (tail + 1) % inflight;
            outstanding++;
        }
        if (outstanding == 0) break;
        /* Read one reply (replies come back in order on one stream). */
        if (reply_size > 0 && read_full(fd, buf, reply_size) != 0) die("read");
        double t = now_s();
        if (sent_phase[head] == 1 && atomic_load(&phase) == 1) record(w, (t - sent[head]) * 1e6);
        head = (head + 1) % inflight;
        outstanding--;
    }
    /* Keep the connection (and so the server's thread) until the server's
       CPU time has been read: a thread that ended would not be counted. */
    atomic_fetch_add(&finished, 1);
    while (!atomic_load(&may_close)) usleep(1000);
    close(fd);
    free(req); free(buf); free(sent); free(sent_phase);
    return NULL;
}

/* Per-thread run time (ns) of pid from /proc/PID/task/TID/schedstat. */
struct thread_times {
    int n;
    long tid[4096];
    long long ns[4096];
};

static void thread_times(int pid, struct thread_times *t) {
    t->n = 0;
    if (pid <= 0) return;
    char path[256];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && t->n < 4096) {
        if (e->d_name[0] == '.') continue;
        char p[512];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        long long v = 0;
        if (fscanf(f, "%lld", &v) == 1) {
            t->tid[t->n] = atol(e->d_name);
            t->ns[t->n] = v;
            t->n++;
        }
        fclose(f);
    }
    closedir(d);
}

/* CPU used since `start` by the threads alive at `end` (a new thread counts in full). */
static long long cpu_delta(const struct thread_times *start, const struct thread_times *end) {
    long long ns = 0;
    for (int i = 0; i < end->n; i++) {
        long long before = 0;
        for (int j = 0; j < start->n; j++)
            if (start->tid[j] == end->tid[i]) { before = start->ns[j]; break; }
        ns += end->ns[i] - before;
    }
    return ns;
}

/* utime + stime of pid in clock ticks (ended threads included). */
static long long process_ticks(int pid) {
    if (pid <= 0) return 0;
    char path[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    long long ut = 0, st = 0;
    if (f) {
        char line[4096];
        if (fgets(line, sizeof line, f)) {
            char *p = strrchr(line, ')');
            if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) != 2)
                ut = st = 0;
        }
        fclose(f);
    }
    return ut + st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
    if (n == 0) return 0;
    long i = (long)ceil(p * (double)n) - 1;
    if (i < 0) i = 0;
    if ((size_t)i >= n) i = (long)n - 1;
    return v[i];
}

static int run_client(int argc, char **argv) {
    int connections = 1, server_pid = 0;
    double duration = 2, warmup = 0.3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "pingpong: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "-request")) req_size = (uint32_t)atol(v);
        else if (!strcmp(a, "-reply")) reply_size = (uint32_t)atol(v);
        else if (!strcmp(a, "-connections")) connections = atoi(v);
        else if (!strcmp(a, "-inflight")) inflight = atoi(v);
        else if (!strcmp(a, "-duration")) duration = atof(v);
        else if (!strcmp(a, "-warmup")) warmup = atof(v);
        else if (!strcmp(a, "-calls")) call_limit = atol(v);
        else if (!strcmp(a, "-server-pid")) server_pid = atoi(v);
        else { fprintf(stderr, "pingpong: unknown option %s\n", a); return 2; }
        i++;
    }
    if (req_size == 0 || reply_size == 0 || connections < 1 || inflight < 1) { fprintf(stderr, "pingpong: bad sizes\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    if (call_limit > 0) { atomic_store(&remaining, call_limit); atomic_store(&phase, 1); }
    struct worker *w = calloc((size_t)connections, sizeof *w);
    for (int i = 0; i < connections; i++)
        if (pthread_create(&w[i].thread, NULL, client_thread, &w[i]) != 0) die("pthread_create");
    static struct thread_times cpu0, cpu1;
    long long ticks0 = 0, ticks1 = 0;
    double began, ended;
    if (call_limit > 0) {
        thread_times(server_pid, &cpu0);
        ticks0 = process_ticks(server_pid);
        began = now_s();
        while (atomic_load(&finished) < connections) usleep(100);
        ended = now_s();
        thread_times(server_pid, &cpu1);
        ticks1 = process_ticks(server_pid);
        atomic_store(&may_close, 1);
        for (int i = 0; i < connections; i++) pthread_join(w[i].thread, NULL);
    } else {
        struct timespec ws = {(time_t)warmup, (long)((warmup - (time_t)warmup) * 1e9)};
        nanosleep(&ws, NULL);
        thread_times(server_pid, &cpu0);
        ticks0 = process_ticks(server_pid);
        began = now_s();
        atomic_store(&phase, 1);
        struct timespec ds = {(time_t)duration, (long)((duration - (time_t)duration) * 1e9)};
        nanosleep(&ds, NULL);
        ended = now_s();
        thread_times(server_pid, &cpu1);
        ticks1 = process_ticks(server_pid);
        atomic_store(&phase, 2);
        atomic_store(&may_close, 1);
        for (int i = 0; i < connections; i++) pthread_join(w[i].thread, NULL);
    }
    size_t total = 0;
    for (int i = 0; i < connections; i++) total += w[i].n;
    double *all = malloc((total + 1) * sizeof *all);
    size_t k = 0;
    double sum = 0;
    for (int i = 0; i < connections; i++)
        for (size_t j = 0; j < w[i].n; j++) { all[k++] = w[i].lat[j]; sum += w[i].lat[j]; }
    qsort(all, total, sizeof *all, cmp_double);
    double seconds = ended - began;
    printf("{\"request\":\"pingpong\",\"connections\":%d,\"inflight\":%d,\"request_bytes\":%u,\"response_bytes\":%u,"
           "\"calls\":%zu,\"errors\":0,\"seconds\":%.6f,\"calls_per_sec\":%.3f,\"p50_us\":%.3f,\"p99_us\":%.3f,"
           "\"max_us\":%.3f,\"mean_us\":%.3f",
           connections, inflight, req_size, reply_size, total, seconds, total / seconds, pct(all, total, 0.5),
           pct(all, total, 0.99), pct(all, total, 1.0), total ? sum / total : 0.0);
    long long cpu_ns = cpu_delta(&cpu0, &cpu1);
    if (server_pid > 0)
        printf(",\"server_cpu_ns\":%lld,\"server_cpu_ticks\":%lld,\"server_cpu_us_per_call\":%.4f", cpu_ns,
               ticks1 - ticks0, total ? cpu_ns / 1000.0 / total : 0.0);
    printf("}\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "server")) return run_server(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "client")) {
        sock_path = argv[2];
        if (strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            fprintf(stderr, "pingpong: socket path too long\n");
            return 2;
        }
        return run_client(argc - 3, argv + 3);
    }
    fprintf(stderr, "usage: pingpong server SOCKET | pingpong client SOCKET [-request N] [-reply N] "
                    "[-connections N] [-inflight M] [-duration S] [-warmup S] [-calls N] [-server-pid PID]\n");
    return 2;
}
