package dev.lake.memory;

import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Process-wide accounting of the native memory Lake holds, and the leak safety net.
 *
 * <p>{@link #reservedBytes()} is exact at every moment: it is raised before a region's memory is handed out
 * and lowered after it is freed, so a test can check it returns to its baseline after {@code close()}.
 *
 * <p>Leaks: a {@link Region} (or a handle built on one) that becomes unreachable without being closed is
 * still freed by a {@link Cleaner}, and counted in {@link #leaks()}. With leak tracking on
 * ({@link #setLeakTracking(boolean)} or {@code -Dlake.leakTracking=true}) every allocation records its call
 * site, and {@link #leakReports()} returns where each leaked allocation was made. Tracking costs one stack
 * capture per allocation, so it is off by default.
 */
public final class NativeMemory
{
    /** How many leak reports are kept; older ones are dropped. */
    public static final int MAX_REPORTS = 64;

    private static final AtomicLong RESERVED_BYTES = new AtomicLong();
    private static final AtomicLong LIVE_REGIONS = new AtomicLong();
    private static final AtomicLong LEAKS = new AtomicLong();
    private static final ArrayDeque<LeakReport> REPORTS = new ArrayDeque<>();
    /**
     * Started by the first {@link #cleaner()} call, not when the class loads: {@code Cleaner.create()} starts a thread,
     * which the operating system may refuse (no room for its stack, a thread limit), and a class whose initializer
     * threw is failed for good, so the first region of a JVM met at such a moment leaked its memory and every later
     * use of Lake threw {@link NoClassDefFoundError}.
     */
    private static volatile Cleaner cleaner;
    private static volatile boolean leakTracking = Boolean.getBoolean("lake.leakTracking");

    private NativeMemory()
    {
    }

    /**
     * @return native bytes currently held by Lake, alignment padding included. Exact at every moment.
     */
    public static long reservedBytes()
    {
        return RESERVED_BYTES.get();
    }

    /**
     * @return native regions currently allocated and not yet freed.
     */
    public static long liveRegions()
    {
        return LIVE_REGIONS.get();
    }

    /**
     * @return how many regions or handles were reclaimed by the safety net instead of being closed.
     */
    public static long leaks()
    {
        return LEAKS.get();
    }

    /**
     * @return the most recent leak reports (at most {@link #MAX_REPORTS}), oldest first.
     */
    public static List<LeakReport> leakReports()
    {
        synchronized (REPORTS)
        {
            return List.copyOf(REPORTS);
        }
    }

    /**
     * Switches recording of allocation sites on or off for allocations made from now on.
     *
     * @param enabled whether to record where each region and handle was allocated.
     */
    public static void setLeakTracking(final boolean enabled)
    {
        leakTracking = enabled;
    }

    /**
     * @return whether allocation sites are recorded.
     */
    public static boolean isLeakTracking()
    {
        return leakTracking;
    }

    /**
     * Captures the caller's stack when leak tracking is on.
     *
     * @param what a short description of what is being allocated.
     * @return the allocation site, or {@code null} when tracking is off (no cost).
     */
    public static Throwable allocationSite(final String what)
    {
        return leakTracking ? new Throwable(what + " allocated here") : null;
    }

    /**
     * The shared cleaner of the safety net. Allocators register their cleanup actions here; an action must
     * not reference the object it cleans up after.
     *
     * @return the process-wide cleaner.
     * @throws OutOfMemoryError if the cleaner's thread, started by the first call, is refused by the operating system;
     *                          nothing is started then, and a later call tries again.
     */
    public static Cleaner cleaner()
    {
        final Cleaner started = cleaner;
        return started != null ? started : startCleaner();
    }

    private static synchronized Cleaner startCleaner()
    {
        Cleaner started = cleaner;
        if (started == null)
        {
            started = Cleaner.create();
            cleaner = started;
        }
        return started;
    }

    /**
     * Counts one leak: something was reclaimed by the safety net instead of being released. Never throws: the count
     * comes first and stands; the report and the log line are best effort (a logging backend that fails, with any
     * exception or error, is ignored, and on a full heap the report, not the count, may be lost).
     *
     * @param what  what leaked (for example {@code "Region[1024 B]"}).
     * @param bytes how many bytes it held.
     * @param site  where it was allocated, or {@code null} when leak tracking was off.
     */
    public static void recordLeak(final String what, final long bytes, final Throwable site)
    {
        LEAKS.incrementAndGet();
        try
        {
            final LeakReport report = new LeakReport(what, bytes, site);
            synchronized (REPORTS)
            {
                if (REPORTS.size() == MAX_REPORTS)
                {
                    REPORTS.removeFirst();
                }
                REPORTS.addLast(report);
            }
        }
        catch (final Throwable ex)
        {
            // a full heap refusing the report must not break the cleaner or an allocator's reclaim (its caller
            // frees or returns the memory after this): the count stands, and the pool's leak drain runs on the
            // allocation path, in a loop over the reclaimed handles. Any Throwable, as in LakeLog
        }
        try
        {
            LakeLog.log(System.Logger.Level.WARNING, "Lake leak: ", what, site != null ?
                " was not closed; the safety net freed it" :
                " was not closed; the safety net freed it (-Dlake.leakTracking=true shows where it was made)", site);
        }
        catch (final Throwable unreached)
        {
            // LakeLog's first call in the JVM, refused by a full heap (see LakeLog.log): the count stands
        }
    }

    static void reserved(final long bytes)
    {
        RESERVED_BYTES.addAndGet(bytes);
        LIVE_REGIONS.incrementAndGet();
    }

    static void released(final long bytes)
    {
        RESERVED_BYTES.addAndGet(-bytes);
        LIVE_REGIONS.decrementAndGet();
    }

    /**
     * One leak caught by the safety net.
     *
     * @param what           what leaked.
     * @param bytes          bytes it held.
     * @param allocationSite where it was allocated, or {@code null} when leak tracking was off.
     */
    public record LeakReport(String what, long bytes, Throwable allocationSite)
    {
    }
}
