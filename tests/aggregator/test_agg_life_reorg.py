"""A reorg life entry through the real chitieu-aggregator (PROTOCOL §2.2,
§4.5, §5.3, §9): a declared reorganization is forbidden to a collector key,
put in force by an admin key (REORG := ef, LIFE := 6), then already_applied;
an undeclared one is unknown_reorg."""
import os
import time

from test_agg_life import A, H, P, K, LIFE, REORG, life, one, seq_dim


def _reorg_campaign(wd):
    """The example campaign with a declared reorganization (PROTOCOL §4.5)."""
    src = os.path.join(H.SRC, "examples", "lamdong-2023")
    for name in ("campaign.ini", "staff.csv"):
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        if name == "campaign.ini":
            data += b"\n[reorg merge-t]\nlabel = test merger\nmap = 673 -> 672\n"
        with open(wd.sub(name), "wb") as f:
            f.write(data)
    return wd.sub("campaign.ini")


def test_life_reorg():
    """A reorg of a declared reorganization: forbidden to a collector key,
    accepted from an admin key (REORG := ef, LIFE := 6), then already_applied."""
    with H.Workdir("agg-life-reorg") as wd:
        keys = A.secure_setup(wd, collectors=[("c672", 672)], admins=["adm"])
        p, eps = A.start(wd, secure=(keys["server_key"], keys["auth"]), wait=False,
                         extra=["--campaign", _reorg_campaign(wd)])
        deadline = time.time() + 30
        while not any('msg="ready"' in ln for ln in p.lines):
            if p.p.poll() is not None or time.time() > deadline:
                p.stop()
                raise AssertionError("the aggregator did not start on a campaign with a "
                                     "[reorg] section:\n" + p.tail())
            time.sleep(0.05)
        adm = P.Client(eps["ingest"], curve=A.curve_for(keys, "adm"))
        col = P.Client(eps["ingest"], curve=A.curve_for(keys, "c672"))
        ef = A.T0 + 2 * A.DAY
        o = os.urandom(8)
        r = col.call([life("reorg", P.event_id(o, 1), n="merge-t", ef=ef)])
        assert r["r"][0][1:] == (P.REJECTED, P.ERR["forbidden"]), r
        s, _ = one(adm, life("reorg", P.event_id(o, 2), by="admin", n="merge-t", ef=ef))
        assert s == 1
        r = adm.call([life("reorg", P.event_id(o, 3), by="admin", n="merge-t", ef=ef + 1)])
        assert r["r"][0][1:] == (P.REJECTED, P.ERR["already_applied"]) and r["s"] == 1, r
        r = adm.call([life("reorg", P.event_id(o, 4), by="admin", n="nope", ef=ef)])
        assert r["r"][0][1:] == (P.REJECTED, P.ERR["unknown_reorg"]), r
        adm.close()
        col.close()
        assert p.stop() == 0
        st = A.Store(eps["data"])
        counts = st.count_map()
        st.close()
        assert counts[K(REORG, 0, 0, b"merge-t")] == ef
        assert counts[K(LIFE, 0, 0, seq_dim(1))] == 6


if __name__ == "__main__":
    H.main([test_life_reorg])
