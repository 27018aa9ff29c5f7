/* fork_cost: what a Unix fork() costs a process that holds MB megabytes.
 *
 *   gcc -O2 -o fork_cost bench/peers/c/fork_cost.c
 *   ./fork_cost MB N        (defaults 100 100; MB 0 is the baseline)
 *
 * mallocs MB megabytes and writes one byte in every page, so that every page
 * is resident and private, then times N rounds of fork() + waitpid(), the
 * child calling _exit(0) at once. Prints "fork MB" on stdout and, on stderr,
 * the median round in microseconds as "# unix_fork_us X" (and the fastest as
 * "# unix_fork_us_min X").
 *
 * Why: it is the comparison point for ivm's fork of a process that holds a
 * big map (bench/programs/procs.iv, `fork`). ivm's fork copies a reference to
 * the frozen stack and nothing else, so its cost should not depend on the
 * heap; the kernel's fork copies the page tables of every mapped page (and
 * write-protects them for copy-on-write), so its cost grows with the memory
 * the process has touched. The parent here writes nothing after the fork,
 * so the copy-on-write faults a real program would take later are not
 * counted: this is the lower bound of Unix fork.
 * Transparent huge pages change the picture (2 MiB pages need 512 times
 * fewer page-table entries): glibc's malloc serves large blocks with mmap,
 * and whether THP backs them is /sys/kernel/mm/transparent_hugepage/enabled
 * ("madvise" by default on Debian: then they do not).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long mb = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    if (mb < 0 || n < 1) {
        fprintf(stderr, "usage: fork_cost [MB [N]]   (MB >= 0, N >= 1)\n");
        return 2;
    }

    /* The memory, every page written once (a distinct byte, so no page is
     * left shared with the zero page). */
    size_t bytes = (size_t)mb << 20;
    long page = sysconf(_SC_PAGESIZE);
    volatile char *mem = NULL;
    if (bytes) {
        mem = malloc(bytes);
        if (!mem) {
            perror("malloc");
            return 1;
        }
        for (size_t i = 0; i < bytes; i += (size_t)page)
            mem[i] = (char)(i / (size_t)page + 1);
    }

    double *us = malloc((size_t)n * sizeof *us);
    if (!us) {
        perror("malloc");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        double t0 = now_us();
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            perror("waitpid");
            return 1;
        }
        us[i] = now_us() - t0;
    }
    qsort(us, (size_t)n, sizeof *us, cmp_double);
    double median = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;

    printf("fork %ld\n", mb);
    fprintf(stderr, "# unix_fork_us %.1f\n# unix_fork_us_min %.1f\n", median, us[0]);
    /* Read the memory, so that it stays live (and written) until here. */
    if (bytes && mem[0] != 1)
        return 1;
    free((void *)mem);
    free(us);
    return 0;
}
