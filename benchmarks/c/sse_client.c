/*
 * sse_client: a raw epoll load client for OpenAI chat-completion streams, the floor to compare a client with.
 *
 * C keep-alive connections, opened before the clock starts; a closed loop: each finished reply sends the
 * next request on its connection at once, until R requests have been sent. The request bytes are built
 * once (a body like glmbench's: model, a short message, max_tokens M, stream, stream_options.include_usage).
 * Replies are parsed minimally but correctly: the status line and headers, the chunked framing (sizes,
 * extensions, trailers), then SSE lines (LF or CRLF; an event ends at a blank line; data: lines). A
 * content event is one whose delta carries non-empty "content"; the reply's end is data: [DONE], and the
 * connection is reused once the chunked body's terminator has been read. Every recv is followed by a
 * CLOCK_MONOTONIC read, which stamps all the events it completed.
 *
 * Prints one JSON line: requests, tokens, duration_s and tokens_per_s (content events / (last [DONE] -
 * first send)), TTFT (first content event - send) mean/p50/p99 ms, E2E mean ms, errors and replies whose
 * content count was not M, the CPU (and of it system) seconds this process used and its number of reads.
 *
 *   gcc -O2 -Wall -Wextra -o sse_client sse_client.c
 *   ./sse_client --port 8000 --streams 64 --requests 640 --max-tokens 512
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

enum { HEAD, CSIZE, CEXT, CSIZE_LF, CDATA, CDATA_CR, CDATA_LF, TRAILER, DONE_MSG };

typedef struct {
    int fd;
    int phase;             /* HTTP/chunked parser state */
    char head[8192];
    size_t head_len;
    size_t chunk_left;
    size_t csize;
    int csize_digits;
    int trailer_line_len;  /* bytes in the current trailer line (0: an empty line ends the message) */
    char line[4096];       /* the SSE line being assembled */
    size_t line_len;
    int line_long;         /* the line outgrew the buffer (an event nobody here needs) */
    int event_content;     /* the event being assembled carries content */
    int event_done;        /* ... is [DONE] */
    int tokens;            /* content events in this reply */
    int64_t send_ns, first_ns, end_ns;
    int saw_done;
} Conn;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static char *request;
static size_t request_len;
static long sent, finished, errors, bad_counts, total_tokens, nreq;
static int max_tokens;
static double *ttft_ms, *e2e_ms;
static int64_t first_send, last_end;
static long reads;

static void send_request(Conn *c) {
    c->phase = HEAD;
    c->head_len = 0;
    c->line_len = 0;
    c->line_long = c->event_content = c->event_done = 0;
    c->tokens = 0;
    c->first_ns = c->end_ns = 0;
    c->saw_done = 0;
    c->send_ns = now_ns();
    if (!first_send) first_send = c->send_ns;
    size_t off = 0;
    while (off < request_len) { /* a few hundred bytes into an empty socket buffer: one send */
        ssize_t n = send(c->fd, request + off, request_len - off, MSG_NOSIGNAL);
        if (n > 0) off += (size_t)n;
        else if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        else die("send");
    }
    sent++;
}

/* An event ended (blank line). */
static void dispatch(Conn *c, int64_t ts) {
    if (c->event_done) {
        c->saw_done = 1;
        c->end_ns = ts;
    } else if (c->event_content) {
        if (!c->tokens) c->first_ns = ts;
        c->tokens++;
    }
    c->event_content = c->event_done = 0;
}

/* One SSE line, without its end. */
static void sse_line(Conn *c, int64_t ts) {
    const char *l = c->line;
    size_t n = c->line_len;
    if (n && l[n - 1] == '\r') n--;
    if (n == 0) {
        dispatch(c, ts);
        return;
    }
    if (c->line_long || n < 5 || memcmp(l, "data:", 5) != 0) return;
    const char *p = l + 5, *end = l + n;
    if (p < end && *p == ' ') p++;
    if ((size_t)(end - p) == 6 && memcmp(p, "[DONE]", 6) == 0) {
        c->event_done = 1;
        return;
    }
    const char *k = memmem(p, (size_t)(end - p), "\"content\":\"", 11);
    if (k && k + 11 < end && k[11] != '"') c->event_content = 1;
}

