"""chitieu-collector's office telemetry (PROTOCOL.md §3.6) against a scripted
aggregator (a Python ROUTER speaking the protocol), so each answer can be
chosen:

- `run` sends a "tel" on connect and every --telemetry-interval, with its
  outbox's exact figures (waiting, committed not safe, rejected, oldest
  waiting event, district, origin, version);
- an aggregator that predates telemetry (answers bad_message_kind) is sent
  exactly one, and the submits go on as before (every event delivered);
- --telemetry-interval 0 sends none.
"""
import os
import sys
import time

import msgpack
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import ctharness as H  # noqa: E402
import ctproto as P  # noqa: E402


def col(*args, check=True):
    return H.run([H.binary("chitieu-collector"), *args], check=check, timeout=60)


def outbox(wd, name, n):
    ob = wd.sub(name)
    col("init", "--outbox", ob, "--district", "672", "--campaign", H.CAMPAIGN)
    for i in range(n):
        col("add", "--outbox", ob, "--agent", "LD672-003", "--program", "bhyt_hgd",
            "--person-hash", f"{i + 1:064x}", "--time", f"2023-07-26T10:0{i}:00+07:00")
    return ob


def serve(router, seconds, tel_code, stop_when=None):
    """Answers for `seconds`: every "sub" acked accepted (q = a running seq,
    f = q: safe), every "tel" with err tel_code. Returns (tels, events)."""
    tels, events, seq = [], set(), 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        if stop_when and stop_when(tels, events):
            break
        if not router.poll(100):
            continue
        rid, body = router.recv_multipart()
        m = msgpack.unpackb(body, raw=False)
        if m["k"] == "tel":
            tels.append(m)
            router.send_multipart([rid, msgpack.packb({"v": 1, "k": "err", "n": m["n"],
                                                       "c": tel_code})])
        elif m["k"] == "sub":
            items = []
            for e in m["e"]:
                seq += 1
                ev = P.decode_event(e)
                events.add(bytes(ev["id"]))
                items.append([bytes(ev["id"]), 0, 0, seq])
            router.send_multipart([rid, msgpack.packb(
                {"v": 1, "k": "ack", "n": m["n"], "s": seq, "r": items, "f": seq, "ep": 1},
                use_bin_type=True)])
    return tels, events


def test_telemetry():
    with H.Workdir("col-tel") as wd:
        ctx = zmq.Context.instance()
        ob = outbox(wd, "ob", 3)
        origin = bytes.fromhex(col("status", "--outbox", ob).stdout.split("origin:")[1].split()[0])
        # 1. an aggregator that takes telemetry; nothing acked: the figures are the outbox's
        ep = wd.ipc("agg1")
        r = ctx.socket(zmq.ROUTER)
        r.bind(ep)
        run = wd.start([H.binary("chitieu-collector"), "run", "--outbox", ob, "--server", ep,
                        "--insecure", "--telemetry-interval", "1", "--stats-interval", "0"],
                       name="run1")
        tels = []
        deadline = time.time() + 20
        while time.time() < deadline and len(tels) < 3:
            if r.poll(100):
                rid, body = r.recv_multipart()
                m = msgpack.unpackb(body, raw=False)
                if m["k"] == "tel":
                    tels.append(m)
                    r.send_multipart([rid, msgpack.packb({"v": 1, "k": "err", "n": m["n"],
                                                          "c": 0})])
        H.check(len(tels) == 3, f"telemetry every second: {len(tels)}")
        t = tels[0]
        H.check((t["d"], t["q"], t["u"], t["rj"]) == (672, 3, 0, 0), f"figures: {t}")
        H.check(t["ot"] == 1690340400000, f"oldest waiting: {t}")
        H.check(len(t["o"]) == 8 and t["o"] == origin, f"origin: {t}")
        H.check(t["sv"] and abs(t["t"] - time.time() * 1000) < 60000, f"version, clock: {t}")
        H.check(run.stop() == 0, "run exit")
        r.close(0)
        # 2. an aggregator that predates telemetry: one, then none; events still delivered
        ep = wd.ipc("agg2")
        r = ctx.socket(zmq.ROUTER)
        r.bind(ep)
        run = wd.start([H.binary("chitieu-collector"), "run", "--outbox", ob, "--server", ep,
                        "--insecure", "--telemetry-interval", "1", "--stats-interval", "0"],
                       name="run2")
        tels, events = serve(r, 4, P.ERR["bad_message_kind"])
        H.check(len(tels) == 1, f"telemetry to an old aggregator: {len(tels)} sent")
        H.check(len(events) == 3, f"events delivered: {len(events)}")
        run.wait_log(r"does not take office telemetry")
        H.check(run.stop() == 0, "run exit")
        r.close(0)
        # 3. --telemetry-interval 0: none
        ob2 = outbox(wd, "ob2", 2)
        ep = wd.ipc("agg3")
        r = ctx.socket(zmq.ROUTER)
        r.bind(ep)
        run = wd.start([H.binary("chitieu-collector"), "run", "--outbox", ob2, "--server", ep,
                        "--insecure", "--telemetry-interval", "0", "--stats-interval", "0"],
                       name="run3")
        tels, events = serve(r, 3, 0)
        H.check(tels == [] and len(events) == 2, f"interval 0: {len(tels)} tel, {len(events)} ev")
        H.check(run.stop() == 0, "run exit")
        r.close(0)


if __name__ == "__main__":
    H.main([test_telemetry])
