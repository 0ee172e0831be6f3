package dev.lake.pool;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * The figures of {@link BuddyArenaMetrics} as a periodic JDK Flight Recorder event, for watching pressure and
 * fragmentation over time (watch {@code largestFreeBlock} against {@code freeBytes}). Off by default: an arena
 * registers its hook only when built with {@link BuddyArena.Builder#jfrEvents(boolean)}; the hook costs nothing
 * unless a recording enables {@value #NAME} (default period 1 s) and is removed when the arena closes (or
 * by the safety net when it is collected without being closed). Taking the
 * snapshot flushes the arena's free-block cache (under its lock).
 */
@Name(BuddyArenaMetricsEvent.NAME)
@Label("Lake BuddyArena Metrics")
@Category({"Lake", "Pool"})
@Description("Periodic snapshot of a Lake BuddyArena: allocations, splits, coalesces, free and largest free block, waiters")
@Period("1 s")
@StackTrace(false)
public final class BuddyArenaMetricsEvent extends SlotArenaMetricsEvent
{
    /** The event's JFR name. */
    public static final String NAME = "dev.lake.pool.BuddyArenaMetrics";

    @Label("Total Bytes")
    @DataAmount
    int totalBytes;

    @Label("Minimum Block")
    @DataAmount
    int minBlock;

    @Label("Max Order")
    int maxOrder;

    @Label("Live Blocks")
    long liveBlocks;

    @Label("Splits")
    long splits;

    @Label("Coalesces")
    long coalesces;

    @Label("Largest Free Block")
    @DataAmount
    int largestFreeBlock;

    @Label("Free Bytes")
    @DataAmount
    long freeBytes;

    @Label("Free Bytes Per Order")
    @Description("order:bytes pairs for the orders with free blocks")
    String freeBytesPerOrder;

    BuddyArenaMetricsEvent()
    {
    }

    void set(final BuddyArenaMetrics m)
    {
        setCommon(m.name(), m.allocations(), m.failedAllocations(), m.frees(), m.frozen(), m.spills(), m.leaks(),
            m.bytesReserved(), m.bytesLive(), m.waits());
        totalBytes = m.totalBytes();
        minBlock = m.minBlock();
        maxOrder = m.maxOrder();
        liveBlocks = m.liveBlocks();
        splits = m.splits();
        coalesces = m.coalesces();
        largestFreeBlock = m.largestFreeBlock();
        freeBytes = m.freeBytes();
        final StringBuilder perOrder = new StringBuilder();
        final long[] bytes = m.freeBytesPerOrder();
        for (int k = 0; k < bytes.length; k++)
        {
            if (bytes[k] != 0)
            {
                perOrder.append(perOrder.length() == 0 ? "" : ",").append(k).append(':').append(bytes[k]);
            }
        }
        freeBytesPerOrder = perOrder.toString();
    }
}
