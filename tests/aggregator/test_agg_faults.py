"""Aggregator faults: kill -9 under concurrent load with restarts (no acked event
lost, none counted twice, counts == recount, chain intact), and LMDB map full
(nothing acked from the failed batch, clear error, keeps running, resumes with
a larger --map-size)."""
import os
import random
import threading
import time

import aggh as A
from aggh import H, P


def _worker(ep, chunks, acked, errors, stop_at):
    """Delivers every chunk until acked; resends in-flight ones on timeout."""
    try:
        c = P.Client(ep)
        todo = list(range(len(chunks)))
        inflight = {}          # token -> chunk index
        window = 6
        while (todo or inflight) and time.time() < stop_at:
            while todo and len(inflight) < window:
                k = todo.pop(0)
                inflight[c.send(chunks[k])] = k
            r = c.recv(1.0)
            if r is None:
                todo = sorted(set(todo) | set(inflight.values()))   # resend
                inflight.clear()
                c.close()
                c = P.Client(ep)
                continue
            k = inflight.pop(r.get("n"), None)
            if k is None:
                continue       # a late reply to an abandoned token
            assert r["k"] == "ack", r
            for eid, st, code in r["r"]:
                assert st in (P.ACCEPTED, P.DUPLICATE), (st, code)
                acked.setdefault(eid, []).append(st)
        c.close()
        if todo or inflight:
            errors.append("worker did not finish")
    except Exception as e:  # noqa: BLE001
        errors.append(repr(e))


def test_kill9_under_load():
    rng = random.Random(7)
    NW, N, B = 3, 40000, 100
    origins = [os.urandom(8) for _ in range(NW)]
    districts = [672, 676, 68]
    events = [[A.ev(origins[w], i, district=districts[w],
                    program="bhyt_hgd" if i % 3 else "bhxh_tn") for i in range(1, N + 1)]
              for w in range(NW)]
    # a 4th collector (district 673) re-enrolls and cancels a small pool of
    # persons: its counts depend on the person states, which the store
    # checkpoints and replays after each kill -9
    import hashlib
    om = os.urandom(8)
    pool = [hashlib.blake2b(b"p%d" % k, digest_size=32).digest() for k in range(60)]
    mixed = [A.ev(om, i, district=673, person=pool[rng.randrange(60)],
                  action="cancel" if rng.random() < 0.3 else "enroll",
                  program="bhxh_tn" if rng.random() < 0.5 else "bhyt_hgd")
             for i in range(1, 8001)]
    with H.Workdir("agg-kill9") as wd:
        agg, eps = A.start(wd, name="agg", extra=["--persons-checkpoint", "1000000"])
        acked = [dict() for _ in range(NW)]
        errors = []
        stop_at = time.time() + 120
        ts = [threading.Thread(target=_worker,
                               args=(eps["ingest"], [events[w][i:i + B] for i in range(0, N, B)],
                                     acked[w], errors, stop_at)) for w in range(NW)]
        acked_mixed = {}
        ts.append(threading.Thread(target=_worker, args=(
            eps["ingest"], [mixed[i:i + B] for i in range(0, len(mixed), B)], acked_mixed,
            errors, stop_at)))
        for t in ts:
            t.start()
        kills = 0
        restarts = []
        total = NW * N + len(mixed)
        for frac in (0.1, 0.3, 0.5, 0.7):
            # kill when this share of all events is acked: mid-load at any speed
            target = int(total * (frac + rng.uniform(0, 0.1)))
            while (sum(len(a) for a in acked) + len(acked_mixed) < target
                   and any(t.is_alive() for t in ts)):
                time.sleep(0.002)
            if not any(t.is_alive() for t in ts):
                break
            agg.kill9()
            kills += 1
            # what was acked before the kill must be in the store
            before = set()
            for a in acked:
                before |= set(a)
            st = A.Store(eps["data"])
            ids = st.id_set()
            st.close()
            missing = before - set(ids)
            assert not missing, f"{len(missing)} acked events missing after kill -9"
            agg, _ = A.start(wd, name="agg", data=eps["data"],
                             extra=["--persons-checkpoint", "1000000"])
            restarts.append(agg)
        for t in ts:
            t.join(130)
        assert not errors, errors
        assert kills >= 1
        replays = [ln for p in restarts for ln in p.lines if "person states replayed" in ln]
        assert replays, "no restart had person states to replay"
        snp = A.snapshot(eps)
        assert snp["s"] == NW * N + len(mixed), snp["s"]
        for w, d in enumerate(districts):
            n_bhxh = N // 3
            assert snp["c"][A.net_key(d, "bhxh_tn")] == n_bhxh
            assert snp["c"][A.net_key(d, "bhyt_hgd")] == N - n_bhxh
        assert agg.stop() == 0
        st = A.Store(eps["data"])
        assert st.verify_chain()[0] == NW * N + len(mixed)
        ids = st.id_set()
        assert len(acked_mixed) == len(mixed) and set(acked_mixed) <= set(ids)
        for w in range(NW):
            assert len(acked[w]) == N
            assert set(acked[w]) <= set(ids)
            # accepted exactly once, whatever the resends
            assert sum(1 for v in acked[w].values() if P.ACCEPTED in v) <= N
        net = {k: v for k, v in st.count_map().items()
               if k[0] == P.COUNT_NET and P.parse_key(k)[2] != 673}
        assert net == A.expected_net([x for x in st.events() if x[2]["d"] != 673])
        st.close()
        # counts == the audit's recount with the tally rule, chain and ids intact
        r = H.run([H.binary("chitieu-audit"), "verify", "--data", eps["data"]], check=False)
        assert r.returncode == 0 and "OK seq=%d " % (NW * N + len(mixed)) in r.stdout, \
            (r.returncode, r.stdout, r.stderr)
        print(f"kills={kills} events={NW * N}")


