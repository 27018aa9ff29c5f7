"""The Benchmarks Game's binary-trees, single process (no multiprocessing, so
it compares with ivm's one thread; bench/programs/binary_trees.iv is the ivm
version, with the same output). A node is a tuple (left, right); a leaf is
(None, None), built as a new tuple each time like every other node (a literal
(None, None) would be one constant shared by all leaves, half the
allocations). Depth from the first argument (default 10).
    python3 bench/peers/python/binary_trees.py 16
"""
import sys


def make_tree(depth):
    if depth > 0:
        depth -= 1
        return (make_tree(depth), make_tree(depth))
    nil = None
    return (nil, nil)


def check(tree):
    left, right = tree
    if left is None:
        return 1
    return 1 + check(left) + check(right)


def main():
    min_depth = 4
    max_depth = max(min_depth + 2, int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    stretch = max_depth + 1
    print(f"stretch tree of depth {stretch}\t check: {check(make_tree(stretch))}")

    long_lived = make_tree(max_depth)

    for depth in range(min_depth, max_depth + 1, 2):
        iterations = 1 << (max_depth - depth + min_depth)
        total = 0
        for _ in range(iterations):
            total += check(make_tree(depth))
        print(f"{iterations}\t trees of depth {depth}\t check: {total}")

    print(f"long lived tree of depth {max_depth}\t check: {check(long_lived)}")


main()
