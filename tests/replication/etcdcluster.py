"""A real etcd cluster on loopback for the failover tests: N members (3 by
default) on free ports, each with its own data directory in the Workdir,
started with `etcd --name … --initial-cluster …`; members can be killed and
started again on their data. The Workdir kills whatever is left at the end.

`Etcd.available()` is False when the etcd binary is absent (the test then
exits 77: skipped)."""
import base64
import json
import os
import shutil
import time
import urllib.request

import ctharness as H


def binary():
    return shutil.which("etcd") or ("/usr/bin/etcd" if os.path.exists("/usr/bin/etcd") else None)


class Etcd:
    def __init__(self, wd, n=3, name="etcd", extra_client_ip=None, tls=None):
        """extra_client_ip: members also serve clients there (a veth address
        for the partition test); peers stay on loopback. tls: (ca, cert, key)
        files: clients over https with client-cert-auth."""
        self.wd, self.n, self.extra_ip, self.tls = wd, n, extra_client_ip, tls
        base = H.free_port_block(2 * n)
        self.client = [base + 2 * i for i in range(n)]
        self.peer = [base + 2 * i + 1 for i in range(n)]
        self.names = [f"{name}{i}" for i in range(n)]
        self.cluster = ",".join(f"{self.names[i]}=http://127.0.0.1:{self.peer[i]}"
                                for i in range(n))
        self.token = f"ct-{os.getpid()}-{base}"
        self.procs = [None] * n

    @staticmethod
    def available():
        return binary() is not None

    def endpoints(self):
        scheme = "https" if self.tls else "http"
        return [f"{scheme}://127.0.0.1:{p}" for p in self.client]

    def args(self):
        """The aggregator options naming every member."""
        return [a for ep in self.endpoints() for a in ("--etcd", ep)]

    def start(self, i):
        scheme = "https" if self.tls else "http"
        a = [binary(), "--name", self.names[i], "--data-dir", self.wd.sub(self.names[i] + ".etcd"),
             "--listen-client-urls", f"{scheme}://127.0.0.1:{self.client[i]}"
             + (f",{scheme}://{self.extra_ip}:{self.client[i]}" if self.extra_ip else ""),
             "--advertise-client-urls", f"{scheme}://127.0.0.1:{self.client[i]}",
             "--listen-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
             "--initial-cluster", self.cluster, "--initial-cluster-token", self.token,
             "--initial-cluster-state", "new", "--log-level", "warn"]
        if self.tls:
            a += ["--client-cert-auth", "--trusted-ca-file", self.tls[0], "--cert-file",
                  self.tls[1], "--key-file", self.tls[2]]
        self.procs[i] = self.wd.start(a, name=self.names[i])

    def start_all(self):
        for i in range(self.n):
            self.start(i)
        self.wait_healthy()

    def kill(self, i):
        self.procs[i].kill9()
        self.procs[i].p.wait()

    def post(self, i, path, body, timeout=2.0):
        req = urllib.request.Request(self.endpoints()[i] + path, data=json.dumps(body).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def leader_index(self):
        """The index of the member that is raft leader now (None if unknown)."""
        for i in range(self.n):
            if self.procs[i] is None or self.procs[i].p.poll() is not None:
                continue
            try:
                st = self.post(i, "/v3/maintenance/status", {})
            except (OSError, ValueError):
                continue
            if st.get("leader") and st.get("leader") == st.get("header", {}).get("member_id"):
                return i
        return None

    def get(self, key):
        """(value, create_revision) of key as a live member sees it; None when absent or no
        member answers."""
        for i in range(self.n):
            if self.procs[i] is None or self.procs[i].p.poll() is not None:
                continue
            try:
                r = self.post(i, "/v3/kv/range", {"key": base64.b64encode(key.encode()).decode()})
            except (OSError, ValueError):
                continue
            kvs = r.get("kvs") or []
            if not kvs:
                return None
            return base64.b64decode(kvs[0].get("value", "")).decode(), int(kvs[0]["create_revision"])
        return None

    def healthy(self, i):
        ctx = None
        if self.tls:
            import ssl
            ctx = ssl.create_default_context(cafile=self.tls[0])
            ctx.load_cert_chain(self.tls[1], self.tls[2])
        try:
            with urllib.request.urlopen(self.endpoints()[i] + "/health", timeout=2,
                                        context=ctx) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, members=None, timeout=60):
        members = range(self.n) if members is None else members
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(self.healthy(i) for i in members):
                return
            time.sleep(0.2)
        raise AssertionError(f"etcd members {list(members)} not healthy within {timeout}s")

    def stop_all(self):
        for p in self.procs:
            if p is not None and p.p.poll() is None:
                p.kill9()
                p.p.wait()


def make_tls(wd):
    """A CA, a certificate for 127.0.0.1 (server and client use) and a client
    certificate, with openssl(1): (ca, server cert, server key, client cert,
    client key); None when openssl is absent."""
    import subprocess
    if not shutil.which("openssl"):
        return None
    d = wd.sub("tls")
    os.makedirs(d, exist_ok=True)
    f = {n: os.path.join(d, n) for n in ("ca.pem", "ca-key.pem", "srv.pem", "srv-key.pem",
                                         "cli.pem", "cli-key.pem", "srv.csr", "cli.csr",
                                         "srv.ext", "cli.ext")}
    with open(f["srv.ext"], "w") as x:
        x.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    with open(f["cli.ext"], "w") as x:
        x.write("extendedKeyUsage=clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=30)
    ossl("req", "-x509", *ec, "-keyout", f["ca-key.pem"], "-out", f["ca.pem"], "-days", "2",
         "-subj", "/CN=chitieu-test-ca")
    for n, cn in (("srv", "/CN=127.0.0.1"), ("cli", "/CN=chitieu-aggregator")):
        ossl("req", *ec, "-keyout", f[n + "-key.pem"], "-out", f[n + ".csr"], "-subj", cn)
        ossl("x509", "-req", "-in", f[n + ".csr"], "-CA", f["ca.pem"], "-CAkey", f["ca-key.pem"],
             "-CAcreateserial", "-out", f[n + ".pem"], "-days", "2", "-extfile", f[n + ".ext"])
    return f["ca.pem"], f["srv.pem"], f["srv-key.pem"], f["cli.pem"], f["cli-key.pem"]