def test_map_full_then_bigger_map():
    with H.Workdir("agg-mapfull") as wd:
        agg, eps = A.start(wd, extra=["--map-size", "1M"])
        c = P.Client(eps["ingest"])
        o = os.urandom(8)
        accepted = 0
        failed_chunk = None
        seq = 0
        for k in range(200):
            chunk = [A.ev(o, seq + i, program="bhyt_hgd") for i in range(1, 101)]
            seq += 100
            r = c.call(chunk)
            sts = {x[1:] for x in r["r"]}
            if sts == {(P.ACCEPTED, 0)}:
                accepted += 100
                assert r["s"] == accepted
                continue
            assert sts == {(P.RETRY, P.ERR["store_unavailable"])}, sts
            assert r["s"] == accepted
            failed_chunk = chunk
            break
        assert failed_chunk is not None and accepted > 0
        agg.wait_log(r'level=error .*map is full, raise --map-size')
        # still running: snapshot answers with the committed state, retry still refused
        snp = A.snapshot(eps)
        assert snp["s"] == accepted and snp["c"][A.net_key(672, "bhyt_hgd")] == accepted
        r = c.call(failed_chunk)
        assert {x[1:] for x in r["r"]} == {(P.RETRY, P.ERR["store_unavailable"])}
        # duplicates of committed events are still answered (read path works)
        assert agg.stop() == 0
        st = A.Store(eps["data"])
        assert st.verify_chain()[0] == accepted
        st.close()
        agg, eps2 = A.start(wd, data=eps["data"], extra=["--map-size", "64M"])
        c.close()
        c = P.Client(eps2["ingest"])
        r = c.call(failed_chunk)
        assert {x[1:] for x in r["r"]} == {(P.ACCEPTED, 0)}, r
        assert r["s"] == accepted + 100
        snp = A.snapshot(eps2)
        assert snp["c"][A.net_key(672, "bhyt_hgd")] == accepted + 100
        c.close()
        assert agg.stop() == 0
        st = A.Store(eps["data"])
        assert st.verify_chain()[0] == accepted + 100
        st.close()


def test_sigterm_under_load_acks_then_exits():
    """SIGTERM while collectors push: the batch in flight is committed and acked,
    the process exits 0, and every acked event is in the store."""
    NW, N, B = 3, 20000, 100
    origins = [os.urandom(8) for _ in range(NW)]
    with H.Workdir("agg-term") as wd:
        agg, eps = A.start(wd)
        acked = [dict() for _ in range(NW)]
        stop_at = time.time() + 3  # the workers give up once the aggregator is gone
        ts = [threading.Thread(target=_worker, args=(
            eps["ingest"], [[A.ev(origins[w], i) for i in range(k, k + B)]
                            for k in range(1, N + 1, B)], acked[w], [], stop_at))
              for w in range(NW)]
        for t in ts:
            t.start()
        time.sleep(0.4)
        agg.signal(__import__("signal").SIGTERM)
        assert agg.wait(20) == 0
        for t in ts:
            t.join(30)
        got = set()
        for a in acked:
            got |= set(a)
        assert got, "nothing was acked before SIGTERM"
        st = A.Store(eps["data"])
        n, _ = st.verify_chain()
        ids = set(st.id_set())
        st.close()
        assert got <= ids, f"{len(got - ids)} acked events missing after SIGTERM"
        assert n == len(ids)
        assert any('msg="stopped"' in ln for ln in agg.lines)


