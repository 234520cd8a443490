/*
 * split.c — a program with a known CPU split, the target of the perfprof
 * end-to-end tests. Built by the test scripts with -O2 -fomit-frame-pointer -g.
 *
 * Three leaves with the same loop body (distinct constants, so identical-code
 * folding cannot merge them) share the CPU 50/30/20, reached through two
 * callers: main -> work_ab -> {leaf_a 5 units, leaf_b 3 units} and
 * main -> work_c -> leaf_c 2 units. Rounds are short, so noise over time
 * hits all three alike.
 *
 *   split [-r ROUNDS] [-t THREADS] [-u A:B:C] [-f|-V] [-x STATUS] [-b] [-p] [-T] [-I]
 *     -r  rounds of work per thread (a round is ~10 units of UNIT iterations)
 *     -t  run the rounds in this many threads at once
 *     -u  units of work of leaf_a, leaf_b, leaf_c per round (default 5:3:2)
 *     -f  also fork a child that execs this program (with -r ROUNDS) and wait
 *     -V  the same with vfork
 *     -x  exit with this status
 *     -b  print a heartbeat line every 50 rounds (for attach)
 *     -p  install our own SIGPROF handler and ITIMER_PROF; print how many
 *         ticks it got (the profiler must leave them alone)
 *     -T  install our own SIGTRAP handler (sigaction, SA_SIGINFO) and raise
 *         SIGTRAP every 10 rounds: in the first half of the rounds plainly,
 *         in the second with SIGTRAP blocked around a round of work and the
 *         raise; print "sigtrap GOT/RAISED" and exit 67 unless every one
 *         reached the handler, with si_code SI_TKILL
 *     -I  halfway through the first thread's rounds, ignore SIGTRAP with
 *         signal(); at the end, system() a shell that sends itself SIGTRAP
 *         and prints "trap ignored in child" if it survives
 * Prints "checksum N" (the same for a given -r and -t) to stdout.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNIT 20000u

#define LEAF(name, K)                                                                              \
    __attribute__((noinline, noclone)) uint64_t name(uint64_t n, uint64_t x)                       \
    {                                                                                              \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            x = x * 6364136223846793005ull + (K);                                                  \
            x ^= x >> 17;                                                                          \
        }                                                                                          \
        return x;                                                                                  \
    }

LEAF(leaf_a, 1442695040888963407ull)
LEAF(leaf_b, 1442695040888963409ull)
LEAF(leaf_c, 1442695040888963411ull)

static uint64_t units_a = 5, units_b = 3, units_c = 2;

__attribute__((noinline, noclone)) uint64_t work_ab(uint64_t x)
{
    x = leaf_a(units_a * UNIT, x);
    x = leaf_b(units_b * UNIT, x);
    return x + 1; /* not a tail call: work_ab stays on the stack */
}

__attribute__((noinline, noclone)) uint64_t work_c(uint64_t x)
{
    return leaf_c(units_c * UNIT, x) + 1;
}

static long rounds = 400;
static volatile sig_atomic_t prof_ticks;

static void on_prof(int sig)
{
    (void)sig;
    prof_ticks++;
}
static int heartbeat;
static volatile sig_atomic_t traps_got, traps_bad;
static int own_trap, ignore_trap;

static void on_trap(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (sig == SIGTRAP && si->si_code == SI_TKILL)
        traps_got++;
    else
        traps_bad++;
}

static void *run(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg;
    for (long r = 0; r < rounds; r++) {
        x = work_ab(x);
        x = work_c(x);
        if (own_trap && r % 10 == 0) {
            if (r < rounds / 2) {
                raise(SIGTRAP);
            } else {
                sigset_t trap;
                sigemptyset(&trap);
                sigaddset(&trap, SIGTRAP);
                pthread_sigmask(SIG_BLOCK, &trap, NULL);
                x = work_ab(x); /* a round of work: a sample falls in the block */
                x = work_c(x);
                raise(SIGTRAP);
                pthread_sigmask(SIG_UNBLOCK, &trap, NULL);
            }
        }
        if (ignore_trap && arg == (void *)1 && r == rounds / 2)
            signal(SIGTRAP, SIG_IGN);
        if (heartbeat && r % 50 == 0) {
            printf("heartbeat %ld\n", r);
            fflush(stdout);
        }
    }
    return (void *)(uintptr_t)x;
}

int main(int argc, char **argv)
{
    int threads = 1, fork_child = 0, status = 0, own_prof = 0;
    int opt;
    while ((opt = getopt(argc, argv, "r:t:u:fVx:bpTI")) != -1) {
        switch (opt) {
        case 'r':
            rounds = strtol(optarg, NULL, 10);
            break;
        case 't':
            threads = (int)strtol(optarg, NULL, 10);
            break;
        case 'f':
            fork_child = 1;
            break;
        case 'V':
            fork_child = 2;
            break;
        case 'x':
            status = (int)strtol(optarg, NULL, 10);
            break;
        case 'b':
            heartbeat = 1;
            break;
        case 'p':
            own_prof = 1;
            break;
        case 'T':
            own_trap = 1;
            break;
        case 'I':
            ignore_trap = 1;
            break;
        case 'u': {
            unsigned long a, b, c;
            if (sscanf(optarg, "%lu:%lu:%lu", &a, &b, &c) != 3)
                return 64;
            units_a = a;
            units_b = b;
            units_c = c;
            break;
        }
        default:
            return 64;
        }
    }
    if (threads < 1 || threads > 64 || rounds < 0)
        return 64;
    if (own_prof) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_prof;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGPROF, &sa, NULL);
        struct itimerval it = {{0, 10000}, {0, 10000}};
        setitimer(ITIMER_PROF, &it, NULL);
    }
    if (own_trap) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_trap;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGTRAP, &sa, NULL);
    }
    pid_t child = -1;
    if (fork_child) {
        char r[32];
        snprintf(r, sizeof(r), "%ld", rounds);
        child = fork_child == 2 ? vfork() : fork();
        if (child == 0) {
            execl("/proc/self/exe", argv[0], "-r", r, (char *)NULL);
            _exit(127);
        }
    }
    uint64_t sum = 0;
    pthread_t tids[64];
    for (int i = 1; i < threads; i++)
        pthread_create(&tids[i], NULL, run, (void *)(uintptr_t)(i + 1));
    sum += (uint64_t)(uintptr_t)run((void *)(uintptr_t)1);
    for (int i = 1; i < threads; i++) {
        void *ret;
        pthread_join(tids[i], &ret);
        sum += (uint64_t)(uintptr_t)ret;
    }
    if (child > 0) {
        int st = 0;
        waitpid(child, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return 65;
    }
    if (own_prof) {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_PROF, &off, NULL);
        printf("sigprof %d\n", (int)prof_ticks);
        if (prof_ticks == 0)
            return 66;
    }
    if (own_trap) {
        long raised = threads * ((rounds + 9) / 10);
        printf("sigtrap %d/%ld\n", (int)traps_got, raised);
        if (traps_got != raised || traps_bad)
            return 67;
    }
    if (ignore_trap) {
        fflush(stdout);
        if (system("kill -TRAP $$ && echo trap ignored in child") != 0)
            return 68;
    }
    printf("checksum %llu\n", (unsigned long long)sum);
    return status;
}