/* De-chunked body bytes: split into SSE lines. */
static void sse_feed(Conn *c, const char *data, size_t len, int64_t ts) {
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (c->line_len + take <= sizeof c->line) {
            memcpy(c->line + c->line_len, data, take);
            c->line_len += take;
        } else {
            c->line_long = 1;
        }
        if (!nl) return;
        sse_line(c, ts);
        c->line_len = 0;
        c->line_long = 0;
        data += take + 1;
        len -= take + 1;
    }
}

static void fail(Conn *c, const char *why) {
    fprintf(stderr, "sse_client: %s\n", why);
    errors++;
    (void)c;
    exit(1);
}

static void reply_done(Conn *c) {
    long i = finished++;
    if (!c->saw_done) errors++;
    if (c->tokens != max_tokens) bad_counts++;
    total_tokens += c->tokens;
    ttft_ms[i] = c->first_ns ? (c->first_ns - c->send_ns) / 1e6 : 0;
    e2e_ms[i] = (c->end_ns - c->send_ns) / 1e6;
    if (c->end_ns > last_end) last_end = c->end_ns;
}

/* Everything one recv returned. 1 when the reply's message ended (the connection is free again). */
static int feed(Conn *c, const char *p, size_t len, int64_t ts) {
    const char *end = p + len;
    while (p < end) {
        switch (c->phase) {
        case HEAD: {
            size_t take = (size_t)(end - p);
            if (c->head_len + take > sizeof c->head) take = sizeof c->head - c->head_len;
            if (!take) fail(c, "response headers too long");
            memcpy(c->head + c->head_len, p, take);
            size_t before = c->head_len;
            c->head_len += take;
            char *h = memmem(c->head, c->head_len, "\r\n\r\n", 4);
            if (!h) {
                p += take;
                break;
            }
            size_t hlen = (size_t)(h - c->head) + 4;
            p += hlen - before;
            if (c->head_len < 12 || memcmp(c->head + 9, "200", 3) != 0) fail(c, "status not 200");
            c->head[hlen - 1] = 0;
            if (!strcasestr(c->head, "transfer-encoding: chunked")) fail(c, "reply not chunked");
            c->phase = CSIZE;
            c->csize = 0;
            c->csize_digits = 0;
            break;
        }
        case CSIZE: {
            char ch = *p++;
            int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                  : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
            if (v >= 0) {
                c->csize = c->csize * 16 + (size_t)v;
                c->csize_digits++;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->phase = CEXT;
            } else if (ch == '\r') {
                c->phase = CSIZE_LF;
            } else {
                fail(c, "bad chunk size");
            }
            break;
        }
        case CEXT: {
            const char *cr = memchr(p, '\r', (size_t)(end - p));
            if (!cr) {
                p = end;
                break;
            }
            p = cr + 1;
            c->phase = CSIZE_LF;
            break;
        }
        case CSIZE_LF:
            if (*p++ != '\n' || !c->csize_digits) fail(c, "bad chunk size line");
            if (c->csize == 0) {
                c->phase = TRAILER;
                c->trailer_line_len = 0;
            } else {
                c->chunk_left = c->csize;
                c->phase = CDATA;
            }
            break;
        case CDATA: {
            size_t take = (size_t)(end - p) < c->chunk_left ? (size_t)(end - p) : c->chunk_left;
            sse_feed(c, p, take, ts);
            p += take;
            c->chunk_left -= take;
            if (!c->chunk_left) c->phase = CDATA_CR;
            break;
        }
        case CDATA_CR:
            if (*p++ != '\r') fail(c, "chunk not followed by CRLF");
            c->phase = CDATA_LF;
            break;
        case CDATA_LF:
            if (*p++ != '\n') fail(c, "chunk not followed by CRLF");
            c->phase = CSIZE;
            c->csize = 0;
            c->csize_digits = 0;
            break;
        case TRAILER: {
            char ch = *p++;
            if (ch == '\n') {
                if (c->trailer_line_len == 0) {
                    c->phase = DONE_MSG;
                    if (p != end) fail(c, "bytes after the reply's end");
                    return 1;
                }
                c->trailer_line_len = 0;
            } else if (ch != '\r') {
                c->trailer_line_len++;
            }
            break;
        }
        default:
            fail(c, "bytes after the reply's end");
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, long n, double q) {
    if (!n) return 0;
    double pos = q * (double)(n - 1);
    long i = (long)pos;
    double frac = pos - (double)i;
    return i + 1 < n ? sorted[i] * (1 - frac) + sorted[i + 1] * frac : sorted[i];
}

int main(int argc, char **argv) {
    int port = 8000, streams = 64, read_size = 256 * 1024;
    const char *host = "127.0.0.1", *model = "sse-bench";
    nreq = 0;
    max_tokens = 512;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc) streams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--requests") && i + 1 < argc) nreq = atol(argv[++i]);
        else if (!strcmp(argv[i], "--max-tokens") && i + 1 < argc) max_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--read-size") && i + 1 < argc) read_size = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s --port P --streams C --requests R --max-tokens M [--model NAME] "
                            "[--host H] [--read-size B]\n", argv[0]);
            return 2;
        }
    }
    if (nreq <= 0) nreq = 2L * streams;
    if (streams > nreq) streams = (int)nreq;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    char body[1024];
    int blen = snprintf(body, sizeof body,
                        "{\"model\":\"%s\",\"max_tokens\":%d,\"temperature\":0.0,\"messages\":[{\"role\":\"user\","
                        "\"content\":\"benchmark prompt benchmark prompt benchmark prompt benchmark prompt \"}],"
                        "\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true,"
                        "\"continuous_usage_stats\":false}}", model, max_tokens);
    request = malloc(2048);
    request_len = (size_t)snprintf(request, 2048,
                                   "POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                                   "Accept: text/event-stream\r\nAccept-Encoding: identity\r\nUser-Agent: sse_client\r\n"
                                   "Content-Length: %d\r\n\r\n%s", host, port, blen, body);
    ttft_ms = calloc((size_t)nreq, sizeof(double));
    e2e_ms = calloc((size_t)nreq, sizeof(double));
    Conn *conns = calloc((size_t)streams, sizeof(Conn));
    char *buf = malloc((size_t)read_size);
    if (!ttft_ms || !e2e_ms || !conns || !buf) die("alloc");

    int epfd = epoll_create1(0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("inet_pton");
    for (int i = 0; i < streams; i++) { /* connections before the clock */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    for (int i = 0; i < streams; i++) send_request(&conns[i]);

    struct epoll_event evs[1024];
    while (finished < nreq) {
        int n = epoll_wait(epfd, evs, 1024, 60000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        if (n == 0) {
            fprintf(stderr, "sse_client: no data for 60 s (%ld of %ld replies)\n", finished, nreq);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            Conn *c = evs[i].data.ptr;
            ssize_t got = recv(c->fd, buf, (size_t)read_size, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (got <= 0) {
                fprintf(stderr, "sse_client: the server closed a connection mid-reply\n");
                return 1;
            }
            int64_t ts = now_ns();
            reads++;
            if (feed(c, buf, (size_t)got, ts)) {
                reply_done(c);
                if (sent < nreq) send_request(c);
            }
        }
    }
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    double sys_s = (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                   (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    double dur = (double)(last_end - first_send) / 1e9;
    double ttft_sum = 0, e2e_sum = 0;
    for (long i = 0; i < nreq; i++) ttft_sum += ttft_ms[i], e2e_sum += e2e_ms[i];
    qsort(ttft_ms, (size_t)nreq, sizeof(double), cmp_double);
    printf("{\"requests\":%ld,\"tokens\":%ld,\"duration_s\":%.6f,\"tokens_per_s\":%.1f,\"ttft_ms_mean\":%.3f,"
           "\"ttft_ms_p50\":%.3f,\"ttft_ms_p99\":%.3f,\"e2e_ms_mean\":%.3f,\"errors\":%ld,\"bad_counts\":%ld,"
           "\"cpu_s\":%.3f,\"sys_s\":%.3f,\"reads\":%ld}\n",
           finished, total_tokens, dur, (double)total_tokens / dur, ttft_sum / (double)nreq, pct(ttft_ms, nreq, 0.5),
           pct(ttft_ms, nreq, 0.99), e2e_sum / (double)nreq, errors, bad_counts, cpu, sys_s, reads);
    for (int i = 0; i < streams; i++) close(conns[i].fd);
    return errors || bad_counts ? 3 : 0;
}