def test_full_disk_stop_and_start():
    """Person states pending (large --persons-checkpoint) when the disk fills
    up: a SIGTERM cannot write them and says so (what was skipped, that the
    next start replays it); a start on the still-full disk cannot replay them
    and says the disk is full and what to do (not a bare "Input/output
    error"), exit 1; once space is freed the next start replays and the
    counts are right. The data directory is on a small tmpfs (skipped
    without mount permission)."""
    import signal
    import subprocess
    with H.Workdir("agg-diskfull") as wd:
        mnt = wd.sub("disk")
        os.makedirs(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"SKIP full disk: cannot mount a tmpfs ({r.stderr.strip()})", flush=True)
            return
        try:
            data = os.path.join(mnt, "data")
            ckpt = ["--persons-checkpoint", "1000000"]
            agg, eps = A.start(wd, name="agg", data=data, extra=ckpt)
            c = P.Client(eps["ingest"])
            o = os.urandom(8)
            N, B = 20000, 500
            for k in range(1, N + 1, B):
                rep = c.call([A.ev(o, i) for i in range(k, k + B)])
                assert {x[1:] for x in rep["r"]} == {(P.ACCEPTED, 0)}, rep["r"][:3]
            c.close()
            filler = os.path.join(mnt, "filler")
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            agg.signal(signal.SIGTERM)
            assert agg.wait(30) == 0, agg.tail()
            skipped = [ln for ln in agg.lines if "person-state checkpoint skipped at close" in ln]
            assert skipped, agg.tail()
            assert "no space left on device" in skipped[0] and "err=disk_full" in skipped[0], \
                skipped[0]
            assert f"states={N} from_seq=1 to_seq={N}" in skipped[0], skipped[0]
            assert "the next start replays these states from the log" in skipped[0]
            # the disk is still full: the start fails and says why
            agg, _ = A.start(wd, name="agg2", data=data, extra=ckpt, wait=False)
            assert agg.wait(30) == 1, agg.tail()
            err = [ln for ln in agg.lines if 'msg="cannot open store"' in ln]
            assert err, agg.tail()
            assert "err=disk_full" in err[0] and "no space left on device" in err[0], err[0]
            assert "free space on the disk holding the data directory" in err[0], err[0]
            assert f"person-state replay commit of seq 1..{N} failed" in err[0], err[0]
            assert "the replay runs again at the next start" in err[0], err[0]
            # space again: the start replays, the counts hold
            os.unlink(filler)
            agg, eps = A.start(wd, name="agg3", data=data, extra=ckpt)
            assert any("person states replayed" in ln and f"records={N}" in ln
                       for ln in agg.lines), agg.tail()
            snp = A.snapshot(eps)
            assert snp["s"] == N and snp["c"][A.net_key(672, "bhxh_tn")] == N, snp["s"]
            c = P.Client(eps["ingest"])
            rep = c.call([A.ev(o, 7)])  # a resend: the replayed states and ids hold
            assert {x[1:] for x in rep["r"]} == {(P.DUPLICATE, 0)}, rep["r"]
            c.close()
            assert agg.stop() == 0
            r = H.run([H.binary("chitieu-audit"), "verify", "--data", data], check=False)
            assert r.returncode == 0 and f"OK seq={N} " in r.stdout, (r.stdout, r.stderr)
        finally:
            for p in wd.procs:
                if p.p.poll() is None:
                    p.p.kill()
                    p.p.wait()
            subprocess.run(["umount", "-l", mnt], check=False)


if __name__ == "__main__":
    H.main([test_kill9_under_load, test_sigterm_under_load_acks_then_exits,
            test_map_full_then_bigger_map, test_full_disk_stop_and_start])
