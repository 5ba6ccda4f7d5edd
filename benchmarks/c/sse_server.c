/*
 * sse_server: a fast OpenAI chat-completions streaming server, for finding a load client's limit.
 *
 * One thread, one epoll loop, HTTP/1.1 keep-alive on 127.0.0.1:PORT. Serves
 *   POST /v1/chat/completions  an SSE stream (Transfer-Encoding: chunked): a role chunk, N content
 *                              chunks of one token each ("tok"), a finish_reason "length" chunk, a
 *                              usage chunk (choices: [], as vLLM sends it), then data: [DONE]
 *   GET  /health               200
 *   GET  /v1/models            a one-model list
 * N is the request's max_tokens (a scan for "max_tokens": N; 16 when absent).
 *
 * Decode is batched, like an inference server with no compute time: every step writes the next token to
 * every active stream, one send() per stream per step (the first step also carries the headers and role
 * chunk; the last also the finish, usage and [DONE] events and the chunked terminator).
 * --tokens-per-step K (default 1) makes a step write K tokens, as K events in its one send (a server under
 * speculative decoding): the server's cost per token drops K-fold, to find a client's limit past this core's.
 *   --itl-us 0   free-running: steps run back to back as fast as this core allows; a stream whose socket
 *                still holds unsent bytes sits a step out (else a slow client would grow its buffer forever)
 *   --itl-us N   a step clock: every N us; a stream's first token comes --ttft-us T after its request was
 *                read, then it joins the clock. Bytes a socket does not take wait in the connection's buffer.
 *
 *   gcc -O2 -Wall -Wextra -o sse_server sse_server.c
 *   ./sse_server --port 8000 [--itl-us 0] [--ttft-us 0] [--model NAME]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

enum { IDLE, WAITING, STREAMING };

typedef struct {
    int fd;
    unsigned gen;       /* bumped on close: stale entries in the waiting queue are skipped */
    int state;
    int close_after;    /* the client asked for Connection: close */
    int out_watch;      /* EPOLLOUT registered */
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_off, out_len, out_cap;
    int total, sent;    /* tokens asked, tokens written */
    int prompt_tokens;
    int active_idx;     /* index in the active list, -1 when not in it */
    uint64_t id;
} Conn;

typedef struct {
    int fd;
    unsigned gen;
    int64_t due_ns;
} Waiting;

static Conn **conns;      /* by descriptor */
static int max_fds;
static int *active;       /* descriptors of streaming connections */
static int n_active;
static Waiting *waitq;    /* FIFO: the TTFT is the same for all, so due times are in order */
static size_t wq_head, wq_tail, wq_cap;
static int epfd, tfd, lfd;
static int64_t itl_ns, ttft_ns;
static int tokens_per_step = 1;
static const char *model = "sse-bench";
static uint64_t next_id;
static unsigned pid_tag;
static long long served;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n);
    if (!p) die("realloc");
    return p;
}

static void reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t cap2 = *cap ? *cap : 4096;
    while (cap2 < need) cap2 *= 2;
    *buf = xrealloc(*buf, cap2);
    *cap = cap2;
}

static void watch_out(Conn *c, int on) {
    if (c->out_watch == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = c->fd};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl mod");
    c->out_watch = on;
}

static void deactivate(Conn *c) {
    if (c->active_idx < 0) return;
    int last = active[--n_active];
    active[c->active_idx] = last;
    conns[last]->active_idx = c->active_idx;
    c->active_idx = -1;
}

static void close_conn(Conn *c) {
    deactivate(c);
    close(c->fd);
    c->gen++;
    c->state = IDLE;
    c->in_len = c->out_off = c->out_len = 0;
    c->fd = -1;
}

/* Write what is buffered; 0 when the connection broke (and is closed). */
static int flush(Conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch_out(c, 1);
            return 1;
        } else {
            close_conn(c);
            return 0;
        }
    }
    c->out_off = c->out_len = 0;
    watch_out(c, 0);
    return 1;
}

