#!/usr/bin/env python3
"""faults-check.py - the checks of the fault tests (faults-lib.sh).

  faults-check.py state URL
      the controller's picture from its API, one line each:
      "host NAME STATE CONNECTED NVMS BUSY" and "vm ID HOST MIGRATING CPU"
      (BUSY and CPU as fractions, for the logs).
  faults-check.py hb PREV_LAST FILE...
      one VM's heartbeat over its serial logs (any order, one visit per
      file or several): one JSON line {first, last, beats, gaps,
      repeats, corrupt, splits, problems}, a line "GAPS REPEATS CORRUPT
      LAST" and one "P KIND KEY" per problem.  PREV_LAST is the last seq
      an earlier check saw (-1: none): the files must reach back to it
      and go beyond it.
  faults-check.py seqs FILE
      "FIRST LAST": the first and last beat in FILE (-1 -1: none).
  faults-check.py journal DB [VM=HOST...]
      the journal against where the VMs really run (HOST "" = nowhere):
      one line per problem found, nothing if it is consistent.
  faults-check.py inflight DB
      "migrations N power N pending N": what the journal has in flight.

The journal is read with SQLite (Python's sqlite3, read-only); the schema
is controller/ctl_journal.c's.
"""
import json
import re
import sqlite3
import sys
import urllib.request

HB = re.compile(r"HB (\d+) (\d+) (\d+)\r?$")
# Guest time between two beats that follow each other: a beat period (10
# ms here), more if the vCPU was not scheduled (TCG's clock runs on), but
# not seconds.  A line spliced from the ends of two visits of one host,
# seconds of guest time apart, may read like the next beat; its time does
# not.
NEXT_NS = 2 * 10**9


def follows(a, b):
    """Whether beat b = (seq, ns) can come right after beat a."""
    return b[0] == a[0] + 1 and 0 < b[1] - a[1] <= NEXT_NS


# ---- the controller's API ---------------------------------------------------

def cmd_state(url):
    def get(path):
        with urllib.request.urlopen(url + path, timeout=5) as r:
            return json.load(r)
    for h in get("/api/hosts"):
        print("host %s %s %d %d %.3f %d" % (h["name"], h["state"],
                                            1 if h.get("connected") else 0,
                                            h.get("vms", 0),
                                            h.get("busy") or 0,
                                            1 if h.get("power_held") else 0))
    for v in get("/api/vms"):
        print("vm %s %s %d %.3f" % (v["id"], v.get("host") or "-",
                                    1 if v.get("migrating") else 0,
                                    v.get("cpu") or 0))
    return 0


# ---- heartbeats -------------------------------------------------------------

class Seg:
    """A run of consecutive beats in one file (one visit, or part of one)."""

    def __init__(self, fi, lines):
        self.fi = fi
        self.lines = lines      # [(seq, ns, text)]

    @property
    def first(self):
        return self.lines[0][0]

    @property
    def last(self):
        return self.lines[-1][0]


def split_lines(text):
    """[(line, terminated)] keeping the newline out of line."""
    out = []
    pos = 0
    while pos < len(text):
        nl = text.find("\n", pos)
        if nl < 0:
            out.append((text[pos:], False))
            break
        out.append((text[pos:nl], True))
        pos = nl + 1
    return out


def parse_file(fi, text, res):
    """Segments of file fi, and the junk text around them."""
    lines = split_lines(text)
    parsed = []
    for ln, term in lines:
        if "CORRUPT" in ln:
            res["corrupt"] += 1
            res["problems"].append("CORRUPT %s | file %d" % (ln[:80], fi))
        m = HB.match(ln) if term else None
        parsed.append((int(m.group(1)), int(m.group(2))) if m else None)
    # A beat is trusted when a neighbouring beat in the same file agrees
    # with it: a line spliced from two visits (its start written before a
    # migration, its end on a later visit) rarely does.
    trusted = [False] * len(lines)
    idx = [i for i, p in enumerate(parsed) if p is not None]
    for k, i in enumerate(idx):
        if len(idx) == 1:
            trusted[i] = True
        if k > 0 and idx[k - 1] == i - 1 and \
                follows(parsed[idx[k - 1]], parsed[i]):
            trusted[i] = True
        if k + 1 < len(idx) and idx[k + 1] == i + 1 and \
                follows(parsed[i], parsed[idx[k + 1]]):
            trusted[i] = True
    segs = []       # (Seg, junk_before, junk_after)
    cur = None
    junk = []
    for i, (ln, term) in enumerate(lines):
        raw = ln + ("\n" if term else "")
        if trusted[i] and (cur is None or follows(cur.lines[-1][:2],
                                                 parsed[i])):
            if cur is None:
                cur = Seg(fi, [])
                cur.junk_before = "".join(junk)
                junk = []
            cur.lines.append((parsed[i][0], parsed[i][1], raw))
            continue
        if cur is not None:
            segs.append(cur)
            cur = None
        if trusted[i]:          # a new run right after another
            cur = Seg(fi, [(parsed[i][0], parsed[i][1], raw)])
            cur.junk_before = "".join(junk)
            junk = []
            continue
        junk.append(raw)
    if cur is not None:
        segs.append(cur)
    # Junk after a segment is what lies up to the next one (or the end).
    for k, sg in enumerate(segs):
        sg.junk_after = segs[k + 1].junk_before if k + 1 < len(segs) \
            else "".join(junk)
    return segs


