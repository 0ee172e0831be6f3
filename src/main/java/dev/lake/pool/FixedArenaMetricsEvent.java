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
 * The figures of {@link FixedArenaMetrics} as a periodic JDK Flight Recorder event, for watching pool pressure
 * over time in JDK Mission Control. Off by default: an arena registers its hook only when built with
 * {@link FixedArena.Builder#jfrEvents(boolean)}, and the hook costs nothing unless a recording enables
 * {@value #NAME} (default period 1 s). The hook is removed when the arena closes.
 */
@Name(FixedArenaMetricsEvent.NAME)
@Label("Lake FixedArena Metrics")
@Category({"Lake", "Pool"})
@Description("Periodic snapshot of a Lake FixedArena: allocations, failures, frees, spills, leaks, live capacity, waiters")
@Period("1 s")
@StackTrace(false)
public final class FixedArenaMetricsEvent extends jdk.jfr.Event
{
    /** The event's JFR name. */
    public static final String NAME = "dev.lake.pool.FixedArenaMetrics";

    @Label("Arena")
    String arena;

    @Label("Slot Count")
    int slotCount;

    @Label("Slot Capacity")
    @DataAmount
    int slotCapacity;

    @Label("Allocations")
    long allocations;

    @Label("Failed Allocations")
    long failedAllocations;

    @Label("Frees")
    long frees;

    @Label("Frozen")
    long frozen;

    @Label("Spills")
    long spills;

    @Label("Leaks")
    long leaks;

    @Label("Bytes Reserved")
    @DataAmount
    long bytesReserved;

    @Label("Bytes Live")
    @DataAmount
    long bytesLive;

    @Label("Live Slots")
    int liveSlots;

    @Label("Cached Slots")
    int cachedSlots;

    @Label("Waiters")
    int waiters;

    @Label("Waits Completed")
    long waitsCompleted;

    @Label("Waits Timed Out")
    long waitsTimedOut;

    @Label("Total Wait Time")
    @Timespan(Timespan.NANOSECONDS)
    long totalWaitNanos;

    FixedArenaMetricsEvent()
    {
    }

    void set(final FixedArenaMetrics m)
    {
        arena = m.name();
        slotCount = m.slotCount();
        slotCapacity = m.slotCapacity();
        allocations = m.allocations();
        failedAllocations = m.failedAllocations();
        frees = m.frees();
        frozen = m.frozen();
        spills = m.spills();
        leaks = m.leaks();
        bytesReserved = m.bytesReserved();
        bytesLive = m.bytesLive();
        liveSlots = m.liveSlots();
        cachedSlots = m.cachedSlots();
        waiters = m.waits().waiters();
        waitsCompleted = m.waits().completed();
        waitsTimedOut = m.waits().timedOut();
        totalWaitNanos = m.waits().totalWaitNanos();
    }
}
