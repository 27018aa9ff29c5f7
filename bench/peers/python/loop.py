"""A counting loop, the peer of bench/programs/loop.iv: sums 0 .. N-1, N from
the first argument (default 10^8: prints 4999999950000000). Written as a
Python programmer would write the loop by hand: a for over range (not
sum(range(n)), which runs in C and is a different benchmark).
    python3 bench/peers/python/loop.py [N]
"""
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000000
    total = 0
    for i in range(n):
        total += i
    print(total)


if __name__ == "__main__":
    main()
