"""Aggregator security (server side): CurveZMQ on every socket, ZAP with
ZAP_ENFORCE_DOMAIN, per-message district authorization, revocation on SIGHUP,
outsiders on feed/snapshot, and a connection flood. Each test asserts that
nothing got through (zero events stored, nothing received), not only that
nothing crashed."""
import os
import re
import signal
import socket
import time

import zmq

import aggh as A
from aggh import H, P


def _setup(wd):
    keys = A.secure_setup(wd, collectors=[("c672", 672), ("c673", 673)],
                          reporters=["rep"], admins=["adm"])
    agg, eps = A.start(wd, secure=(keys["server_key"], keys["auth"]))
    return keys, agg, eps


def _stored(eps):
    st = A.Store(eps["data"])
    try:
        return st.verify_chain()[0], st.id_set()
    finally:
        st.close()


def test_outsiders_store_nothing():
    """No CURVE, unknown key, wrong server key, reporter key on ingest: no ack,
    zero events stored; the legitimate collector is acked meanwhile."""
    with H.Workdir("agg-sec-out") as wd:
        keys, agg, eps = _setup(wd)
        o = os.urandom(8)
        evs = [A.ev(o, i) for i in range(1, 11)]
        stranger = P.curve_keypair()
        wrong_server = P.curve_keypair()
        attempts = {
            "plaintext": None,
            "unknown key": (keys["server"][0], stranger[0], stranger[1]),
            "wrong server key": (wrong_server[0], keys["c672"][0], keys["c672"][1]),
            "reporter key": A.curve_for(keys, "rep"),
        }
        clients = {}
        for name, curve in attempts.items():
            c = P.Client(eps["ingest"], curve=curve)
            c.send(evs)
            clients[name] = c
        good = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        r = good.call([A.ev(o, 100)])
        assert r["r"][0][1:] == (P.ACCEPTED, 0), r
        for name, c in clients.items():
            assert c.recv(1.5) is None, f"{name}: got a reply"
            c.close()
        good.close()
        # the ZAP handler said no to the unknown and the reporter keys
        agg.wait_log(r'msg="security" event=auth_denied reason="unknown key" domain=chitieu-ingest')
        agg.wait_log(r'msg="security" event=auth_denied reason="role may not submit"')
        assert agg.stop() == 0
        n, ids = _stored(eps)
        assert n == 1 and set(ids) == {P.event_id(o, 100)}
        st = A.Store(eps["data"])
        assert [col for _, col, _ in st.events()] == [keys["c672"][0]]  # log keeps the key
        st.close()


def test_district_authorization():
    """672's key writing for 673, alone and mixed: 673 forbidden, 672 accepted;
    admin writes any district."""
    with H.Workdir("agg-sec-district") as wd:
        keys, agg, eps = _setup(wd)
        o = os.urandom(8)
        c = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        r = c.call([A.ev(o, 1, district=673)])
        assert r["r"][0][1:] == (P.REJECTED, P.ERR["forbidden"]), r
        mixed = [A.ev(o, 2), A.ev(o, 3, district=673), A.ev(o, 4), A.ev(o, 5, district=676)]
        r = c.call(mixed)
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0), (P.REJECTED, P.ERR["forbidden"]),
                                           (P.ACCEPTED, 0), (P.REJECTED, P.ERR["forbidden"])], r
        agg.wait_log(re.escape('msg="security" event=forbidden key=%s role=collector '
                               'key_district=672 event_district=673' % keys["c672"][0]))
        c.close()
        adm = P.Client(eps["ingest"], curve=A.curve_for(keys, "adm"))
        r = adm.call([A.ev(o, 6, district=673), A.ev(o, 7, district=68)])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 2, r
        adm.close()
        # reporter (read role) gets the snapshot; counts are exact
        snp = A.snapshot(eps, curve=A.curve_for(keys, "rep"))
        assert snp["k"] == "snp" and snp["s"] == 4
        assert snp["c"][A.net_key(672, "bhxh_tn")] == 2
        assert snp["c"][A.net_key(673, "bhxh_tn")] == 1
        assert snp["c"][A.net_key(68, "bhxh_tn")] == 1
        assert A.net_key(676, "bhxh_tn") not in snp["c"]
        assert agg.stop() == 0
        n, ids = _stored(eps)
        assert n == 4 and set(ids) == {P.event_id(o, i) for i in (2, 4, 6, 7)}