/* One write of `len` bytes: sent now when nothing is queued, else (and whatever does not fit) queued. */
static int put(Conn *c, const char *data, size_t len) {
    if (c->out_len == c->out_off) {
        c->out_off = c->out_len = 0;
        for (;;) {
            ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
            if (n == (ssize_t)len) return 1;
            if (n > 0) {
                data += n;
                len -= (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            close_conn(c);
            return 0;
        }
    }
    reserve(&c->out, &c->out_cap, c->out_len + len);
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    watch_out(c, 1);
    return 1;
}

static int reply_simple(Conn *c, int status, const char *reason, const char *ctype, const char *body) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n%s",
                     status, reason, ctype, strlen(body), c->close_after ? "Connection: close\r\n" : "", body);
    return put(c, buf, (size_t)n);
}

/* ---- the stream's bytes: each step's events framed as one HTTP chunk */

static char *event(char *p, const Conn *c, const char *choices_and_rest) {
    return p + sprintf(p, "data: {\"id\":\"chatcmpl-%x-%llu\",\"object\":\"chat.completion.chunk\","
                          "\"created\":1700000000,\"model\":\"%s\",%s}\n\n",
                       pid_tag, (unsigned long long)c->id, model, choices_and_rest);
}

static const char TOKEN_CHOICE[] = "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok\"},\"finish_reason\":null}]";

/* The next step's write for `c`; 0 when the connection broke. */
static int step_stream(Conn *c) {
    static char *body, *frame;
    if (!body) {
        body = malloc(1024 + 256 * (size_t)(tokens_per_step + 4));
        frame = malloc(1200 + 256 * (size_t)(tokens_per_step + 4));
        if (!body || !frame) die("malloc");
    }
    char *p = body;
    if (c->sent == 0)
        p = event(p, c, "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                        "\"finish_reason\":null}]");
    for (int k = 0; k < tokens_per_step && c->sent < c->total; k++) {
        p = event(p, c, TOKEN_CHOICE);
        c->sent++;
    }
    int last = c->sent >= c->total;
    if (last) {
        char rest[256];
        p = event(p, c, "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]");
        snprintf(rest, sizeof rest, "\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,"
                                    "\"completion_tokens\":%d}", c->prompt_tokens, c->prompt_tokens + c->total,
                 c->total);
        p = event(p, c, rest);
        p += sprintf(p, "data: [DONE]\n\n");
    }
    size_t blen = (size_t)(p - body);
    char *f = frame;
    if (c->state == WAITING) {
        f += sprintf(f, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                        "Transfer-Encoding: chunked\r\n%s\r\n", c->close_after ? "Connection: close\r\n" : "");
        c->state = STREAMING;
    }
    f += sprintf(f, "%zx\r\n", blen);
    memcpy(f, body, blen);
    f += blen;
    f += sprintf(f, "\r\n%s", last ? "0\r\n\r\n" : "");
    if (last) {
        deactivate(c);
        c->state = IDLE;
        served++;
    }
    return put(c, frame, (size_t)(f - frame));
}

/* ---- requests */

static int scan_int(const char *body, size_t len, const char *key, int dflt) {
    size_t klen = strlen(key);
    const char *end = body + len;
    for (const char *p = body; p && p + klen <= end; p++) {
        p = memmem(p, (size_t)(end - p), key, klen);
        if (!p) break;
        const char *q = p + klen;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        if (q >= end || *q != ':') continue;
        q++;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        long v = 0;
        int digits = 0;
        while (q < end && *q >= '0' && *q <= '9' && v < 100000000) v = v * 10 + (*q++ - '0'), digits++;
        if (digits) return (int)v;
    }
    return dflt;
}

static void start_stream(Conn *c, const char *body, size_t len) {
    c->total = scan_int(body, len, "\"max_tokens\"", scan_int(body, len, "\"max_completion_tokens\"", 16));
    c->prompt_tokens = (int)(len / 4) + 1;
    c->sent = 0;
    c->id = ++next_id;
    c->state = WAITING;
    if (wq_tail - wq_head == wq_cap) { /* grow the ring (kept linear: compact first) */
        size_t n = wq_tail - wq_head;
        Waiting *w = malloc(sizeof *w * (wq_cap ? wq_cap * 2 : 1024));
        if (!w) die("malloc");
        for (size_t i = 0; i < n; i++) w[i] = waitq[(wq_head + i) % (wq_cap ? wq_cap : 1)];
        free(waitq);
        waitq = w;
        wq_cap = wq_cap ? wq_cap * 2 : 1024;
        wq_head = 0;
        wq_tail = n;
    }
    waitq[wq_tail % wq_cap] = (Waiting){c->fd, c->gen, now_ns() + ttft_ns};
    wq_tail++;
}

