package dev.lake.pool;

/**
 * A snapshot of a {@link FixedArena}. Every figure is exact once the threads using the arena are quiet; while
 * they run, each figure is a recent value (they are summed one after another, not frozen together).
 *
 * @param name               the arena's name.
 * @param slotCount          slots in the arena.
 * @param slotCapacity       bytes per slot (after rounding to the alignment).
 * @param allocations        successful allocations (object and handle tier).
 * @param failedAllocations  immediate allocations refused because the arena was full (or requests were waiting:
 *                           their slots are reserved); a request that waits is not a failure.
 * @param frees              slots returned (last release, close of an unfrozen buffer, spill, leak reclaim).
 * @param frozen             buffers and handles frozen (including spilled buffers frozen on the heap).
 * @param spills             buffers that outgrew their slot and moved to the heap (auto-spill).
 * @param leaks              allocations reclaimed by the safety net because every handle became unreachable
 *                           without release.
 * @param bytesReserved      native bytes the arena's region holds (its size; the alignment padding that
 *                           {@code NativeMemory.reservedBytes()} also counts is not included); 0 once freed.
 * @param bytesLive          capacity held by live slots: {@code liveSlots * slotCapacity}.
 * @param liveSlots          slots in use now: {@code allocations - frees} when quiet.
 * @param waits              requests waiting for a slot, and how past waits ended.
 */
public record FixedArenaMetrics(
    String name,
    int slotCount,
    int slotCapacity,
    long allocations,
    long failedAllocations,
    long frees,
    long frozen,
    long spills,
    long leaks,
    long bytesReserved,
    long bytesLive,
    int liveSlots,
    WaitMetrics waits)
{
}