def test_revocation_while_connected():
    with H.Workdir("agg-sec-revoke") as wd:
        keys, agg, eps = _setup(wd)
        o = os.urandom(8)
        c = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        r = c.call([A.ev(o, 1)])
        assert r["r"][0][1:] == (P.ACCEPTED, 0)
        with open(keys["auth"]) as f:
            lines = [ln for ln in f if keys["c672"][0] not in ln]
        with open(keys["auth"], "w") as f:
            f.writelines(lines)
        agg.signal(signal.SIGHUP)
        agg.wait_log(r'msg="auth reloaded" peers=3')
        r = c.call([A.ev(o, 2), A.ev(o, 3)])        # same open connection
        assert [x[1:] for x in r["r"]] == [(P.REJECTED, P.ERR["forbidden"])] * 2, r
        agg.wait_log(r'event=forbidden .*role=revoked_or_unknown')
        c.close()
        # a new connection with the revoked key does not even get in
        c2 = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        c2.send([A.ev(o, 4)])
        assert c2.recv(1.5) is None
        c2.close()
        # a broken auth file keeps the previous table
        with open(keys["auth"], "a") as f:
            f.write("not-a-key collector 672\n")
        agg.signal(signal.SIGHUP)
        agg.wait_log(r'msg="auth reload failed; keeping the previous table".*authorized\.txt:\d+:')
        # loudly: error level, and what the table kept still lets in (c673, rep, adm)
        agg.wait_log(r'level=error .*msg="auth reload failed; keeping the previous table".*'
                     r'authorized\.txt:\d+: .*" peers=3 may_write=2 may_read=2$')
        o3 = os.urandom(8)  # c673's own origin (o is bound to c672)
        c3 = P.Client(eps["ingest"], curve=A.curve_for(keys, "c673"))
        r = c3.call([A.ev(o3, 5, district=673)])
        assert r["r"][0][1:] == (P.ACCEPTED, 0), r
        c3.close()
        assert agg.stop() == 0
        n, ids = _stored(eps)
        assert n == 2 and set(ids) == {P.event_id(o, 1), P.event_id(o3, 5)}


def test_resend_after_revocation():
    """An event accepted before its key was revoked, resent byte for byte (its
    ack was lost) on the same open connection, is a duplicate, not forbidden
    (the collector must not move a counted event to "rejected"); other bytes
    under the same id, and new ids, are still refused."""
    with H.Workdir("agg-sec-resend") as wd:
        keys, agg, eps = _setup(wd)
        o = os.urandom(8)
        c = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        e1, e2 = A.ev(o, 1), A.ev(o, 2)
        r = c.call([e1, e2])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 2, r
        with open(keys["auth"]) as f:
            lines = [ln for ln in f if keys["c672"][0] not in ln]
        with open(keys["auth"], "w") as f:
            f.writelines(lines)
        agg.signal(signal.SIGHUP)
        agg.wait_log(r'msg="auth reloaded" peers=3')
        other = A.ev(o, 2, t=A.T0 + 999)  # same id, other bytes
        assert other != e2
        r = c.call([e1, e2, other, A.ev(o, 3)])
        assert [x[1:] for x in r["r"]] == [(P.DUPLICATE, 0), (P.DUPLICATE, 0),
                                           (P.REJECTED, P.ERR["forbidden"]),
                                           (P.REJECTED, P.ERR["forbidden"])], r
        c.close()
        snp = A.snapshot(eps, curve=A.curve_for(keys, "rep"))
        assert snp["s"] == 2 and snp["c"][A.net_key(672, "bhxh_tn")] == 2, snp
        assert agg.stop() == 0
        n, ids = _stored(eps)
        assert n == 2 and set(ids) == {P.event_id(o, 1), P.event_id(o, 2)}