def split_line_ok(a, b):
    """Whether a prefix of the junk after segment a and a suffix of the
    junk before segment b make the one beat between them."""
    after, before = a.junk_after, b.junk_before
    want = re.compile(r"HB %d (\d+) (\d+)\r?\n$" % (a.last + 1))
    for i in range(min(len(after), 64) + 1):
        for j in range(max(0, len(before) - 64), len(before) + 1):
            m = want.match(after[:i] + before[j:])
            if m and follows(a.lines[-1][:2], (a.last + 1,
                                                int(m.group(1)))) and \
                    follows((a.last + 1, int(m.group(1))), b.lines[0][:2]):
                return True
    return False


def short(path):
    """A serial log's name with the folder that says its host."""
    return "/".join(path.split("/")[-4:])


def hb_print(res):
    """The JSON line, then "GAPS REPEATS CORRUPT LAST" for sh, then each
    problem as "P KIND KEY" (KEY without where it was seen, so that a
    problem found again in a later check is known as the same one)."""
    print(json.dumps(res))
    print(res["gaps"], res["repeats"], res["corrupt"],
          res["last"] if res["last"] is not None else -1)
    for p in res["problems"]:
        key = p.split(" | ")[0]
        kind = "corrupt" if key.startswith("CORRUPT") else "hb"
        print("P", kind, key)


def cmd_hb(prev_last, files):
    res = {"first": None, "last": None, "beats": 0, "gaps": 0,
           "repeats": 0, "corrupt": 0, "splits": 0, "problems": []}
    segs = []
    for fi, path in enumerate(files):
        try:
            with open(path, "rb") as f:
                text = f.read().decode("latin-1")
        except OSError as e:
            res["problems"].append("%s: %s" % (path, e))
            continue
        segs.extend(parse_file(fi, text, res))
    segs.sort(key=lambda s: (s.first, s.last))
    if not segs:
        res["problems"].append("no heartbeat at all")
        res["gaps"] += 1
        hb_print(res)
        return 0
    res["first"] = segs[0].first
    res["last"] = max(s.last for s in segs)
    res["beats"] = sum(len(s.lines) for s in segs)
    if prev_last >= 0 and segs[0].first > prev_last + 1:
        res["gaps"] += 1
        res["problems"].append("beats %d..%d checked before are not in "
                               "these files" % (prev_last + 1,
                                                segs[0].first - 1))
    if res["last"] <= prev_last:
        res["gaps"] += 1
        res["problems"].append("no beat since the last check (%d)" %
                               prev_last)
    for a, b in zip(segs, segs[1:]):
        if b.first <= a.last:
            n = min(a.last, b.last) - b.first + 1
            res["repeats"] += n
            res["problems"].append(
                "beats %d..%d twice | %s, %s" %
                (b.first, min(a.last, b.last), short(files[a.fi]),
                 short(files[b.fi])))
            continue
        if b.first == a.last + 1:
            pass
        elif b.first == a.last + 2 and a.fi != b.fi and \
                split_line_ok(a, b):
            res["splits"] += 1
        else:
            res["gaps"] += 1
            res["problems"].append("gap: %d -> %d | %s, %s" %
                                   (a.last, b.first, short(files[a.fi]),
                                    short(files[b.fi])))
        if b.lines[0][1] <= a.lines[-1][1]:
            res["problems"].append("guest time goes back at beat %d" %
                                   b.first)
            res["gaps"] += 1
    hb_print(res)
    return 0


# ---- the journal ------------------------------------------------------------

