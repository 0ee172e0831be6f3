package dev.lake.slice;

/**
 * A snapshot of a {@link SliceAllocator}'s memory. While other threads allocate or release, the fields may come from
 * slightly different moments, and they agree exactly whenever the allocator is quiescent. Each field on its own is a
 * figure the allocator had: {@code liveSliceBytes} (allocated bytes minus released bytes, two counters) is read when
 * no allocation comes in between, so it lies between the live bytes at the start and at the end of the snapshot, and
 * is never negative; only under an allocation load that gives it no such moment in 32 tries may it count a slice
 * released during the snapshot as still live.
 *
 * @param liveChunks      chunks not yet freed (current, shared by live slices, or pinned by leaked handles).
 * @param reservedBytes   bytes of those chunks (their region sizes).
 * @param liveSliceBytes  element bytes of slices that still have at least one handle or reference (headers and
 *                        padding not counted).
 * @param wastedTailBytes bytes at the end of live chunks the allocator abandoned (the seed's "extra memory
 *                        overhead"); they come back when the chunk is freed.
 * @param slicesAllocated slices allocated over the allocator's life (empty ones not counted).
 */
public record SliceStats(long liveChunks, long reservedBytes, long liveSliceBytes, long wastedTailBytes,
    long slicesAllocated)
{
}