static int header_has(const char *head, size_t hlen, const char *name, const char *value, long *num) {
    const char *p = head, *end = head + hlen;
    size_t nlen = strlen(name);
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) eol = end;
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            if (num) {
                *num = strtol(v, NULL, 10);
                return 1;
            }
            size_t vlen = strlen(value);
            for (const char *q = v; q + vlen <= eol; q++)
                if (strncasecmp(q, value, vlen) == 0) return 1;
            return 0;
        }
        p = eol + 2;
    }
    return 0;
}

/* Parse and serve whole requests in the input buffer while the connection is idle; 0 when it closed. */
static int serve_input(Conn *c) {
    while (c->state == IDLE && c->in_len) {
        char *hend = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!hend) {
            if (c->in_len > 65536) {
                close_conn(c);
                return 0;
            }
            return 1;
        }
        size_t hlen = (size_t)(hend - c->in) + 4;
        long clen = 0;
        if (!header_has(c->in, hlen, "content-length", NULL, &clen)) clen = 0;
        if (clen < 0 || clen > 64 << 20) {
            close_conn(c);
            return 0;
        }
        if (c->in_len < hlen + (size_t)clen) return 1;
        char *line_end = memmem(c->in, hlen, "\r\n", 2);
        c->close_after = header_has(c->in, hlen, "connection", "close", NULL) ||
                         memmem(c->in, (size_t)(line_end - c->in), "HTTP/1.0", 8) != NULL;
        const char *body = c->in + hlen;
        int ok = 1;
        if (strncmp(c->in, "POST /v1/chat/completions ", 26) == 0) {
            start_stream(c, body, (size_t)clen);
        } else if (strncmp(c->in, "GET /health ", 12) == 0) {
            ok = reply_simple(c, 200, "OK", "text/plain", "ok");
        } else if (strncmp(c->in, "GET /v1/models ", 15) == 0) {
            char list[512];
            snprintf(list, sizeof list, "{\"object\":\"list\",\"data\":[{\"id\":\"%s\",\"object\":\"model\","
                                        "\"created\":1700000000,\"owned_by\":\"sse_server\"}]}", model);
            ok = reply_simple(c, 200, "OK", "application/json", list);
        } else {
            ok = reply_simple(c, 404, "Not Found", "application/json", "{\"error\":{\"message\":\"not found\"}}");
        }
        if (!ok) return 0;
        size_t used = hlen + (size_t)clen;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (c->state == IDLE && c->close_after) {
            /* Say it all, then close (a blocking-ish best effort: these replies are small). */
            if (flush(c)) close_conn(c);
            return 0;
        }
    }
    return 1;
}

static void on_readable(Conn *c) {
    for (;;) {
        reserve(&c->in, &c->in_cap, c->in_len + 16384);
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            if ((size_t)n < room) break; /* a short read: nothing more waiting */
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        close_conn(c); /* EOF or error: a client gone mid-stream takes its stream with it */
        return;
    }
    serve_input(c);
}

static void accept_all(void) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) perror("accept4");
            return;
        }
        if (fd >= max_fds) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!conns[fd]) {
            conns[fd] = calloc(1, sizeof(Conn));
            if (!conns[fd]) die("calloc");
        }
        Conn *c = conns[fd];
        c->fd = fd;
        c->state = IDLE;
        c->active_idx = -1;
        c->out_watch = 0;
        c->in_len = c->out_off = c->out_len = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl add");
    }
}

/* ---- decode steps */

/* Streams whose first token is due: that token (with the headers) now, then the step clock. */
static void start_due(int64_t now) {
    while (wq_head < wq_tail) {
        Waiting w = waitq[wq_head % wq_cap];
        Conn *c = conns[w.fd];
        if (c && c->gen == w.gen && c->state == WAITING) {
            if (w.due_ns > now) return;
            if (!step_stream(c)) goto next;
            if (c->state == STREAMING && c->active_idx < 0) {
                c->active_idx = n_active;
                active[n_active++] = c->fd;
            }
            if (c->state == IDLE && !serve_input(c)) goto next;
        }
    next:
        wq_head++;
    }
}