def open_db(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    return db


def cmd_inflight(path):
    db = open_db(path)
    m = db.execute("SELECT count(*) FROM migrations WHERE state IN "
                   "('planned', 'started')").fetchone()[0]
    p = db.execute("SELECT count(*) FROM power_actions WHERE state IN "
                   "('planned', 'started')").fetchone()[0]
    d = db.execute("SELECT count(*) FROM decisions WHERE outcome = "
                   "'pending'").fetchone()[0]
    print("migrations %d power %d pending %d" % (m, p, d))
    return 0


def host_state_at(changes, host, ts):
    """The host's journalled state at ts (None if none yet)."""
    st = None
    for c in changes.get(host, ()):
        if c["ts"] > ts:
            break
        st = c["to_state"]
    return st


def cmd_journal(path, where):
    db = open_db(path)
    probs = []
    migs = [dict(r) for r in db.execute(
        "SELECT m.*, d.outcome, d.ts AS dts FROM migrations m "
        "JOIN decisions d ON d.id = m.decision_id ORDER BY m.id")]
    pows = [dict(r) for r in db.execute(
        "SELECT p.*, d.outcome, d.ts AS dts FROM power_actions p "
        "JOIN decisions d ON d.id = p.decision_id ORDER BY p.id")]
    changes = {}
    for r in db.execute("SELECT * FROM state_changes WHERE kind = 'host' "
                        "ORDER BY id"):
        changes.setdefault(r["subject"], []).append(dict(r))
    for r in db.execute("SELECT id, kind, subject FROM decisions WHERE "
                        "outcome = 'pending' AND kind IN ('migrate', "
                        "'power-on', 'power-off')"):
        probs.append("decision %d (%s %s) still pending" %
                     (r["id"], r["kind"], r["subject"]))

    # Each VM's moves as the journal tells them, against where it runs.
    byvm = {}
    for m in migs:
        byvm.setdefault(m["vm"], []).append(m)
        if m["state"] in ("planned", "started"):
            probs.append("migration %d of %s (%s -> %s) left %s" %
                         (m["id"], m["vm"], m["src"], m["dst"], m["state"]))
        elif m["state"] == "committed" and \
                not m["outcome"].startswith("done"):
            probs.append("migration %d of %s committed, its decision %s" %
                         (m["id"], m["vm"], m["outcome"]))
        elif m["state"] in ("failed", "rolled-back") and \
                m["outcome"].startswith("done"):
            probs.append("migration %d of %s %s, its decision done" %
                         (m["id"], m["vm"], m["state"]))
        st = host_state_at(changes, m["dst"], m["dts"])
        if st is not None and st != "on":
            probs.append("migration %d of %s decided to %s while %s" %
                         (m["id"], m["vm"], m["dst"], st))
    timeline = {}       # vm -> [(ts, host)]
    for vm, ms in byvm.items():
        loc = None
        tl = [(0.0, ms[0]["src"])]
        for m in ms:
            if loc is not None and m["src"] != loc:
                probs.append("migration %d moves %s from %s, but the "
                             "journal had it on %s" %
                             (m["id"], vm, m["src"], loc))
            if m["state"] == "committed":
                loc = m["dst"]
                tl.append((m["ended_ts"] or m["ts"], loc))
            elif m["state"] in ("failed", "rolled-back"):
                loc = m["src"]
        timeline[vm] = tl
        if vm in where and loc is not None and where[vm] != loc:
            probs.append("the journal has %s on %s (migration %d %s), it "
                         "runs on %s" % (vm, loc, ms[-1]["id"],
                                         ms[-1]["state"],
                                         where[vm] or "no host"))
    for vm, h in where.items():
        if vm not in timeline and h:
            timeline[vm] = [(0.0, h)]

    # Power: never off with a VM on the host or a migration in flight,
    # never on a host that was not off, never off one that was not on.
    for p in pows:
        if p["state"] in ("planned", "started"):
            probs.append("power-%s %d of %s left %s" %
                         (p["action"], p["id"], p["host"], p["state"]))
        st = host_state_at(changes, p["host"], p["dts"])
        want = "on" if p["action"] == "off" else "off"
        if st is not None and st != want:
            probs.append("power-%s %d of %s decided while it was %s" %
                         (p["action"], p["id"], p["host"], st))
        if p["action"] != "off" or p["state"] != "done":
            continue
        t = p["started_ts"] or p["ts"]
        for vm, tl in timeline.items():
            at = None
            for ts, h in tl:
                if ts <= t:
                    at = h
            if at == p["host"]:
                probs.append("power-off %d of %s at %.1f while %s was "
                             "there" % (p["id"], p["host"], t, vm))
        for m in migs:
            end = m["ended_ts"] or float("inf")
            if (m["started_ts"] or m["ts"]) <= t < end and \
                    p["host"] in (m["src"], m["dst"]):
                probs.append("power-off %d of %s during migration %d" %
                             (p["id"], p["host"], m["id"]))
    for line in probs:
        print(line)
    return 0


def cmd_seqs(path):
    first = last = -1
    with open(path, "rb") as f:
        for ln in f.read().decode("latin-1").split("\n"):
            m = HB.match(ln)
            if m:
                last = int(m.group(1))
                if first < 0:
                    first = last
    print(first, last)
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "state":
        return cmd_state(argv[2])
    if len(argv) >= 3 and argv[1] == "hb":
        return cmd_hb(int(argv[2]), argv[3:])
    if len(argv) >= 3 and argv[1] == "journal":
        where = {}
        for a in argv[3:]:
            vm, _, h = a.partition("=")
            where[vm] = h
        return cmd_journal(argv[2], where)
    if len(argv) == 3 and argv[1] == "seqs":
        return cmd_seqs(argv[2])
    if len(argv) == 3 and argv[1] == "inflight":
        return cmd_inflight(argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
