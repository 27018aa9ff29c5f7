"""The Benchmarks Game's spectral-norm, single process, plain Python (no
NumPy; bench/programs/spectral_norm.iv is the ivm version, with the same
output). Vectors are lists; sums run j = 0, 1, ... from 0.0 in a plain loop
(not sum(), which may round differently). n from the first argument
(default 100).
    python3 bench/peers/python/spectral_norm.py 100
"""
import sys
from math import sqrt


def a(i, j):
    ij = i + j
    return 1.0 / (ij * (ij + 1) // 2 + i + 1)


def mul_av(u):
    n = len(u)
    v = []
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += a(i, j) * u[j]
        v.append(s)
    return v


def mul_atv(u):
    n = len(u)
    v = []
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += a(j, i) * u[j]
        v.append(s)
    return v


def mul_atav(u):
    return mul_atv(mul_av(u))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    u = [1.0] * n
    for _ in range(10):
        v = mul_atav(u)
        u = mul_atav(v)
    vbv = vv = 0.0
    for ui, vi in zip(u, v):
        vbv += ui * vi
        vv += vi * vi
    print(f"{sqrt(vbv / vv):.9f}")


main()
