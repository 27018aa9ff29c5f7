"""Naive recursive Fibonacci, the peer of bench/programs/fib.iv: prints
fib(N), N from the first argument (default 30: prints 832040).
    python3 bench/peers/python/fib.py [N]
"""
import sys


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    print(fib(n))


if __name__ == "__main__":
    main()
