"""Compares the cached top tracks of two encore data dirs, per artist.

Usage: compare_tracks.py DEV/encore.db EXTENDED/encore.db
Prints how many artists each holds, the features sources counted per track, for how many
artists the ordered track lists (and the sets) are equal, and the first 60 artists whose
sets differ: (id, name, tracks in the first, tracks in the second, tracks in both). A
Development-Mode backfill whose neighbour lists differ from an Extended one's differs here
first: one artist's profile moves the standardisation, and with it near-ties elsewhere.
"""
import sqlite3, sys
from collections import Counter
def load(path):
    db = sqlite3.connect(path)
    lists = {}
    src = Counter()
    for a, r, t, s in db.execute("SELECT artist_id, rank, track_id, features_source FROM top_tracks ORDER BY artist_id, rank"):
        lists.setdefault(a, []).append(t); src[s] += 1
    names = dict(db.execute("SELECT id, name FROM artists"))
    return lists, src, names
dev, dsrc, dnames = load(sys.argv[1]); ext, esrc, enames = load(sys.argv[2])
print("artists dev", len(dnames), "ext", len(enames), "only dev", len(set(dnames)-set(enames)), "only ext", len(set(enames)-set(dnames)))
print("sources dev", dict(dsrc), "ext", dict(esrc))
same_list = same_set = 0; diff = []
for a in set(dev) | set(ext):
    d, e = dev.get(a, []), ext.get(a, [])
    if d == e: same_list += 1
    if set(d) == set(e): same_set += 1
    else: diff.append((a, enames.get(a) or dnames.get(a), len(d), len(e), len(set(d) & set(e))))
print("same list", same_list, "same set", same_set, "of", len(set(dev) | set(ext)))
for row in sorted(diff, key=lambda r: r[1] or "")[:60]: print("  ", row)
