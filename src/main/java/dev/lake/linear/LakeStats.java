package dev.lake.linear;

/**
 * An immutable snapshot of a lake's or view's counters, taken by {@link LakeAllocator#stats()}. The numbers
 * are exact at the moment of the call; once the allocator is closed or invalid, {@code used} and
 * {@code remaining} are 0.
 *
 * @param used       bytes between the start and the current position (alignment padding included).
 * @param remaining  bytes between the current position and the end.
 * @param capacity   total bytes of the lake or view.
 * @param generation how many times the position moved back (rewind, reset, reset-to-mark, sandbox rollback,
 *                   droplet or view auto-rewind); every such move may invalidate droplets.
 * @param marks      depth of the mark stack.
 * @param sandboxes  sandboxes open (neither committed, rolled back nor invalidated).
 */
public record LakeStats(int used, int remaining, int capacity, long generation, int marks, int sandboxes)
{
}
