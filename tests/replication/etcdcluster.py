"""A real etcd cluster on loopback for the failover tests: N members (3 by
default) on free ports, each with its own data directory in the Workdir,
started with `etcd --name … --initial-cluster …`; members can be killed and
started again on their data. The Workdir kills whatever is left at the end.

`Etcd.available()` is False when the etcd binary is absent (the test then
exits 77: skipped)."""
import json
import os
import shutil
import time
import urllib.request

import ctharness as H


def binary():
    return shutil.which("etcd") or ("/usr/bin/etcd" if os.path.exists("/usr/bin/etcd") else None)


class Etcd:
    def __init__(self, wd, n=3, name="etcd", extra_client_ip=None):
        """extra_client_ip: members also serve clients there (a veth address
        for the partition test); peers stay on loopback."""
        self.wd, self.n, self.extra_ip = wd, n, extra_client_ip
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
        return [f"http://127.0.0.1:{p}" for p in self.client]

    def args(self):
        """The aggregator options naming every member."""
        return [a for ep in self.endpoints() for a in ("--etcd", ep)]

    def start(self, i):
        a = [binary(), "--name", self.names[i], "--data-dir", self.wd.sub(self.names[i] + ".etcd"),
             "--listen-client-urls", f"http://127.0.0.1:{self.client[i]}"
             + (f",http://{self.extra_ip}:{self.client[i]}" if self.extra_ip else ""),
             "--advertise-client-urls", f"http://127.0.0.1:{self.client[i]}",
             "--listen-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
             "--initial-cluster", self.cluster, "--initial-cluster-token", self.token,
             "--initial-cluster-state", "new", "--log-level", "warn"]
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

    def healthy(self, i):
        try:
            with urllib.request.urlopen(self.endpoints()[i] + "/health", timeout=2) as r:
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
