package dev.lake.linear;

/**
 * An O(1) snapshot of an {@link Arena}'s use, from {@link Arena#stats()}.
 *
 * @param bytesAllocated bytes allocated, alignment padding included.
 * @param bytesReserved  bytes held in blocks (in use or kept for reuse); native overhead for alignment not
 *                       included (see {@link dev.lake.memory.NativeMemory#reservedBytes()} for that).
 * @param blockCount     blocks held.
 */
public record ArenaStats(long bytesAllocated, long bytesReserved, int blockCount)
{
    /**
     * @return {@code bytesAllocated / bytesReserved}, 0 when nothing is reserved.
     */
    public double utilization()
    {
        return bytesReserved == 0 ? 0.0 : (double)bytesAllocated / bytesReserved;
    }

    /**
     * @return {@code bytesReserved - bytesAllocated}: free space in blocks and the idle tails of blocks the
     * arena moved away from.
     */
    public long bytesIdle()
    {
        return bytesReserved - bytesAllocated;
    }
}
