"""Issue 4's vector benchmark, mutable baseline, the peer of
bench/programs/vec1m.iv: build an N-element list by append (in place) and
sum it with sum(). N from the first argument (default 1000000: prints
"1000000 499999500000").
    python3 bench/peers/python/vec1m.py [N]
"""
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    v = []
    for i in range(n):
        v.append(i)
    print(len(v), sum(v))


if __name__ == "__main__":
    main()
