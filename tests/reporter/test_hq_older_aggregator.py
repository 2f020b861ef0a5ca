"""A reporter against an aggregator that predates the group status (PROTOCOL.md
§3.6: such an aggregator answers an "stq" carrying "gr" with err unknown_key),
and against one that predates only the followers' apply lag ("ap": it answers
an "stq" carrying "ap" so). The older aggregator is emulated by a real ZeroMQ
proxy in front of a real aggregator's snapshot socket that refuses exactly
those requests and forwards everything else (snapshots, the other "stq").

- the reporter says once that it asks without the group, then shows the HQ
  panel as before: /status.json's hq is available, refused "", committed = the
  log's exact seq, and the group says "manual";
- the proxy saw exactly one "stq" with "gr" (and "ap"), one with "gr" alone,
  and then plain ones only;
- before an aggregator that predates only "ap": one "stq" with "ap" refused,
  one log line, then "stq" with "gr" only, answered.
"""
import json
import threading
import urllib.error
import urllib.request

import msgpack
import zmq

import reporter_common as rc
from reporter_common import cp, h

UNKNOWN_KEY = 19


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError:
        return None


class OldStatusProxy(threading.Thread):
    """ROUTER (the reporter's snapshot endpoint) -> DEALER (the aggregator)."""

    def __init__(self, front, back, refuse=("gr", "ap")):
        super().__init__(daemon=True)
        self.ctx = zmq.Context.instance()
        self.front = self.ctx.socket(zmq.ROUTER)
        self.front.linger = 0
        self.front.bind(front)
        self.back = self.ctx.socket(zmq.DEALER)
        self.back.linger = 0
        self.back.connect(back)
        self.stop_ev = threading.Event()
        self.refuse = refuse
        self.asked_group = 0  # refused, with "gr" (and "ap")
        self.asked_group_only = 0  # refused, with "gr" alone
        self.asked_apply = 0  # refused, with "ap" (and "gr")
        self.asked_other = 0  # forwarded, with "gr" alone
        self.asked_plain = 0
        self.rid = None

    def run(self):
        poller = zmq.Poller()
        poller.register(self.front, zmq.POLLIN)
        poller.register(self.back, zmq.POLLIN)
        while not self.stop_ev.is_set():
            ev = dict(poller.poll(100))
            if self.front in ev:
                rid, *rest = self.front.recv_multipart()
                self.rid = rid
                body = rest[-1]
                m = msgpack.unpackb(body, raw=False)
                if isinstance(m, dict) and m.get("k") == "stq":
                    if any(k in m for k in self.refuse):
                        self.asked_group += "gr" in m and "ap" in m
                        self.asked_group_only += "gr" in m and "ap" not in m
                        self.asked_apply += "ap" in m
                        err = msgpack.packb({"v": 1, "k": "err", "n": None, "c": UNKNOWN_KEY})
                        self.front.send_multipart([rid, *rest[:-1], err])
                        continue
                    if "gr" in m:
                        self.asked_other += 1
                    else:
                        self.asked_plain += 1
                self.back.send_multipart(rest)
            if self.back in ev:
                parts = self.back.recv_multipart()
                if self.rid is not None:
                    self.front.send_multipart([self.rid, *parts])
        self.front.close(0)
        self.back.close(0)


def test_older_aggregator():
    with h.Workdir("hq-old") as wd:
        agg, ep = rc.start_aggregator(wd, ["--campaign", h.CAMPAIGN])
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(5)
        rc.submit_all(cl, gen.batch(7))
        cl.close()
        proxy = OldStatusProxy(wd.ipc("oldsnap"), ep["snapshot"])
        proxy.start()
        port = h.free_port_block(1)
        base = f"http://127.0.0.1:{port}"
        rp = wd.start([h.binary("chitieu-reporter"), "--campaign", h.CAMPAIGN, "--feed",
                       ep["feed"], "--snapshot", wd.ipc("oldsnap"), "--insecure", "--interval",
                       "60", "--format", "json", "--output", wd.sub("rep.json"), "--http",
                       f"127.0.0.1:{port}"], name="reporter")
        rp.wait_log(r'msg="http ready"')

        def hq():
            sj = get_json(base + "/status.json")
            q = sj and sj.get("hq")
            return q if q and q.get("available") and q.get("committed") == 7 else None
        q = rc.wait_until(hq, 30, "the HQ status through the older aggregator")
        h.check(q["refused"] == "" and q["group"] == {"mode": "manual"} and
                q["role"] == "primary", f"hq: {q}")
        rc.wait_until(lambda: proxy.asked_plain >= 2, 30, "plain status requests")
        h.check(proxy.asked_group == 1, f"stq with gr sent {proxy.asked_group} times")
        h.check(proxy.asked_group_only == 1 and proxy.asked_other == 0,
                f"stq with gr alone sent {proxy.asked_group_only} times")
        n = sum("does not know the group status" in ln for ln in rp.lines)
        h.check(n == 1, f"fallback logged {n} times:\n{rp.tail()}")
        rp.stop()
        proxy.stop_ev.set()
        proxy.join(5)

        # an aggregator that knows "gr" but not "ap"
        proxy = OldStatusProxy(wd.ipc("oldsnap2"), ep["snapshot"], refuse=("ap",))
        proxy.start()
        rp = wd.start([h.binary("chitieu-reporter"), "--campaign", h.CAMPAIGN, "--feed",
                       ep["feed"], "--snapshot", wd.ipc("oldsnap2"), "--insecure", "--interval",
                       "60", "--format", "json", "--output", wd.sub("rep2.json"), "--http",
                       f"127.0.0.1:{port}"], name="reporter2")
        rp.wait_log(r'msg="http ready"')
        q = rc.wait_until(hq, 30, "the HQ status through the aggregator without ap")
        h.check(q["refused"] == "" and q["followers"] == [], f"hq: {q}")
        rc.wait_until(lambda: proxy.asked_other >= 2, 30, "status requests with gr alone")
        h.check(proxy.asked_apply == 1 and proxy.asked_plain == 0,
                f"stq with ap sent {proxy.asked_apply} times, plain {proxy.asked_plain}")
        n = sum("does not know the followers' apply lag" in ln for ln in rp.lines)
        h.check(n == 1, f"fallback logged {n} times:\n{rp.tail()}")
        n = sum("does not know the group status" in ln for ln in rp.lines)
        h.check(n == 0, f"group fallback logged {n} times:\n{rp.tail()}")
        rp.stop()
        proxy.stop_ev.set()
        proxy.join(5)
        agg.stop()


if __name__ == "__main__":
    h.main([test_older_aggregator])
