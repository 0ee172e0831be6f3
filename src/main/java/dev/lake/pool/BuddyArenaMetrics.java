package dev.lake.pool;

import java.util.Arrays;
import java.util.Objects;

/**
 * A snapshot of a {@link BuddyArena}, taken after flushing its free-block cache, so the free figures describe
 * fully coalesced memory. Every figure is exact once the threads using the arena are quiet; while they run, each
 * is a recent value.
 *
 * @param name              the arena's name.
 * @param totalBytes        the region's size: the largest block.
 * @param minBlock          the smallest block (order 0).
 * @param maxOrder          the order of the whole region ({@code totalBytes == minBlock << maxOrder}).
 * @param allocations       successful allocations (object and handle tier).
 * @param failedAllocations allocations refused because no block was free (or requests were waiting).
 * @param frees             blocks returned (last release, close of an unfrozen buffer, spill, leak reclaim).
 * @param frozen            buffers and handles frozen (including spilled buffers frozen on the heap).
 * @param spills            buffers that outgrew their block and moved to the heap (auto-spill).
 * @param leaks             allocations reclaimed by the safety net.
 * @param bytesReserved     native bytes the region holds (its size; the alignment padding that
 *                          {@code NativeMemory.reservedBytes()} also counts is not included); 0 once freed.
 * @param bytesLive         bytes in live blocks: {@code totalBytes - freeBytes}.
 * @param liveBlocks        live allocations: {@code allocations - frees}, exact when quiet; read while other
 *                          threads allocate and free, never negative and never above the arena's minimum blocks,
 *                          but it may count allocations made during the snapshot as live.
 * @param splits            blocks split in two to serve a smaller request.
 * @param coalesces         pairs of free buddies merged into their parent.
 * @param largestFreeBlock  the largest free block in bytes (0 when none): the largest request that succeeds now.
 * @param freeBytes         free bytes in all ({@code totalBytes} when nothing is live: one free block).
 * @param freeBytesPerOrder free bytes in blocks of each order, index = order (block size {@code minBlock << k}).
 * @param waits             requests waiting for capacity, and how past waits ended.
 */
public record BuddyArenaMetrics(
    String name,
    int totalBytes,
    int minBlock,
    int maxOrder,
    long allocations,
    long failedAllocations,
    long frees,
    long frozen,
    long spills,
    long leaks,
    long bytesReserved,
    long bytesLive,
    long liveBlocks,
    long splits,
    long coalesces,
    int largestFreeBlock,
    long freeBytes,
    long[] freeBytesPerOrder,
    WaitMetrics waits)
{
    /**
     * @param name              the arena's name.
     * @param totalBytes        the region's size.
     * @param minBlock          the smallest block.
     * @param maxOrder          the order of the whole region.
     * @param allocations       successful allocations.
     * @param failedAllocations refused allocations.
     * @param frees             blocks returned.
     * @param frozen            buffers and handles frozen.
     * @param spills            buffers moved to the heap.
     * @param leaks             allocations reclaimed by the safety net.
     * @param bytesReserved     native bytes held.
     * @param bytesLive         bytes in live blocks.
     * @param liveBlocks        live allocations.
     * @param splits            blocks split.
     * @param coalesces         buddies merged.
     * @param largestFreeBlock  the largest free block.
     * @param freeBytes         free bytes in all.
     * @param freeBytesPerOrder free bytes per order (copied).
     * @param waits             the waiting figures.
     */
    public BuddyArenaMetrics
    {
        freeBytesPerOrder = freeBytesPerOrder.clone();
    }

    /**
     * @return free bytes in blocks of each order (a copy), index = order.
     */
    @Override
    public long[] freeBytesPerOrder()
    {
        return freeBytesPerOrder.clone();
    }

    /**
     * Value equality, as for any record, with {@link #freeBytesPerOrder()} compared by its contents: a record
     * compares an array field by identity, and every snapshot holds its own copy, so two snapshots with the same
     * figures were never equal.
     *
     * @param other another object.
     * @return whether it is a {@code BuddyArenaMetrics} with the same figures.
     */
    @Override
    public boolean equals(final Object other)
    {
        if (this == other)
        {
            return true;
        }
        if (!(other instanceof BuddyArenaMetrics))
        {
            return false;
        }
        final BuddyArenaMetrics m = (BuddyArenaMetrics)other;
        return totalBytes == m.totalBytes && minBlock == m.minBlock && maxOrder == m.maxOrder &&
            allocations == m.allocations && failedAllocations == m.failedAllocations && frees == m.frees &&
            frozen == m.frozen && spills == m.spills && leaks == m.leaks && bytesReserved == m.bytesReserved &&
            bytesLive == m.bytesLive && liveBlocks == m.liveBlocks && splits == m.splits &&
            coalesces == m.coalesces && largestFreeBlock == m.largestFreeBlock && freeBytes == m.freeBytes &&
            Objects.equals(name, m.name) && Arrays.equals(freeBytesPerOrder, m.freeBytesPerOrder) &&
            Objects.equals(waits, m.waits);
    }

    /**
     * @return a hash consistent with {@link #equals(Object)} (the per-order figures by their contents).
     */
    @Override
    public int hashCode()
    {
        return 31 * Objects.hash(name, totalBytes, minBlock, maxOrder, allocations, failedAllocations, frees, frozen,
            spills, leaks, bytesReserved, bytesLive, liveBlocks, splits, coalesces, largestFreeBlock, freeBytes,
            waits) + Arrays.hashCode(freeBytesPerOrder);
    }

    /**
     * @return every figure, the per-order free bytes as a list of numbers (not an array's identity).
     */
    @Override
    public String toString()
    {
        return "BuddyArenaMetrics[name=" + name + ", totalBytes=" + totalBytes + ", minBlock=" + minBlock +
            ", maxOrder=" + maxOrder + ", allocations=" + allocations + ", failedAllocations=" + failedAllocations +
            ", frees=" + frees + ", frozen=" + frozen + ", spills=" + spills + ", leaks=" + leaks +
            ", bytesReserved=" + bytesReserved + ", bytesLive=" + bytesLive + ", liveBlocks=" + liveBlocks +
            ", splits=" + splits + ", coalesces=" + coalesces + ", largestFreeBlock=" + largestFreeBlock +
            ", freeBytes=" + freeBytes + ", freeBytesPerOrder=" + Arrays.toString(freeBytesPerOrder) +
            ", waits=" + waits + "]";
    }

    /**
     * @return whether the arena is one free block: nothing live and everything coalesced.
     */
    public boolean fullyCoalesced()
    {
        return largestFreeBlock == totalBytes;
    }
}
