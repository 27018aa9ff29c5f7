"""Issue 4's map benchmark, mutable baseline, the peer of
bench/programs/map1m.iv: put N integer keys into a dict one at a time (in
place), then look each key up once and sum the values. N from the first
argument (default 1000000: prints "1000000 499999500000").
    python3 bench/peers/python/map1m.py [N]
"""
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    m = {}
    for i in range(n):
        m[i] = i
    total = 0
    for i in range(n):
        total += m[i]
    print(len(m), total)


if __name__ == "__main__":
    main()