static void run_step(void) {
    for (int i = 0; i < n_active;) {
        Conn *c = conns[active[i]];
        if (itl_ns == 0 && c->out_len != c->out_off) { /* free-running: this socket is full, skip a step */
            i++;
            continue;
        }
        if (!step_stream(c) || c->active_idx < 0) {
            /* Ended or closed: the list's last came into slot i and has not had its step yet. */
            if (c->fd >= 0 && c->state == IDLE) serve_input(c);
            continue;
        }
        i++;
    }
}

static void arm_timer(int64_t at_ns) {
    struct itimerspec its = {0};
    if (at_ns > 0) {
        its.it_value.tv_sec = at_ns / 1000000000LL;
        its.it_value.tv_nsec = at_ns % 1000000000LL;
    }
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) die("timerfd_settime");
}

int main(int argc, char **argv) {
    int port = 8000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--itl-us") && i + 1 < argc) itl_ns = atoll(argv[++i]) * 1000LL;
        else if (!strcmp(argv[i], "--ttft-us") && i + 1 < argc) ttft_ns = atoll(argv[++i]) * 1000LL;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--tokens-per-step") && i + 1 < argc) tokens_per_step = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--port P] [--itl-us N] [--ttft-us T] [--tokens-per-step K] [--model NAME]\n",
                    argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    pid_tag = (unsigned)getpid();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    max_fds = rl.rlim_cur > (1 << 20) ? (1 << 20) : (int)rl.rlim_cur;
    conns = calloc((size_t)max_fds, sizeof *conns);
    active = calloc((size_t)max_fds, sizeof *active);
    if (!conns || !active) die("calloc");

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(lfd, 65535) < 0) die("listen");
    epfd = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epfd < 0 || tfd < 0) die("epoll/timerfd");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = tfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
    if (strlen(model) > 64) {
        fprintf(stderr, "--model: 64 characters at most\n");
        return 2;
    }
    if (tokens_per_step < 1 || tokens_per_step > 4096) {
        fprintf(stderr, "--tokens-per-step: 1 to 4096\n");
        return 2;
    }
    fprintf(stderr, "sse_server on 127.0.0.1:%d, itl %lld us, ttft %lld us, %d token(s) a step, max %d connections\n",
            port, (long long)(itl_ns / 1000), (long long)(ttft_ns / 1000), tokens_per_step, max_fds);

    enum { MAXEV = 1024 };
    struct epoll_event evs[MAXEV];
    int64_t next_step = 0;
    int64_t armed = -1;
    for (;;) {
        /* Free-running with work to do: poll without sleeping. Otherwise sleep until the next step or
         * first token falls due (timerfd, for microseconds that epoll's millisecond timeout lacks). */
        int timeout = -1;
        int64_t wake = 0;
        if (itl_ns == 0 && n_active) timeout = 0;
        else {
            if (n_active) wake = next_step;
            if (wq_head < wq_tail) {
                int64_t due = waitq[wq_head % wq_cap].due_ns;
                if (!wake || due < wake) wake = due;
            }
        }
        if (timeout != 0 && wake != armed) {
            arm_timer(wake);
            armed = wake;
        }
        int n = epoll_wait(epfd, evs, MAXEV, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                accept_all();
            } else if (fd == tfd) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN) die("read timerfd");
                armed = -1;
            } else {
                Conn *c = conns[fd];
                if (!c || c->fd != fd) continue;
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
                    if (!flush(c)) continue;
                }
                if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
            }
        }
        int64_t now = now_ns();
        if (itl_ns == 0) {
            run_step();
            start_due(now);
        } else {
            if (n_active && now >= next_step) {
                run_step();
                do next_step += itl_ns; while (next_step <= now); /* a late step is not caught up twice */
            }
            int had = n_active;
            start_due(now);
            if (!had && n_active) next_step = now + itl_ns; /* the clock starts with the first stream */
        }
    }
}
