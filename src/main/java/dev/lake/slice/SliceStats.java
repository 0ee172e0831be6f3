package dev.lake.slice;

/**
 * A snapshot of a {@link SliceAllocator}'s memory. Each field is read atomically; while other threads release
 * slices the fields may come from slightly different moments, and they agree exactly whenever the allocator is
 * quiescent.
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
