/*
 * ring.h — sampling without a signal. Per-CPU perf events, inherited by
 * every thread the process creates later, write each sample's user
 * registers and a copy of the top of its stack into ring buffers; a reader
 * thread of the runtime's own unwinds the copies with libunwind and hands
 * each stack to a sink. The sampled threads only pay the kernel's copy.
 */
#ifndef PPRT_RING_H
#define PPRT_RING_H

#include <stddef.h>
#include <stdint.h>

struct rt_ring;

/* Where unwound stacks go (leaf first; `cut`: the stack goes on deeper than
 * the copy reached); called from the reader thread, or from whichever
 * thread pauses the ring. */
typedef void (*rt_ring_sink)(void *const *pcs, uint32_t depth, int cut, void *ctx);

struct rt_ring_config {
    unsigned hz;          /* samples per CPU-second per thread */
    unsigned stack_bytes; /* of each thread's stack copied per sample */
    rt_ring_sink sink;
    void *ctx;
    void (*idle)(void); /* called by the reader between reads, every signal blocked */
};

/* Start sampling the calling thread and every thread it creates from now
 * on (not forked children). It must be the process's only thread. NULL,
 * with the reason in `why`, when the kernel or the limits do not allow it. */
struct rt_ring *rt_ring_start(const struct rt_ring_config *config, char *why, size_t why_size);

/* Unwind every sample taken so far and leave the later ones unread (before
 * exec and at exit); rt_ring_resume reads on (after a failed exec). */
void rt_ring_pause(struct rt_ring *ring);
void rt_ring_resume(struct rt_ring *ring);

/* The main thread is calling pthread_exit: once every other thread of the
 * program has ended too, the reader ends the process (exit(0)). */
void rt_ring_main_exits(struct rt_ring *ring);

/* Around fork: the reader holds no lock a child would inherit taken (its
 * own, the loader's). In the child, rt_ring_forget instead of
 * rt_ring_fork_parent: the rings and the reader were the parent's; it
 * frees what the child got of them. */
void rt_ring_fork_prepare(struct rt_ring *ring);
void rt_ring_fork_parent(struct rt_ring *ring);
void rt_ring_forget(struct rt_ring *ring);

/* Samples the kernel dropped because a ring was full, since the last call. */
uint64_t rt_ring_take_lost(struct rt_ring *ring);

#endif
