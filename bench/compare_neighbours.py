"""Compares two `id,rank,neighbor_id,distance` files: how many artists' neighbour sets differ.

Usage: compare_neighbours.py A.csv B.csv. Prints `artists=... different_sets=...`. Used by
knn.sh to set scikit-learn's answer beside the engine's (both exact; they may differ only
where the k-th distance is tied, which the engine breaks by id).
"""

import sys
from collections import defaultdict


def read_sets(path):
    sets = defaultdict(set)
    with open(path) as handle:
        next(handle)
        for line in handle:
            artist, _, neighbour, _ = line.rstrip("\n").split(",")
            sets[artist].add(neighbour)
    return sets


def main():
    left, right = read_sets(sys.argv[1]), read_sets(sys.argv[2])
    artists = set(left) | set(right)
    different = sum(1 for a in artists if left.get(a) != right.get(a))
    print(f"artists={len(artists)} different_sets={different}")


if __name__ == "__main__":
    main()