def test_origin_hijack():
    """The 8-byte origin of event ids is bound to the key that first had an
    event with it accepted: 672's key cannot take 673's future ids (which would
    make 673's real events conflicts); admins are exempt and do not bind; the
    binding survives a restart."""
    with H.Workdir("agg-sec-origin") as wd:
        keys, agg, eps = _setup(wd)
        o73 = os.urandom(8)
        c73 = P.Client(eps["ingest"], curve=A.curve_for(keys, "c673"))
        c72 = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        r = c73.call([A.ev(o73, i, district=673) for i in (1, 2, 3)])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 3, r
        # 672's key, its own district, 673's origin and future seqs: forbidden
        r = c72.call([A.ev(o73, i, district=672) for i in (4, 5, 6)])
        assert [x[1:] for x in r["r"]] == [(P.REJECTED, P.ERR["forbidden"])] * 3, r
        agg.wait_log(re.escape('msg="security" event=origin_bound_to_other_key key=%s origin=%s '
                               'events=3' % (keys["c672"][0], o73.hex())))
        # 673's real events with those ids are accepted (not conflicts)
        r = c73.call([A.ev(o73, i, district=673) for i in (4, 5, 6)])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 3, r
        # an admin may send events of any origin, and binds nothing
        oa = os.urandom(8)
        adm = P.Client(eps["ingest"], curve=A.curve_for(keys, "adm"))
        r = adm.call([A.ev(o73, 7, district=673), A.ev(oa, 1, district=672)])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 2, r
        adm.close()
        r = c72.call([A.ev(oa, 2, district=672)])
        assert r["r"][0][1:] == (P.ACCEPTED, 0), r
        snp = A.snapshot(eps, curve=A.curve_for(keys, "rep"))
        assert snp["s"] == 9, snp["s"]
        assert snp["c"][A.net_key(673, "bhxh_tn")] == 7
        assert snp["c"][A.net_key(672, "bhxh_tn")] == 2
        c72.close()
        c73.close()
        # the binding is durable: after a restart 672 still cannot use o73
        assert agg.stop() == 0
        agg, eps = A.start(wd, name="agg2", secure=(keys["server_key"], keys["auth"]),
                           data=eps["data"])
        c72 = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        r = c72.call([A.ev(o73, 8, district=672), A.ev(oa, 3, district=672)])
        assert [x[1:] for x in r["r"]] == [(P.REJECTED, P.ERR["forbidden"]), (P.ACCEPTED, 0)], r
        c72.close()
        assert agg.stop() == 0
        n, ids = _stored(eps)
        assert n == 10 and set(ids) == ({P.event_id(o73, i) for i in range(1, 8)} |
                                        {P.event_id(oa, i) for i in (1, 2, 3)})


def test_reader_revoked_while_subscribed():
    """A reporter removed from the file stops receiving the feed at once (its
    connection is dropped and cannot come back); another reporter reconnects
    by itself and goes on."""
    with H.Workdir("agg-sec-rrevoke") as wd:
        keys = A.secure_setup(wd, collectors=[("c672", 672)], reporters=["rep", "rep2"])
        agg, eps = A.start(wd, secure=(keys["server_key"], keys["auth"]))
        r1 = P.Reader(eps["feed"], eps["snapshot"], curve=A.curve_for(keys, "rep"))
        r2 = P.Reader(eps["feed"], eps["snapshot"], curve=A.curve_for(keys, "rep2"))
        assert r1.snapshot()["k"] == "snp" and r2.snapshot()["k"] == "snp"
        c = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        o = os.urandom(8)
        time.sleep(0.5)
        c.call([A.ev(o, 1)])
        r1.poll(1.5)
        r2.poll(0.1)
        assert r1.seq == 1 and r2.seq == 1
        with open(keys["auth"]) as f:
            lines = [ln for ln in f if keys["rep"][0] not in ln]
        with open(keys["auth"], "w") as f:
            f.writelines(lines)
        agg.signal(signal.SIGHUP)
        agg.wait_log(r'msg="auth reloaded" peers=2 readers_revoked=1')
        agg.wait_log(r'event=feed_connections_dropped')
        time.sleep(1.0)                                # rep2 reconnects
        for i in range(2, 6):
            c.call([A.ev(o, i)])
        r2.poll(3.0)
        assert r2.seq == 5, r2.seq                     # resynced (gap -> snapshot)
        seen = []                                      # what r1 had queued
        while r1.sub.poll(1000):
            seen.append(P.decode(r1.sub.recv()))
        assert all(m["s"] <= 1 for m in seen), "revoked reporter still receives the feed"
        assert r1.snapshot(timeout=1.5) is None
        r1.close()
        r2.close()
        c.close()
        assert agg.stop() == 0


def test_feed_and_snapshot_outsiders():
    """Outsiders (no curve / unknown key / collector key) get nothing from the
    feed or the snapshot service; the reporter gets both."""
    with H.Workdir("agg-sec-read") as wd:
        keys, agg, eps = _setup(wd)
        stranger = P.curve_keypair()
        outsiders = {"plaintext": None,
                     "unknown": (keys["server"][0], stranger[0], stranger[1]),
                     "collector": A.curve_for(keys, "c672")}
        readers = {n: P.Reader(eps["feed"], eps["snapshot"], curve=c) for n, c in outsiders.items()}
        rep = P.Reader(eps["feed"], eps["snapshot"], curve=A.curve_for(keys, "rep"))
        assert rep.snapshot()["k"] == "snp"
        time.sleep(0.5)
        c = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        o = os.urandom(8)
        assert c.call([A.ev(o, i) for i in range(1, 4)])["s"] == 3
        c.close()
        rep.poll(2.5)
        assert rep.seq == 3 and rep.counts[A.net_key(672, "bhxh_tn")] == 3
        for name, r in readers.items():
            assert r.snapshot(timeout=1.5) is None, f"{name} got a snapshot"
            assert not r.sub.poll(500), f"{name} received feed data"
            r.close()
        rep.close()
        assert agg.stop() == 0


