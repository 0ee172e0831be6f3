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
 * {@value #NAME} (default period 1 s). The hook is removed when the arena closes, or by the safety net when the
 * arena is collected without being closed.
 */
@Name(FixedArenaMetricsEvent.NAME)
@Label("Lake FixedArena Metrics")
@Category({"Lake", "Pool"})
@Description("Periodic snapshot of a Lake FixedArena: allocations, failures, frees, spills, leaks, live capacity, waiters")
@Period("1 s")
@StackTrace(false)
public final class FixedArenaMetricsEvent extends SlotArenaMetricsEvent
{
    /** The event's JFR name. */
    public static final String NAME = "dev.lake.pool.FixedArenaMetrics";

    @Label("Slot Count")
    int slotCount;

    @Label("Slot Capacity")
    @DataAmount
    int slotCapacity;

    @Label("Live Slots")
    int liveSlots;

    FixedArenaMetricsEvent()
    {
    }

    void set(final FixedArenaMetrics m)
    {
        setCommon(m.name(), m.allocations(), m.failedAllocations(), m.frees(), m.frozen(), m.spills(), m.leaks(),
            m.bytesReserved(), m.bytesLive(), m.waits());
        slotCount = m.slotCount();
        slotCapacity = m.slotCapacity();
        liveSlots = m.liveSlots();
    }
}
