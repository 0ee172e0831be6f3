package dev.lake.pool;

import jdk.jfr.DataAmount;
import jdk.jfr.Label;
import jdk.jfr.Timespan;

/**
 * The JDK Flight Recorder fields both arenas publish (JFR records the fields of an event's superclasses), so that
 * {@link FixedArenaMetricsEvent} and {@link BuddyArenaMetricsEvent} name and fill them once.
 */
abstract class SlotArenaMetricsEvent extends jdk.jfr.Event
{
    @Label("Arena")
    String arena;

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

    @Label("Waiters")
    int waiters;

    @Label("Waits Completed")
    long waitsCompleted;

    @Label("Waits Timed Out")
    long waitsTimedOut;

    @Label("Waits Cancelled")
    long waitsCancelled;

    @Label("Waits Failed")
    long waitsFailed;

    @Label("Total Wait Time")
    @Timespan(Timespan.NANOSECONDS)
    long totalWaitNanos;

    /** Fills the shared fields from one snapshot's figures. */
    final void setCommon(final String name, final long allocations, final long failedAllocations, final long frees,
        final long frozen, final long spills, final long leaks, final long bytesReserved, final long bytesLive,
        final WaitMetrics waits)
    {
        this.arena = name;
        this.allocations = allocations;
        this.failedAllocations = failedAllocations;
        this.frees = frees;
        this.frozen = frozen;
        this.spills = spills;
        this.leaks = leaks;
        this.bytesReserved = bytesReserved;
        this.bytesLive = bytesLive;
        this.waiters = waits.waiters();
        this.waitsCompleted = waits.completed();
        this.waitsTimedOut = waits.timedOut();
        this.waitsCancelled = waits.cancelled();
        this.waitsFailed = waits.failed();
        this.totalWaitNanos = waits.totalWaitNanos();
    }
}
