"""The Benchmarks Game's fannkuch-redux, single process (no multiprocessing;
bench/programs/fannkuch_redux.iv is the ivm version, with the same output).
Permutations are lists rotated in place in the reference's order; each flip
reverses a prefix by slice assignment. n from the first argument (default 7).
    python3 bench/peers/python/fannkuch_redux.py 7
"""
import sys


def fannkuch(n):
    perm1 = list(range(n))
    count = [0] * n
    r = n
    perm_count = checksum = max_flips = 0
    while True:
        while r != 1:
            count[r - 1] = r
            r -= 1
        perm = perm1[:]
        flips = 0
        k = perm[0]
        while k:
            perm[:k + 1] = perm[k::-1]
            flips += 1
            k = perm[0]
        checksum += -flips if perm_count & 1 else flips
        if flips > max_flips:
            max_flips = flips
        # The next permutation: rotate the first r+1 elements left.
        while True:
            if r == n:
                return checksum, max_flips
            perm1.insert(r, perm1.pop(0))
            count[r] -= 1
            if count[r] > 0:
                break
            r += 1
        perm_count += 1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    checksum, max_flips = fannkuch(n)
    print(f"{checksum}\nPfannkuchen({n}) = {max_flips}")


main()