def test_zap_handler_missing_fails_closed():
    with H.Workdir("agg-sec-nozap") as wd:
        keys = A.secure_setup(wd, collectors=[("c672", 672)], reporters=["rep"])
        agg, eps = A.start(wd, secure=(keys["server_key"], keys["auth"]), extra=["--test-no-zap"])
        o = os.urandom(8)
        c = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        c.send([A.ev(o, 1)])
        assert c.recv(2.0) is None
        c.close()
        r = P.Reader(eps["feed"], eps["snapshot"], curve=A.curve_for(keys, "rep"))
        assert r.snapshot(timeout=1.5) is None
        r.close()
        assert agg.stop() == 0
        n, _ = _stored(eps)
        assert n == 0


def test_key_and_auth_file_errors():
    with H.Workdir("agg-sec-files") as wd:
        keys = A.secure_setup(wd, collectors=[("c672", 672)])
        agg = H.binary("chitieu-aggregator")
        base = [agg, "--data", wd.sub("d"), "--ingest", wd.ipc("x")]
        os.chmod(keys["server_key"], 0o644)
        r = H.run(base + ["--keys", keys["server_key"], "--auth", keys["auth"]], check=False)
        assert r.returncode == 2, r
        os.chmod(keys["server_key"], 0o600)
        bad = wd.sub("bad-auth.txt")
        with open(bad, "w") as f:
            f.write("# ok\n%s collector 999 nowhere\n" % keys["c672"][0])
        r = H.run(base + ["--keys", keys["server_key"], "--auth", bad], check=False)
        assert r.returncode == 2 and "bad-auth.txt:2:" in r.stderr, r.stderr
        with open(bad, "w") as f:
            f.write("%s superuser\n" % keys["c672"][0])
        r = H.run(base + ["--keys", keys["server_key"], "--auth", bad], check=False)
        assert r.returncode == 2 and "bad-auth.txt:1: unknown role" in r.stderr, r.stderr


def test_connection_flood():
    """300 idle + 100 garbage TCP connections, more than --max-connections:
    the legitimate collector connected meanwhile is still acked."""
    with H.Workdir("agg-sec-flood") as wd:
        keys = A.secure_setup(wd, collectors=[("c672", 672)])
        port = H.free_port()
        ep = f"tcp://127.0.0.1:{port}"
        agg, eps = A.start(wd, secure=(keys["server_key"], keys["auth"]),
                           extra=["--ingest", ep, "--max-connections", "200",
                                  "--handshake-ivl", "2000"])
        socks = []
        for i in range(400):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i >= 300:
                s.sendall(os.urandom(64))             # garbage after 300 idle ones
            socks.append(s)
        o = os.urandom(8)
        c = P.Client(ep, curve=A.curve_for(keys, "c672"))
        deadline = time.time() + 30
        acked = None
        seq = 0
        while time.time() < deadline and acked is None:
            seq += 1
            r = c.call([A.ev(o, seq)], timeout=3)
            if r is not None:
                acked = r
        assert acked is not None and acked["r"][0][1:] == (P.ACCEPTED, 0), acked
        agg.wait_log(r'event=connection_refused')
        r = c.call([A.ev(o, 1000)], timeout=10)
        assert r is not None and r["r"][0][1:] == (P.ACCEPTED, 0)
        for s in socks:
            s.close()
        # the connection count does not drift: back to the one real collector
        n0 = len(agg.lines)
        agg.wait_log(r'msg="stats".* peers=1 ', timeout=20, start=n0)
        c.close()
        assert agg.stop() == 0


if __name__ == "__main__":
    H.main([test_outsiders_store_nothing, test_district_authorization,
            test_revocation_while_connected, test_resend_after_revocation, test_origin_hijack,
            test_reader_revoked_while_subscribed,
            test_feed_and_snapshot_outsiders,
            test_zap_handler_missing_fails_closed, test_key_and_auth_file_errors,
            test_connection_flood])
