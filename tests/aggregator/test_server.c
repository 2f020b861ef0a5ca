/* test_server.c — the connection bound of ct_server against a real ROUTER
 * socket and real TCP connections, with the monitor read late (as a busy
 * loop reads it).
 *
 * The case: with max = 1, connection D is accepted past the bound and ends
 * on its own before the monitor is read; its fd number then goes to a
 * legitimate ZeroMQ peer C within the bound. Reading the queue must not cut
 * C: D's DISCONNECTED is in the same queue, behind its ACCEPTED.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>

#include "ct_server.h"

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The fd of this process whose peer is the local port `port` (the server
 * side of a loopback connection), or -1. */
static int server_fd_of(uint16_t port)
{
    int found = -1;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && found < 0) {
        int fd = atoi(de->d_name);
        if (de->d_name[0] == '.' || fd == dirfd(d)) continue;
        struct sockaddr_in a;
        socklen_t n = sizeof a;
        if (getpeername(fd, (struct sockaddr *)&a, &n) == 0 && a.sin_family == AF_INET &&
            ntohs(a.sin_port) == port)
            found = fd;
    }
    closedir(d);
    return found;
}

static uint16_t local_port(int s)
{
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &n), 0);
    return ntohs(a.sin_port);
}

/* A raw TCP client; returns its socket and sets *srv to the server's fd. */
static int raw_connect(uint16_t port, int *srv)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    uint16_t lp = local_port(s);
    for (int i = 0; i < 500 && (*srv = server_fd_of(lp)) < 0; i++)
        nap_ms(10);
    assert_true(*srv >= 0);
    return s;
}

/* The inode of the socket behind fd, 0 when fd is not open. */
static ino_t inode_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* Closes a raw client and waits until the server has closed its side (srv):
 * the fd is closed or is another socket. (Not by the peer's address: a reset
 * connection has none while its fd is still open.) */
static void raw_close(int s, int srv)
{
    ino_t ino = inode_of(srv);
    assert_true(ino != 0);
    close(s);
    int i = 0;
    while (inode_of(srv) == ino && i++ < 500)
        nap_ms(10);
    assert_true(inode_of(srv) != ino);
}

static void test_late_accept_does_not_cut_reused_fd(void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new();
    assert_non_null(zctx);
    const char *eps[1];
    char ep[64];
    /* a free port: bind the ROUTER to an ephemeral one and read it back */
    eps[0] = "tcp://127.0.0.1:*";
    ct_server_opts o = {
        .type = ZMQ_ROUTER, .what = "ingest", .handshake_ivl_ms = 30000, .eps = eps, .n_eps = 1};
    ct_server_sock ss;
    char err[256];
    assert_int_equal(ct_server_open(zctx, &o, &ss, err, sizeof err), CT_OK);
    size_t len = sizeof ep;
    assert_int_equal(zmq_getsockopt(ss.sock, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    uint16_t port = (uint16_t)atoi(strrchr(ep, ':') + 1);
    ct_server_conns cs = {.max = 1};

    int fdx, fdd;
    int x = raw_connect(port, &fdx);
    int dd = raw_connect(port, &fdd); /* open = 2 when accepted: past the bound */
    assert_true(fdd > fdx);
    raw_close(dd, fdd);
    raw_close(x, fdx);
    /* fill every free fd below D's, so the next accept gets D's number */
    int plugs[64], n_plugs = 0;
    for (;;) {
        int p = open("/dev/null", O_RDONLY);
        assert_true(p >= 0);
        if (p == fdd) {
            close(p);
            break;
        }
        assert_true(p < fdd && n_plugs < 64);
        plugs[n_plugs++] = p;
    }
    void *c = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(c, ep), 0);
    assert_int_equal(zmq_send(c, "ping", 4, 0), 4);
    /* the ROUTER gets [routing id]["ping"] once C is through the handshake */
    zmq_pollitem_t pi = {ss.sock, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&pi, 1, 5000), 1);
    uint8_t rid[256];
    int rl = zmq_recv(ss.sock, rid, sizeof rid, 0);
    assert_true(rl > 0);
    char buf[16];
    assert_int_equal(zmq_recv(ss.sock, buf, sizeof buf, 0), 4);

    /* the loop reads the monitor only now */
    ct_server_drain_monitor(&ss, &cs);
    assert_int_equal(cs.accepted, 3);
    assert_int_equal(cs.disconnected, 2);
    assert_int_equal(cs.open, 1);
    assert_int_equal(cs.refused, 0);

    /* C is still connected: a reply reaches it */
    nap_ms(100);
    assert_int_equal(zmq_send(ss.sock, rid, (size_t)rl, ZMQ_SNDMORE), rl);
    assert_int_equal(zmq_send(ss.sock, "pong", 4, 0), 4);
    zmq_pollitem_t pc = {c, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&pc, 1, 5000), 1);
    assert_int_equal(zmq_recv(c, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "pong", 4);

    /* a connection past the bound while C is open is still cut */
    int fde;
    int e = raw_connect(port, &fde);
    zmq_pollitem_t pm = {ss.mon, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&pm, 1, 5000), 1);
    ct_server_drain_monitor(&ss, &cs);
    assert_int_equal(cs.refused, 1);
    struct timeval tv = {5, 0};
    setsockopt(e, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t got;
    do
        got = read(e, buf, sizeof buf); /* the server's greeting, then the end */
    while (got > 0);
    assert_true(got == 0 || errno == ECONNRESET); /* not EAGAIN: it was cut */
    close(e);

    for (int i = 0; i < n_plugs; i++)
        close(plugs[i]);
    zmq_close(c);
    ct_server_close(&ss, 0);
    zmq_ctx_term(zctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_accept_does_not_cut_reused_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
