"""scikit-learn's exact k-NN on the same CSV as `encore bench knn`, for the speed comparison.

Reads rows `id,f1,...,fn` (header line), standardizes each column as the Rust engine does
(z-score with the population standard deviation, constant columns dropped), runs
NearestNeighbors(n_neighbors=k+1, algorithm='kd_tree', n_jobs=2), and prints the seconds
spent in standardize + fit + query as its last line: `knn_seconds=...`.
"""

import argparse
import csv
import sys
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_info


def read_rows(path):
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        ids, rows = [], []
        for record in reader:
            ids.append(record[0])
            rows.append(record[1:])
    return ids, np.array(rows, dtype=np.float64)


def standardize(values):
    low, high = values.min(axis=0), values.max(axis=0)
    kept = values[:, low != high]
    mean = kept.mean(axis=0)
    std = kept.std(axis=0)  # ddof=0: population standard deviation, as the engine
    return (kept - mean) / std


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--output", help="write id,rank,neighbor_id,distance")
    args = parser.parse_args()

    ids, values = read_rows(args.input)
    blas = ",".join(f"{i.get('internal_api')}:{i.get('architecture')}" for i in threadpool_info())
    print(f"artists={len(ids)} blas={blas}", file=sys.stderr)

    started = time.perf_counter()
    points = standardize(values)
    model = NearestNeighbors(n_neighbors=args.k + 1, algorithm="kd_tree", n_jobs=args.jobs)
    model.fit(points)
    distances, indices = model.kneighbors(points)
    seconds = time.perf_counter() - started

    if args.output:
        with open(args.output, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "rank", "neighbor_id", "distance"])
            for row, (found, dist) in enumerate(zip(indices, distances)):
                # The query itself comes back among its k+1 (usually first); drop it.
                kept = [(j, d) for j, d in zip(found, dist) if j != row][: args.k]
                for rank, (j, d) in enumerate(kept, start=1):
                    writer.writerow([ids[row], rank, ids[j], repr(float(d))])
    print(f"knn_seconds={seconds:.3f}")


if __name__ == "__main__":
    main()
