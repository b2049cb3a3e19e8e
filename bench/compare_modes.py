"""Compares the datamarts of a Development-Mode backfill and an Extended-mode one.

Usage: compare_modes.py DEV.csv EXTENDED.csv INGESTED
DEV.csv and EXTENDED.csv are `encore export related --format csv` of the two data dirs;
INGESTED is the number of artists the development backfill stored (`encore status --json`,
`artists`). Prints how many of them have 10 neighbours, and for how many artists
the ordered neighbour lists are equal in both (artists missing from either side count as
different).
"""

import csv
import sys
from collections import defaultdict

K = 10


def read_lists(path):
    ranked = defaultdict(list)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            ranked[row["artist_id"]].append((int(row["rank"]), row["related_id"]))
    return {artist: [r for _, r in sorted(rows)] for artist, rows in ranked.items()}


def main():
    dev, ext = read_lists(sys.argv[1]), read_lists(sys.argv[2])
    ingested = int(sys.argv[3])
    full = sum(1 for lists in dev.values() if len(lists) == K)
    artists = set(dev) | set(ext)
    equal = sum(1 for a in artists if dev.get(a) == ext.get(a))
    print(
        f"ingested={ingested} with_{K}_neighbours={full} ({100 * full / ingested:.2f} %) "
        f"artists={len(artists)} equal_lists={equal} ({100 * equal / len(artists):.2f} %)"
    )


if __name__ == "__main__":
    main()
